/** Processes for the suites that need Redis: redis-server on a random loopback port, children with their output collected. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';

const children = new Set<ChildProcess>();

/** A free port on the loopback interface (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A child whose stderr and stdout are collected; `until` waits for a line matching a pattern. */
export function start(cmd: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number>((resolve) => child.on('exit', (code, signal) => (children.delete(child), resolve(code ?? (signal ? 128 : 1)))));
  const until = async (re: RegExp, ms = 120_000) => {
    const t0 = Date.now();
    while (!re.test(err + out)) {
      if (child.exitCode !== null) throw new Error(`${cmd} exited before ${re}: ${err}`);
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, done, until, out: () => out, err: () => err };
}

export async function startRedis() {
  const port = await freePort();
  const r = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes']);
  await r.until(/Ready to accept connections/, 20_000);
  return { ...r, url: `redis://127.0.0.1:${port}` };
}

/** Kills every child started here (afterEach / afterAll: nothing is left behind, whatever failed). */
export async function stopAll() {
  for (const c of [...children]) c.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
}
