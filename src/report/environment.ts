import { createRequire } from 'node:module';
import * as os from 'node:os';
import { ortVersion } from '../runtime/session.js';

export interface Environment {
  cpu: string;
  cores: number;
  memoryGB: number;
  platform: string;
  node: string;
  onnxruntime: { node?: string; web?: string };
  inferopt: string;
}

const require = createRequire(import.meta.url);

/** Where the measurements were taken: a report is only comparable with one from the same machine. */
export function environment(): Environment {
  const version = (f: () => string) => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntime: { node: version(() => ortVersion('node')), web: version(() => ortVersion('wasm')) },
    inferopt: (require('../../package.json') as { version: string }).version,
  };
}
