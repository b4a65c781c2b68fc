import type { Command } from 'commander';
import { runWorker } from '../../distributed/worker.js';
import { parseBackendFlag, parseIntFlag } from '../flags.js';

interface WorkerFlags {
  redis: string;
  name?: string;
  concurrency: string;
  backend?: string;
  device?: string;
  cache?: string;
  dataRoot?: string;
  lockMs: string;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('Join a Redis server\'s queues and measure candidates for `optimize --workers` and `eval --workers` until stopped (Ctrl-C)')
    .requiredOption('--redis <url>', 'redis://[user:password@]host[:port][/db], or rediss:// for TLS (password also from INFEROPT_REDIS_PASSWORD)')
    .option('--name <name>', 'this worker\'s name, unique on the server (default: host-pid)')
    .option('--concurrency <n>', 'scoring jobs at once (timing jobs always run alone)', '1')
    .option('--backend <b>', 'node | wasm: the ONNX Runtime backend this worker times on (part of its hardware class; default node)')
    .option('--device <name|auto>', 'time on a device page connected to `inferopt device serve` (onnxruntime-web there): the worker is of that device\'s own hardware class; it builds and scores here')
    .option('--cache <dir>', 'where fetched models are kept by hash (default ~/.cache/inferopt/models)')
    .option('--data-root <dir>', 'refuse jobs whose data lie outside this folder')
    .option('--lock-ms <ms>', 'job lock: a killed worker\'s job is retried elsewhere after about this long', '30000')
    .action(async (flags: WorkerFlags) => {
      const stop = new AbortController();
      const onSignal = () => {
        process.stderr.write('inferopt worker: stopping after the running jobs (again to quit now)\n');
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
        process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(143));
        stop.abort();
      };
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
      await runWorker({
        url: flags.redis,
        ...(flags.name ? { name: flags.name } : {}),
        concurrency: parseIntFlag('--concurrency', flags.concurrency, 1, 64),
        ...(flags.backend ? { backend: parseBackendFlag(flags.backend) } : {}),
        ...(flags.device !== undefined ? { device: flags.device } : {}),
        ...(flags.cache ? { cacheDir: flags.cache } : {}),
        ...(flags.dataRoot ? { dataRoot: flags.dataRoot } : {}),
        lockMs: parseIntFlag('--lock-ms', flags.lockMs, 1000, 3_600_000),
        log: (line) => process.stderr.write(`${line}\n`),
        signal: stop.signal,
      });
    });
}
