import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';

/**
 * An output folder written as a whole: files go to a sibling temp folder, which replaces the target in one
 * rename at the end. An existing folder is replaced only when it is an earlier inferopt output (it holds
 * results.json from inferopt); anything else is refused, so no user file is ever written over.
 */
export class OutputDir {
  readonly tmp: string;

  constructor(readonly dir: string) {
    const abs = path.resolve(dir);
    if (fs.existsSync(abs)) {
      if (!fs.statSync(abs).isDirectory()) throw new InputError(`-o ${dir}: a file with that name exists; give a folder that does not exist yet`);
      const entries = fs.readdirSync(abs);
      if (entries.length > 0 && !isInferoptOutput(abs)) throw new InputError(`-o ${dir}: the folder exists and is not an earlier inferopt output; give a new folder`);
    }
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    this.tmp = fs.mkdtempSync(path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-`));
  }

  path(name: string): string {
    return path.join(this.tmp, name);
  }

  write(name: string, text: string): void {
    fs.writeFileSync(this.path(name), text);
  }

  /** Moves the finished folder into place (replacing an earlier inferopt output). */
  commit(): void {
    const abs = path.resolve(this.dir);
    let old: string | undefined;
    if (fs.existsSync(abs)) {
      old = `${this.tmp}.old`;
      fs.renameSync(abs, old);
    }
    fs.renameSync(this.tmp, abs);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  }

  abandon(): void {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

function isInferoptOutput(dir: string): boolean {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as { format?: string };
    return r.format === 'inferopt-results';
  } catch {
    return false;
  }
}
