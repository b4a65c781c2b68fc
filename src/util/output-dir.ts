import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import { checkOutputFile, fsStep, inputAt, makeFolders, refuseVirtual, Staging, writeFileSafe } from './files.js';

/** The record of the files inferopt wrote into an output folder (hidden, beside them). */
export const MANIFEST = '.inferopt-manifest.json';

interface Manifest {
  format: 'inferopt-manifest';
  version: 1;
  files: Record<string, { sha256: string; bytes: number; written: string }>;
}

/**
 * An output folder (optimize, demo): files are staged inside it, then renamed into place together, and
 * recorded with their sha256 in `.inferopt-manifest.json`. Into an existing folder, a file is written only
 * under a new name or over a file this record says inferopt wrote and that nobody changed since; inputs
 * (also through links) and every other file are never touched. The folder gets ordinary permissions.
 */
export class OutputDir {
  readonly dir: string;
  private readonly staging: Staging;
  private readonly created: boolean;

  /** `names`: the files the run will write, checked now (before a long search) and again at commit. */
  constructor(
    dir: string,
    private readonly opts: { flag?: string; names?: readonly string[] } = {},
  ) {
    const label = `${opts.flag ?? '-o'} ${dir === '' ? "''" : dir}`;
    if (dir === '') throw new InputError(`${label}: give a folder name`);
    let abs = path.resolve(dir);
    refuseVirtual(abs, label);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(abs);
      abs = fs.realpathSync(abs);
      refuseVirtual(abs, label);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new InputError(`${label}: a part of the path is a file, not a folder`);
      if (code !== 'ENOENT') throw new InputError(`${label}: ${(e as Error).message}`);
    }
    if (st && !st.isDirectory()) throw new InputError(`${label}: is a file, not a folder; give a folder`);
    if (!st) {
      // the parent must be a writable folder (checked as if writing a file there)
      checkOutputFile(abs, opts.flag ?? '-o');
      makeFolders(abs, label);
    } else {
      try {
        fs.accessSync(abs, fs.constants.W_OK | fs.constants.X_OK);
      } catch {
        throw new InputError(`${label}: cannot write in this folder (permission denied or read-only)`);
      }
    }
    this.dir = abs;
    this.created = !st;
    if (opts.names) {
      try {
        this.refuseCollisions(opts.names, label);
      } catch (e) {
        this.removeIfCreated();
        throw e;
      }
    }
    this.staging = new Staging(abs, 'out');
  }

  /** Path of a staged file (write it there; it moves into the folder at commit). A name may hold one subfolder (`onnx/model.onnx`). */
  path(name: string): string {
    const p = this.staging.path(name);
    if (name.includes('/')) fs.mkdirSync(path.dirname(p), { recursive: true });
    return p;
  }

  write(name: string, data: string | Uint8Array): void {
    this.path(name);
    this.staging.write(name, [data]);
  }

  /** Drops a staged file (and its external data) that is not to be written after all. */
  discard(name: string): void {
    for (const n of [name, `${name}.data`]) fs.rmSync(this.staging.path(n), { force: true });
  }

  /** Moves every staged file into the folder and records it; refuses (and writes nothing) on a collision. */
  commit(): void {
    const label = `${this.opts.flag ?? '-o'} ${this.dir}`;
    const names = stagedFiles(this.staging.dir);
    this.refuseCollisions(names, label);
    for (const n of names) if (n.includes('/')) makeFolders(path.join(this.dir, path.dirname(n)), label);
    const written = new Date().toISOString();
    const entries = Object.fromEntries(names.map((n) => [n, { ...hashFile(this.staging.path(n)), written }]));
    this.staging.commit(names.map((n) => [n, path.join(this.dir, n)] as const));
    const manifest = readManifest(this.dir);
    // entries whose file is gone are dropped; those still there keep their record
    for (const n of Object.keys(manifest.files)) if (!fs.existsSync(path.join(this.dir, n))) delete manifest.files[n];
    Object.assign(manifest.files, entries);
    writeFileSafe(path.join(this.dir, MANIFEST), [JSON.stringify(manifest, null, 1) + '\n'], label);
  }

  abandon(): void {
    this.staging.abandon();
    this.removeIfCreated();
  }

  private removeIfCreated(): void {
    if (!this.created) return;
    try {
      fs.rmdirSync(this.dir); // only if still empty
    } catch {
      /* not empty or gone: leave it */
    }
  }

  /** Files this run may not write over: not recorded, changed since, an input, or not a regular file. */
  private refuseCollisions(names: readonly string[], label: string): void {
    const manifest = readManifest(this.dir);
    const problems: string[] = [];
    for (const sub of new Set(names.filter((n) => n.includes('/')).map((n) => path.dirname(n)))) {
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(path.join(this.dir, sub));
      } catch {
        /* a new folder */
      }
      if (st && !st.isDirectory()) problems.push(`${sub} is not a folder (a file or a link)`);
    }
    for (const n of names) {
      const p = path.join(this.dir, n);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(p);
      } catch {
        continue; // a new name
      }
      const rec = manifest.files[n];
      if (!st.isFile()) problems.push(`${n} is not a regular file`);
      else if (inputAt(p)) problems.push(`${n} is an input of this run`);
      else if (!rec) problems.push(`${n} was not written by inferopt`);
      else if (rec.bytes !== st.size || hashFile(p).sha256 !== rec.sha256) problems.push(`${n} changed since inferopt wrote it`);
    }
    if (problems.length) {
      throw new InputError(`${label}: will not replace files it does not own (${problems.join('; ')}); move them or choose another folder`);
    }
  }
}

function readManifest(dir: string): Manifest {
  const empty: Manifest = { format: 'inferopt-manifest', version: 1, files: {} };
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, MANIFEST), 'utf8');
  } catch {
    return empty;
  }
  try {
    const m = JSON.parse(text) as Manifest;
    if (m?.format !== 'inferopt-manifest' || typeof m.files !== 'object' || m.files === null) return empty;
    const files: Manifest['files'] = {};
    for (const [k, v] of Object.entries(m.files)) {
      // a record names a plain file in this folder or in one subfolder of it (onnx/model.onnx), nothing else
      const parts = k.split('/');
      if (parts.length > 2 || k.includes('\\') || parts.some((p) => p === '' || p === '..' || p === '.') || k === MANIFEST) continue;
      if (typeof v?.sha256 === 'string' && typeof v.bytes === 'number') files[k] = v;
    }
    return { ...empty, files };
  } catch {
    return empty; // unreadable record: nothing counts as inferopt's
  }
}

function hashFile(file: string): { sha256: string; bytes: number } {
  return fsStep(`cannot read ${file}`, () => {
    const h = crypto.createHash('sha256');
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const buf = Buffer.allocUnsafe(1 << 22);
      let bytes = 0;
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        bytes += n;
      }
      return { sha256: h.digest('hex'), bytes };
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** The files under a staging folder, as names relative to it (`onnx/model.onnx`), sorted. */
function stagedFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const name = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...stagedFiles(dir, name));
    else out.push(name);
  }
  return out.sort();
}
