/**
 * How inferopt writes files. Every command and library function that writes a model or an output folder goes
 * through here, so the rules hold everywhere:
 * - inputs are never written: every file a model or dataset is read from is recorded (device + inode, so
 *   symbolic and hard links count), and a write that would land on one is refused;
 * - only regular files or new paths are written (never a device, FIFO, socket or folder, nothing under /proc);
 * - a write goes to a staging folder beside the target, is flushed to disk (fsync of file and folder) and only
 *   then renamed into place; errors and SIGINT/SIGTERM remove what was staged, and staging folders left by a
 *   killed process are swept on the next write into the same folder;
 * - files get ordinary permissions (0666 minus the umask, or the mode of the file they replace).
 * Bad targets are InputErrors: one line, exit 2.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../errors.js';

// ---------------------------------------------------------------------------------------------------------
// Inputs

interface InputRecord {
  file: string;
  dev: number;
  ino: number;
}

const inputs = new Map<string, InputRecord>();
const key = (st: { dev: number; ino: number }) => `${st.dev}:${st.ino}`;

/**
 * Where inferopt keeps its own caches (calibration statistics, built candidates), keyed by content: never
 * beside a user's files (a model inside an npm package or a read-only folder is theirs). `INFEROPT_CACHE`
 * overrides the default, `<tmp>/inferopt-cache`.
 */
export function toolCacheDir(sub?: string): string {
  const root = process.env.INFEROPT_CACHE || path.join(os.tmpdir(), 'inferopt-cache');
  return sub ? path.join(root, sub) : root;
}

/** The folders the current job may read inputs from (a worker's `--data-root` and its model cache). */
const inputRoots = new AsyncLocalStorage<{ roots: readonly string[]; why: string }>();

/**
 * Runs `f` with every input it records (models, dataset specs and the files they name, images, keys) confined
 * to `roots` (real paths: a link out of them is refused): `markInput` throws an InputError naming `why` for
 * anything else, before the file is read.
 */
export function withInputRoots<T>(roots: readonly string[], why: string, f: () => Promise<T>): Promise<T> {
  return inputRoots.run({ roots: roots.map((r) => fs.realpathSync(r)), why }, f);
}

function checkInputRoot(file: string): void {
  const scope = inputRoots.getStore();
  if (!scope) return;
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    real = path.resolve(file); // not there: the read fails by itself
  }
  if (!scope.roots.some((r) => real === r || real.startsWith(r.endsWith(path.sep) ? r : r + path.sep))) {
    throw new InputError(`refused to read ${JSON.stringify(file)}: it lies outside ${scope.why}`);
  }
}

/**
 * Records a file read as input: nothing in this process writes over it (by any path or link). Inside
 * `withInputRoots`, a file outside the allowed folders is refused (InputError) instead.
 */
export function markInput(file: string): void {
  checkInputRoot(file);
  try {
    const st = fs.statSync(file);
    if (st.isFile()) inputs.set(key(st), { file: path.resolve(file), dev: st.dev, ino: st.ino });
  } catch {
    /* nothing there: nothing to protect */
  }
}

/** The recorded input that `file` is (same device and inode), if any. Records whose file is gone are stale. */
export function inputAt(file: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return undefined;
  }
  const rec = inputs.get(key(st));
  if (!rec) return undefined;
  try {
    const now = fs.statSync(rec.file);
    if (now.dev === rec.dev && now.ino === rec.ino) return rec.file;
  } catch {
    /* the input was removed or replaced: its inode may belong to a new file now */
  }
  inputs.delete(key(st));
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Checking targets

const VIRTUAL = ['/proc', '/sys', '/dev'];

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** One line for a failed file-system call on `target` (no "internal error: EACCES…"). */
export function fsErrorLine(e: unknown, what: string): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    ENOTDIR: 'a part of the path is a file, not a folder',
    EISDIR: 'it is a folder',
    ENOENT: 'a part of the path does not exist',
    ENAMETOOLONG: 'the name is too long',
    ELOOP: 'too many symbolic links',
    EEXIST: 'it exists',
    EXDEV: 'the staging folder is on another file system',
    EIO: 'input/output error',
    EMFILE: 'too many open files',
  };
  return `${what}: ${(code && why[code]) ?? (e as Error)?.message ?? String(e)}`;
}

/** Runs a file-system step; its errors become one-line InputErrors naming the target. */
export function fsStep<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError) throw e;
    if ((e as NodeJS.ErrnoException)?.code) throw new InputError(fsErrorLine(e, what));
    throw e;
  }
}

