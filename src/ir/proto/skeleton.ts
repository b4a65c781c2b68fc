import * as fs from 'node:fs';

/**
 * A big model file read without holding it whole: the ModelProto is walked through the file descriptor,
 * every field is copied except the large `raw_data` of the main graph's initializers, which become
 * external-data references to the file itself (location SELF_LOCATION, offset, length). Decoding the
 * skeleton then reads each of those tensors into its own buffer, so a weight that a pass replaces (a
 * quantized MatMul weight) can be freed on its own, where a view into one whole-file buffer keeps all of
 * it alive until the last weight goes.
 *
 * Returns undefined when the file is not a plain, well-formed ModelProto walk (groups, lengths past the
 * end…): the caller then reads it whole, and the decoder reports what is wrong exactly as before.
 */

export const SELF_LOCATION = '\u0000inferopt:self';

const WINDOW = 1 << 20;

class FileCursor {
  private buf = Buffer.allocUnsafe(WINDOW);
  private bufStart = 0;
  private bufEnd = 0;
  pos = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  private fill(at: number): void {
    const n = fs.readSync(this.fd, this.buf, 0, WINDOW, at);
    this.bufStart = at;
    this.bufEnd = at + n;
  }

  byte(): number {
    if (this.pos >= this.size) throw new Malformed();
    if (this.pos < this.bufStart || this.pos >= this.bufEnd) this.fill(this.pos);
    if (this.pos >= this.bufEnd) throw new Malformed();
    return this.buf[this.pos++ - this.bufStart]!;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new Malformed();
  }

  /** A copy of bytes [from, to). */
  copy(from: number, to: number): Uint8Array {
    if (to > this.size || from > to) throw new Malformed();
    const out = new Uint8Array(to - from);
    let done = 0;
    while (done < out.length) {
      const n = fs.readSync(this.fd, out, done, out.length - done, from + done);
      if (n === 0) throw new Malformed();
      done += n;
    }
    return out;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 5) this.pos += 4;
    else if (wireType === 2) this.pos += this.varint();
    else throw new Malformed(); // groups (3, 4) and unknown wire types
    if (this.pos > this.size) throw new Malformed();
  }
}

class Malformed extends Error {}

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

const enc = new TextEncoder();

function lenField(field: number, payload: Uint8Array[]): Uint8Array[] {
  const length = payload.reduce((a, b) => a + b.length, 0);
  return [Uint8Array.from([...varintBytes((field << 3) | 2), ...varintBytes(length)]), ...payload];
}

function entry(key: string, value: string): Uint8Array[] {
  return lenField(13, [...lenField(1, [enc.encode(key)]), ...lenField(2, [enc.encode(value)])]);
}

type Level = 'model' | 'graph' | 'tensor';

/** Copies the message in [cursor.pos, end), descending into ModelProto.graph and GraphProto.initializer. */
function walk(c: FileCursor, end: number, level: Level, minRaw: number, found: { count: number }): Uint8Array[] {
  const out: Uint8Array[] = [];
  let external: { offset: number; length: number } | undefined;
  while (c.pos < end) {
    const start = c.pos;
    const tag = c.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (wt !== 2) {
      c.skip(wt);
      out.push(c.copy(start, c.pos));
      continue;
    }
    const length = c.varint();
    const payload = c.pos;
    if (payload + length > end) throw new Malformed();
    const child: Level | undefined = level === 'model' && field === 7 ? 'graph' : level === 'graph' && field === 5 ? 'tensor' : undefined;
    if (child) {
      out.push(...lenField(field, walk(c, payload + length, child, minRaw, found)));
    } else if (level === 'tensor' && field === 9 && (length >= minRaw || external)) {
      if (external) throw new Malformed(); // raw_data twice: the last wins, as the whole-file decoder has it
      external = { offset: payload, length };
      c.pos = payload + length;
    } else {
      c.pos = payload + length;
      out.push(c.copy(start, c.pos));
    }
  }
  if (c.pos !== end) throw new Malformed();
  if (external) {
    found.count++;
    out.push(...entry('location', SELF_LOCATION), ...entry('offset', String(external.offset)), ...entry('length', String(external.length)));
    out.push(Uint8Array.from([14 << 3, 1])); // data_location = EXTERNAL (the last value of a field wins)
  }
  return out;
}

/** The skeleton of the ModelProto in an open file (see above), or undefined. */
export function readSkeleton(fd: number, size: number, minRaw = 1 << 20): Uint8Array | undefined {
  const c = new FileCursor(fd, size);
  const found = { count: 0 };
  let parts: Uint8Array[];
  try {
    parts = walk(c, size, 'model', minRaw, found);
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
  if (!found.count) return undefined;
  return Buffer.concat(parts);
}
