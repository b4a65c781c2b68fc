/**
 * Protocol-buffer wire format, just enough for ONNX: a zero-copy reader (bytes fields are views into the
 * input) and a chunked writer whose large byte fields are referenced, never copied, until they reach disk.
 */

import { MAX_NESTING } from '../../util/limits.js';
export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

const TWO_32 = 4294967296;
const INT64_MAX_AS_NUMBER = 9223372036854775807; // rounds to 2^63

export class ProtoError extends Error {}

export class Reader {
  pos: number;
  /** Wire type of the field whose tag was read last and whose value is not read yet (-1: none). */
  private fieldWt = -1;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    /** How many messages enclose this one (the model is 0). */
    readonly depth = 0,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a varint as an unsigned number (exact below 2^53). */
  uvarint(): number {
    const buf = this.buf;
    let lo = 0;
    let shift = 0;
    let b: number;
    // first 4 bytes: 28 bits, safe for 32-bit integer ops
    for (let i = 0; i < 4; i++) {
      if (this.pos >= this.end) throw new ProtoError('truncated varint');
      b = buf[this.pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo >>> 0;
      shift += 7;
    }
    let result = lo >>> 0;
    let mul = 268435456; // 2^28
    for (let i = 4; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError('truncated varint');
      b = buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new ProtoError('varint too long');
  }

  /** Reads an int64 varint as a number (two's complement; values beyond 2^53 lose precision). */
  int64(): number {
    this.expect(WireType.Varint);
    const start = this.pos;
    const u = this.uvarint();
    if (this.pos - start < 10) return u; // positive: fewer than 10 bytes
    // negative: 10 bytes, reinterpret as two's complement via BigInt for exactness
    return Number(BigInt.asIntN(64, this.bigAt(start)));
  }

  private bigAt(start: number): bigint {
    let r = 0n;
    let shift = 0n;
    for (let p = start; p < this.pos; p++) {
      r |= BigInt(this.buf[p]! & 0x7f) << shift;
      shift += 7n;
    }
    return r;
  }

  /** int32 fields are encoded sign-extended to 64 bits. */
  int32(): number {
    return this.int64() | 0;
  }

  /** An unsigned 64-bit varint field (uint64_data). */
  uint64(): number {
    this.expect(WireType.Varint);
    return this.uvarint();
  }

  fixed32(): number {
    this.expect(WireType.Fixed32);
    return this.rawFixed32();
  }

  private rawFixed32(): number {
    if (this.pos + 4 > this.end) throw new ProtoError('truncated fixed32');
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  float(): number {
    this.expect(WireType.Fixed32);
    if (this.pos + 4 > this.end) throw new ProtoError('truncated float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.expect(WireType.Fixed64);
    if (this.pos + 8 > this.end) throw new ProtoError('truncated double');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  fixed64(): number {
    this.expect(WireType.Fixed64);
    const lo = this.rawFixed32();
    const hi = this.rawFixed32();
    return hi * TWO_32 + lo;
  }

  /** A length-delimited field as a view (no copy). */
  bytes(): Uint8Array {
    this.expect(WireType.Bytes);
    const len = this.uvarint();
    if (this.pos + len > this.end) throw new ProtoError('truncated length-delimited field');
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  string(): string {
    return textDecoder.decode(this.bytes());
  }

  /** A sub-reader over a length-delimited field. */
  sub(): Reader {
    this.expect(WireType.Bytes);
    const len = this.uvarint();
    if (this.pos + len > this.end) throw new ProtoError('truncated embedded message');
    if (this.depth >= MAX_NESTING) throw new ProtoError(`messages nested more than ${MAX_NESTING} levels deep (the limit of protobuf's parser and of inferopt)`);
    const r = new Reader(this.buf, this.pos, this.pos + len, this.depth + 1);
    this.pos += len;
    return r;
  }

  /** Reads a tag; returns [field, wireType]. */
  tag(): [number, WireType] {
    const t = this.uvarint();
    const field = Math.floor(t / 8);
    if (field === 0) throw new ProtoError('invalid field number 0');
    const wt = t & 7;
    // 3/4 are proto2 groups (never in ONNX), 6/7 do not exist
    if (wt !== WireType.Varint && wt !== WireType.Fixed64 && wt !== WireType.Bytes && wt !== WireType.Fixed32) throw new ProtoError(`invalid wire type ${wt} (field ${field})`);
    this.fieldWt = wt;
    return [field, wt as WireType];
  }

  /**
   * A field's value must be read as the wire type its tag declares: a known field number with another wire
   * type (a bit flip in the tag) would otherwise be read as garbage of the right field.
   */
  private expect(wt: WireType): void {
    if (this.fieldWt !== -1 && this.fieldWt !== wt) throw new ProtoError(`field encoded with wire type ${this.fieldWt}, expected ${wt as number}`);
    this.fieldWt = -1;
  }

  /** Skips a field's value and returns the raw bytes of tag + value (for lossless pass-through). */
  skip(wt: WireType, tagStart: number): Uint8Array {
    this.fieldWt = -1;
    switch (wt) {
      case WireType.Varint:
        this.uvarint();
        break;
      case WireType.Fixed64:
        this.pos += 8;
        break;
      case WireType.Bytes: {
        const len = this.uvarint();
        this.pos += len;
        break;
      }
      case WireType.Fixed32:
        this.pos += 4;
        break;
      default:
        throw new ProtoError(`unsupported wire type ${wt as number}`);
    }
    if (this.pos > this.end) throw new ProtoError('truncated field');
    return this.buf.subarray(tagStart, this.pos);
  }

  /** Reads a repeated scalar field in packed or unpacked form, pushing values to `out`. */
  repeated(wt: WireType, read: (r: Reader) => number, out: number[]): void {
    if (wt === WireType.Bytes) {
      const r = this.sub();
      while (!r.done) out.push(read(r));
    } else {
      out.push(read(this));
    }
  }
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** Byte fields at least this large are kept as references instead of being copied into the output. */
const BIG_CHUNK = 1 << 15;

/**
 * Accumulates an encoded message as a list of chunks. Embedded messages are encoded by child writers and
 * spliced in (their lengths are known once they finish), so nothing is encoded twice and big tensors are
 * never copied.
 */
export class Writer {
  private chunks: Uint8Array[] = [];
  private cur: Uint8Array;
  private pos = 0;
  private flushed = 0;

  constructor(initial = 256) {
    this.cur = new Uint8Array(initial);
  }

  get length(): number {
    return this.flushed + this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.cur.length) return;
    this.flushCur();
    this.cur = new Uint8Array(Math.max(n, Math.min(this.cur.length * 2, 1 << 20)));
  }

  private flushCur(): void {
    if (this.pos > 0) {
      this.chunks.push(this.cur.subarray(0, this.pos));
      this.flushed += this.pos;
      this.cur = this.cur.subarray(this.pos);
      this.pos = 0;
    }
  }

  uvarint(v: number): void {
    this.ensure(10);
    const b = this.cur;
    if (v < 0x80000000 && v >= 0) {
      let x = v >>> 0;
      while (x >= 0x80) {
        b[this.pos++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      b[this.pos++] = x;
      return;
    }
    let big = BigInt.asUintN(64, BigInt(v));
    while (big >= 0x80n) {
      b[this.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    b[this.pos++] = Number(big);
  }

  /** Signed 64-bit varint; numbers at or beyond ±2^63 are clamped (INT64_MAX sentinels survive). */
  int64(v: number): void {
    if (v >= 0 && v < 0x80000000) return this.uvarint(v);
    let big: bigint;
    if (v >= INT64_MAX_AS_NUMBER) big = 9223372036854775807n;
    else if (v <= -INT64_MAX_AS_NUMBER) big = -9223372036854775808n;
    else big = BigInt(Math.trunc(v));
    this.ensure(10);
    let u = BigInt.asUintN(64, big);
    const b = this.cur;
    while (u >= 0x80n) {
      b[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    b[this.pos++] = Number(u);
  }

  tag(field: number, wt: WireType): void {
    this.uvarint(field * 8 + wt);
  }

  float(v: number): void {
    this.ensure(4);
    new DataView(this.cur.buffer, this.cur.byteOffset + this.pos, 4).setFloat32(0, v, true);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    new DataView(this.cur.buffer, this.cur.byteOffset + this.pos, 8).setFloat64(0, v, true);
    this.pos += 8;
  }

  /** Raw bytes without a length prefix; big arrays are referenced, not copied. */
  raw(bytes: Uint8Array): void {
    if (bytes.length >= BIG_CHUNK) {
      this.flushCur();
      this.chunks.push(bytes);
      this.flushed += bytes.length;
      return;
    }
    this.ensure(bytes.length);
    this.cur.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, WireType.Bytes);
    this.uvarint(bytes.length);
    this.raw(bytes);
  }

  stringField(field: number, s: string): void {
    this.bytesField(field, textEncoder.encode(s));
  }

  /** Writes a non-empty string field (proto3 default-skipping). */
  optString(field: number, s: string | undefined): void {
    if (s) this.stringField(field, s);
  }

  varintField(field: number, v: number): void {
    this.tag(field, WireType.Varint);
    this.int64(v);
  }

  floatField(field: number, v: number): void {
    this.tag(field, WireType.Fixed32);
    this.float(v);
  }

  /** Encodes an embedded message with a child writer and splices it in. */
  message(field: number, body: (w: Writer) => void): void {
    const child = new Writer(64);
    body(child);
    this.tag(field, WireType.Bytes);
    this.uvarint(child.length);
    this.splice(child);
  }

  private splice(child: Writer): void {
    child.flushCur();
    this.flushCur();
    for (const c of child.chunks) this.chunks.push(c);
    this.flushed += child.flushed;
  }

  packedInt64(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    const child = new Writer(values.length * 2 + 8);
    for (const v of values) child.int64(v);
    this.tag(field, WireType.Bytes);
    this.uvarint(child.length);
    this.splice(child);
  }

  packedFloat(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    this.tag(field, WireType.Bytes);
    this.uvarint(values.length * 4);
    for (const v of values) this.float(v);
  }

  /** All chunks, with runs of small ones coalesced so that a writev stays short. */
  finish(): Uint8Array[] {
    this.flushCur();
    const out: Uint8Array[] = [];
    let pending: Uint8Array[] = [];
    let pendingLen = 0;
    const flush = () => {
      if (pending.length === 1) out.push(pending[0]!);
      else if (pending.length > 1) {
        const m = new Uint8Array(pendingLen);
        let o = 0;
        for (const p of pending) {
          m.set(p, o);
          o += p.length;
        }
        out.push(m);
      }
      pending = [];
      pendingLen = 0;
    };
    for (const c of this.chunks) {
      if (c.length >= BIG_CHUNK) {
        flush();
        out.push(c);
      } else {
        pending.push(c);
        pendingLen += c.length;
        if (pendingLen >= 1 << 20) flush();
      }
    }
    flush();
    return out;
  }

  /** The whole message as one contiguous array (copies). */
  toBytes(): Uint8Array {
    return concatChunks(this.finish());
  }
}

/** Joins chunks into one array (no copy when there is only one). */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

export { textDecoder, textEncoder };