/** The nearest existing ancestor of `abs` (itself included) and its stats. */
function nearestExisting(abs: string): { dir: string; st: fs.Stats } {
  let p = abs;
  for (;;) {
    try {
      return { dir: p, st: fs.statSync(p) };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new InputError(`${p}: a part of the path is a file, not a folder`);
      if (code !== 'ENOENT') throw new InputError(fsErrorLine(e, p));
      const up = path.dirname(p);
      if (up === p) throw new InputError(`${abs}: no part of the path exists`);
      p = up;
    }
  }
}

export function refuseVirtual(real: string, label: string): void {
  if (VIRTUAL.some((v) => real === v || real.startsWith(v + '/'))) {
    throw new InputError(`${label}: ${real} is under ${real.split('/')[1] ? '/' + real.split('/')[1] : real}, not a place for files; give a path in a normal folder`);
  }
}

/** The folder `abs` would go in must exist or be creatable, be a folder, be writable and not be virtual. */
function checkFolderFor(absDir: string, label: string): void {
  const { dir, st } = nearestExisting(absDir);
  if (!st.isDirectory()) throw new InputError(`${label}: ${dir} is a file, not a folder`);
  const real = fs.realpathSync(dir);
  refuseVirtual(real, label);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new InputError(`${label}: cannot write in ${dir} (permission denied or read-only)`);
  }
}

export interface OutputTarget {
  /** Where the file will be (absolute; a symbolic link to a regular file is written through). */
  file: string;
  /** Mode of the regular file it replaces, if any. */
  replacesMode?: number;
}

/**
 * Checks that `file` may be written: a new path or an existing regular file that is no input, in a writable
 * folder, not under /proc, /sys or /dev. `flag` names it in the error (e.g. `-o out.onnx`).
 */
export function checkOutputFile(file: string, flag = '-o'): OutputTarget {
  const label = file === '' ? `${flag} ''` : `${flag} ${file}`;
  if (file === '') throw new InputError(`${label}: give a file name`);
  if (file === '-') throw new InputError(`${label}: writing to standard output is not supported; give a file name`);
  if (/[\\/]$/.test(file)) throw new InputError(`${label}: names a folder; give a file name`);
  let abs = path.resolve(file);
  refuseVirtual(abs, label);
  let lst: fs.Stats | undefined;
  try {
    lst = fs.lstatSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new InputError(`${label}: a part of the path is a file, not a folder`);
    if (code !== 'ENOENT') throw new InputError(fsErrorLine(e, label));
  }
  if (lst?.isSymbolicLink()) {
    try {
      abs = fs.realpathSync(abs);
    } catch {
      throw new InputError(`${label}: a symbolic link to nothing; give a file name`);
    }
    refuseVirtual(abs, label);
    lst = fs.statSync(abs);
  }
  let replacesMode: number | undefined;
  if (lst) {
    if (!lst.isFile()) throw new InputError(`${label}: is ${kindOf(lst)}; inferopt writes regular files only`);
    const input = inputAt(abs);
    if (input) throw new InputError(`${label}: is an input of this run (${input}); inferopt never writes over its inputs`);
    replacesMode = lst.mode & 0o7777;
  }
  checkFolderFor(path.dirname(abs), label);
  // the folder must not be reached through /proc either (e.g. /dev/fd/3/x)
  return { file: abs, ...(replacesMode !== undefined ? { replacesMode } : {}) };
}

// ---------------------------------------------------------------------------------------------------------
// Staging, cleanup on errors and signals

const live = new Set<string>();
let handlersOn = false;

function removeAllStaged(): void {
  for (const d of live) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      /* best effort on the way out */
    }
  }
  live.clear();
}

const onExit = () => removeAllStaged();
const onSignal = (signal: NodeJS.Signals) => {
  removeAllStaged();
  setHandlers(false);
  // let the signal do what it would have done (the default: end the process) now that nothing is staged
  process.kill(process.pid, signal);
};

