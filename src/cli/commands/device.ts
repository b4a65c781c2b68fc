import type { Command } from 'commander';
import { renderUnicodeCompact } from 'uqr';
import { InputError } from '../../errors.js';
import { listDevices } from '../../device/client.js';
import { DeviceServer, describeDevice, isLoopback } from '../../device/server.js';
import { parseIntFlag, parsePositiveFlag } from '../flags.js';

interface ServeFlags {
  host: string;
  port: string;
  maxUpload: string;
  qr?: boolean;
}

export function register(program: Command): void {
  const device = program.command('device').description('Measure on real targets: serve a page that phones and browsers open, list the devices connected to it');
  device
    .command('serve')
    .description('Serve the device page (HTTP + WebSocket) and relay bench/optimize --device jobs to the devices that open it')
    .option('--host <address>', 'address to bind; 0.0.0.0 lets phones on this network connect (loopback by default)', '127.0.0.1')
    .option('--port <n>', 'port (default: any free one)', '0')
    .option('--max-upload <MB>', 'largest model or input sent to a device (MB)', '512')
    .option('--no-qr', 'no QR code, even on a non-loopback address')
    .action(async (flags: ServeFlags) => {
      const port = parseIntFlag('--port', flags.port, 0, 65535);
      const maxBlobBytes = Math.round(parsePositiveFlag('--max-upload', flags.maxUpload) * 1e6);
      if (!/^[0-9a-fA-F.:]+$|^localhost$/.test(flags.host)) throw new InputError(`--host must be an IP address (or localhost), not '${flags.host}'`);
      const server = new DeviceServer({
        host: flags.host === 'localhost' ? '127.0.0.1' : flags.host,
        port,
        limits: { maxBlobBytes, maxJobBytes: Math.max(2 * maxBlobBytes, 1024 * 2 ** 20) },
        log: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
      });
      await server.start();
      const out = process.stdout;
      out.write(`inferopt device server on ${server.host}:${server.port}. Open this on the device (the token in it is required):\n\n  ${server.url}\n\n`);
      if (!isLoopback(server.host) && flags.qr !== false) out.write(renderUnicodeCompact(server.url) + '\n\n');
      if (isLoopback(server.host)) out.write('Only this machine can connect (loopback). For a phone on the same network: --host 0.0.0.0\n');
      else out.write('Anyone on this network who has the URL can connect; keep it to yourself.\n');
      out.write('Then: inferopt device list; inferopt bench model.onnx --device auto. Ctrl-C stops the server.\n');
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      process.stderr.write('device server stopped\n');
    });
  device
    .command('list')
    .description('List the devices connected to the running device server')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { devices, url } = await listDevices();
      if (flags.json) {
        process.stdout.write(JSON.stringify({ url, devices }, null, 1) + '\n');
        return;
      }
      if (devices.length === 0) {
        process.stdout.write(`no device connected; open ${url} on one\n`);
        return;
      }
      for (const d of devices) process.stdout.write(`${d.name}${d.busy ? ' (busy)' : ''}: ${describeDevice(d.info)}; from ${d.address}, since ${d.connectedAt.slice(0, 19)}Z\n`);
    });
}
