import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * In a child process, as the CLI runs (no unhandledRejection listener of vitest's): a client with a command
 * nobody waits for, as BullMQ leaves them when Redis is gone, disconnected by `how`, then one more line.
 */
function run(how: string): { status: number | null; stderr: string; stdout: string } {
  const script = `
    import { Redis } from 'ioredis';
    import { disconnectAll } from './src/distributed/disconnect.ts';
    // nothing listens on port 1: the command waits in the offline queue
    const client = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, retryStrategy: () => 1000, maxRetriesPerRequest: null });
    client.on('error', () => {});
    void client.get('pending').then((v) => v);
    await new Promise((r) => setTimeout(r, 50));
    ${how}
    await new Promise((r) => setTimeout(r, 100));
    console.log('still here', client.status);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: process.cwd() });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('disconnectAll', () => {
  it('a plain disconnect with a command pending ends the process on an unhandled rejection (what this guards against)', () => {
    const r = run('client.disconnect();');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('Connection is closed.');
  });

  it('drops the rejections of the commands pending on the clients it disconnects; the process goes on', () => {
    const r = run('await disconnectAll([client]);');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('still here end');
    expect(r.status).toBe(0);
  });

  it('leaves any other unhandled rejection as Node would handle it', () => {
    const r = run("const p = disconnectAll([client]); void Promise.reject(new Error('someone else')); await p;");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('someone else');
    expect(r.stdout).toBe('');
  });
});