function setHandlers(on: boolean): void {
  if (on === handlersOn) return;
  handlersOn = on;
  if (on) {
    process.on('exit', onExit);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
  } else {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}

const STAGING = /^\.(.+)\.inferopt-(\d+)-[A-Za-z0-9]{6}$/;

/** Staging folders in `dir` left by processes that no longer run (killed with SIGKILL, power loss). */
function sweepOrphans(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = STAGING.exec(n);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid && live.has(path.join(dir, n))) continue;
    if (pid !== process.pid && pidAlive(pid)) continue;
    if (pid === process.pid) continue; // ours but not live: being committed or abandoned right now
    try {
      if (fs.lstatSync(path.join(dir, n)).isDirectory()) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    } catch {
      /* someone else's to clean */
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* some file systems cannot fsync a folder; the rename is still atomic */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes chunks to a new file (exclusive create), flushes it to disk and closes it. */
export function writeNewFile(file: string, chunks: readonly (Uint8Array | string)[], mode = 0o666): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  try {
    for (const c of chunks) {
      let rest = typeof c === 'string' ? Buffer.from(c) : c;
      while (rest.length) rest = rest.subarray(fs.writeSync(fd, rest));
    }
    if (mode !== 0o666) fs.fchmodSync(fd, mode);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A staging folder beside the files it will place: write files into it, check them (load and run a model),
 * then `commit` renames each into place after its own checks; `abandon` (or an error, SIGINT, SIGTERM, exit)
 * removes it. The folder itself is private (0700) while it exists; the files in it get ordinary modes.
 */
export class Staging {
  readonly dir: string;
  private done = false;

  /** `folder`: where the final files go (must exist). `label`: a name for temp-folder naming. */
  constructor(
    readonly folder: string,
    label: string,
  ) {
    sweepOrphans(folder);
    const base = label.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80) || 'out';
    this.dir = fsStep(`cannot write in ${folder}`, () => fs.mkdtempSync(path.join(folder, `.${base}.inferopt-${process.pid}-`)));
    live.add(this.dir);
    setHandlers(true);
  }

  /** Path of a file in the staging folder. */
  path(name: string): string {
    return path.join(this.dir, name);
  }

  /** Writes a staged file (flushed to disk). */
  write(name: string, chunks: readonly (Uint8Array | string)[], mode?: number): void {
    fsStep(`cannot write ${name}`, () => writeNewFile(this.path(name), chunks, mode));
  }

  /** Flushes a staged file written by someone else (e.g. ORT) to disk. */
  sync(name: string): void {
    const fd = fs.openSync(this.path(name), 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Renames staged files into place (`name` → absolute target), then flushes the folders and cleans up. */
  commit(moves: readonly (readonly [name: string, target: string])[]): void {
    if (this.done) throw new Error('staging folder already committed or abandoned');
    try {
      const folders = new Set<string>();
      // inputs recorded since the target was checked (an image read while a search ran) are refused too
      for (const [, target] of moves) {
        const input = inputAt(target);
        if (input) throw new InputError(`${target}: is an input of this run (${input}); inferopt never writes over its inputs`);
      }
      for (const [name, target] of moves) {
        fsStep(`cannot write ${target}`, () => fs.renameSync(this.path(name), target));
        folders.add(path.dirname(target));
      }
      for (const f of folders) fsyncDir(f);
    } finally {
      this.abandon();
    }
  }

  abandon(): void {
    if (this.done) return;
    this.done = true;
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } finally {
      live.delete(this.dir);
      if (live.size === 0) setHandlers(false);
    }
  }
}

/** Creates the missing folders of `dir` with ordinary permissions (0777 minus the umask). */
export function makeFolders(dir: string, label: string): void {
  fsStep(label, () => fs.mkdirSync(dir, { recursive: true }));
}

/**
 * Writes one file safely: checked (`checkOutputFile`), staged, flushed, renamed into place; the mode of a
 * replaced file is kept. Returns the absolute path written.
 */
export function writeFileSafe(file: string, chunks: readonly (Uint8Array | string)[], flag = '-o'): string {
  const target = checkOutputFile(file, flag);
  const folder = path.dirname(target.file);
  makeFolders(folder, `${flag} ${file}`);
  const st = new Staging(folder, path.basename(target.file));
  try {
    st.write('file', chunks, target.replacesMode);
    st.commit([['file', target.file]]);
  } catch (e) {
    st.abandon();
    throw e;
  }
  return target.file;
}

/**
 * Opens a file for appending (logs): a new path or a regular file that is no input; the check is repeated
 * on the opened descriptor, so a swap between check and open cannot redirect the writes.
 */
export function openAppend(file: string, flag: string): number {
  const target = checkOutputFile(file, flag);
  makeFolders(path.dirname(target.file), `${flag} ${file}`);
  const fd = fsStep(`${flag} ${file}`, () =>
    fs.openSync(target.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW, 0o666),
  );
  const st = fs.fstatSync(fd);
  if (!st.isFile() || inputs.has(key(st))) {
    fs.closeSync(fd);
    throw new InputError(`${flag} ${file}: not a regular file that inferopt may write`);
  }
  return fd;
}
