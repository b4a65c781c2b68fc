/**
 * `inferopt device serve`: an HTTP server for the device page and two WebSocket endpoints — /ws/device,
 * where pages register as devices, and /ws/control, where the CLI (bench/optimize --device, device list)
 * sends jobs. The server relays a job to its device and the device's answers back, enforcing the limits of
 * ./protocol.ts on everything it passes on. Loopback only unless told otherwise; the page and the device
 * socket need the token printed in the URL; the device socket's Origin and every request's Host must be
 * this server's own (no other site, and no DNS-rebound name, can reach it from a browser); the control
 * socket needs a second token kept in a file only this user can read, and refuses browsers (any Origin).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { InputError } from '../errors.js';
import { buildPage, type PageFiles } from './page-build.js';
import {
  DEFAULT_LIMITS,
  ProtocolError,
  checkedName,
  decodeChunk,
  deviceBaseName,
  jobBlobs,
  maxFrameBytes,
  parseControlMessage,
  parsePageMessage,
  type DeviceInfo,
  type DeviceLimits,
  type DeviceSummary,
  type Job,
  type ToControlMessage,
  type ToPageMessage,
} from './protocol.js';

export interface DeviceServerOptions {
  /** Address to bind (default 127.0.0.1). Anything but loopback lets other machines open the page. */
  host?: string;
  /** Port (default 0: any free one). */
  port?: number;
  limits?: Partial<DeviceLimits>;
  /** Where the control address and token are written for the CLI (0600); default `deviceStateFile()`. */
  stateFile?: string;
  /** Heartbeat: a device that has not answered a ping within this long, nor taken in queued bytes, is dropped (default 20 s). */
  heartbeatMs?: number;
  log?: (line: string) => void;
}

/** What a running server tells its CLI clients, in the state file. */
export interface DeviceServerState {
  pid: number;
  /** ws://host:port/ws/control */
  control: string;
  controlToken: string;
  /** The page's URL with its token. */
  url: string;
}

/** The state file: $INFEROPT_DEVICE_SERVER_FILE, else device-server.json in $INFEROPT_CACHE or ~/.cache/inferopt. */
export function deviceStateFile(): string {
  return process.env['INFEROPT_DEVICE_SERVER_FILE'] ?? path.join(process.env['INFEROPT_CACHE'] ?? path.join(os.homedir(), '.cache', 'inferopt'), 'device-server.json');
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Constant-time token comparison (hashes first, so lengths do not leak either). */
export function tokenMatches(given: string | null | undefined, want: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(want).digest();
  return timingSafeEqual(a, b);
}

/** Host names (with port) a request may carry: the bound address, and for a wildcard every local one. */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set<string>();
  const add = (h: string) => names.add(`${h.includes(':') ? `[${h}]` : h}:${port}`.toLowerCase());
  if (isLoopback(host)) ['127.0.0.1', 'localhost', '::1', host].forEach(add);
  else if (host === '0.0.0.0' || host === '::') {
    ['127.0.0.1', 'localhost', '::1', os.hostname(), `${os.hostname()}.local`].forEach(add);
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) add(a.address.replace(/%.*$/, ''));
  } else add(host);
  return names;
}

/** The address to print for a wildcard bind: the first non-internal IPv4 one. */
function publicAddress(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

interface Device {
  name: string;
  info: DeviceInfo;
  socket: WebSocket;
  address: string;
  connectedAt: Date;
  run?: Run;
  alive: boolean;
  /** Bytes queued to it at the last heartbeat: a device still taking in an upload is alive though its pong waits behind the data. */
  queued: number;
}

interface Run {
  id: string;
  control: WebSocket;
  device: Device;
  job: Job;
  /** Blobs the device asked for: hash → bytes still to come. */
  owed: Map<string, { size: number; next: number }>;
  done: boolean;
}

const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; worker-src 'self'; img-src 'self' data:; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export class DeviceServer {
  readonly limits: DeviceLimits;
  readonly token = randomBytes(18).toString('base64url');
  readonly controlToken = randomBytes(24).toString('base64url');
  private readonly devices = new Map<string, Device>();
  private readonly http: http.Server;
  private readonly deviceWss: WebSocketServer;
  private readonly controlWss: WebSocketServer;
  private page?: PageFiles;
  private heartbeat?: ReturnType<typeof setInterval>;
  private hosts = new Set<string>();
  private runCount = 0;
  private stateWritten?: string;
  host = '127.0.0.1';
  port = 0;

  constructor(private readonly opts: DeviceServerOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.http = http.createServer((req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    const common = { noServer: true, maxPayload: maxFrameBytes(this.limits), perMessageDeflate: false } as const;
    this.deviceWss = new WebSocketServer(common);
    this.controlWss = new WebSocketServer(common);
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** Builds the page, binds, writes the state file. */
  async start(): Promise<void> {
    this.page = await buildPage();
    this.host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const fail = (e: NodeJS.ErrnoException) =>
        reject(e.code === 'EADDRINUSE' ? new InputError(`port ${this.opts.port} is in use`) : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' ? new InputError(`cannot bind to ${this.host}: not an address of this machine`) : e);
      this.http.once('error', fail);
      this.http.listen(this.opts.port ?? 0, this.host, () => {
        this.http.off('error', fail);
        resolve();
      });
    });
    this.port = (this.http.address() as AddressInfo).port;
    this.hosts = allowedHosts(this.host, this.port);
    const beat = this.opts.heartbeatMs ?? 20_000;
    this.heartbeat = setInterval(() => this.checkHeartbeats(), beat / 2);
    this.heartbeat.unref();
    this.writeState();
  }

  /**
   * One beat of the heartbeat (the timer's, every heartbeatMs / 2): a device that has not answered the ping of
   * the beat before, nor taken in any of the bytes queued to it since, is dropped; every other one is pinged.
   */
  checkHeartbeats(): void {
    for (const d of this.devices.values()) {
      const queued = d.socket.bufferedAmount;
      const draining = queued > 0 && queued < d.queued;
      d.queued = queued;
      if (!d.alive && !draining) {
        this.log(`device ${d.name}: no answer to the heartbeat; dropped`);
        d.socket.terminate();
        continue;
      }
      d.alive = false;
      d.socket.ping();
    }
  }

  get url(): string {
    const h = publicAddress(this.host);
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.port}/?token=${this.token}`;
  }

  get controlUrl(): string {
    const h = this.host === '0.0.0.0' ? '127.0.0.1' : this.host === '::' ? '::1' : this.host;
    return `ws://${h.includes(':') ? `[${h}]` : h}:${this.port}/ws/control`;
  }

  list(): DeviceSummary[] {
    return [...this.devices.values()].map((d) => summary(d));
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const d of this.devices.values()) d.socket.terminate();
    for (const c of this.controlWss.clients) c.terminate();
    this.http.closeAllConnections?.();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.removeState();
  }

  private writeState(): void {
    const file = this.opts.stateFile ?? deviceStateFile();
    const state: DeviceServerState = { pid: process.pid, control: this.controlUrl, controlToken: this.controlToken, url: this.url };
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(state, null, 1) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, file);
    this.stateWritten = file;
  }

  private removeState(): void {
    const file = this.stateWritten;
    if (!file) return;
    try {
      const s = JSON.parse(fs.readFileSync(file, 'utf8')) as DeviceServerState;
      if (s.controlToken === this.controlToken) fs.rmSync(file); // another server may have written it since
    } catch {
      /* gone already */
    }
    this.stateWritten = undefined;
  }

  // ---- HTTP ----

  private hostOk(req: http.IncomingMessage): boolean {
    return typeof req.headers.host === 'string' && this.hosts.has(req.headers.host.toLowerCase());
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const deny = (code: number, text: string): void => void res.writeHead(code, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }).end(text + '\n');
    if (!this.hostOk(req)) return deny(421, 'inferopt device server: unknown Host');
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(405, 'GET only');
    const url = new URL(req.url ?? '/', 'http://x');
    const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    const body = this.page?.files.get(file);
    if (!body) {
      this.log(`404 ${url.pathname}`);
      return deny(404, 'not found');
    }
    if (file === 'index.html' && !tokenMatches(url.searchParams.get('token'), this.token)) {
      this.log(`refused the page to ${req.socket.remoteAddress}: wrong or missing token`);
      return deny(403, 'inferopt device server: wrong or missing token — open the URL that `inferopt device serve` printed');
    }
    res.writeHead(200, { ...HEADERS, 'Content-Type': contentType(file), 'Content-Length': body.length, ...(file === 'index.html' ? { 'Content-Security-Policy': CSP } : {}) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (code: number, why: string) => {
      this.log(`refused a WebSocket from ${req.socket.remoteAddress}: ${why}`);
      socket.end(`HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${why}\n`);
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (!this.hostOk(req)) return refuse(421, 'unknown Host');
    if (url.pathname === '/ws/device') {
      if (req.headers.origin !== `http://${req.headers.host}`) return refuse(403, `Origin ${JSON.stringify(req.headers.origin ?? null)} is not this server`);
      if (!tokenMatches(url.searchParams.get('token'), this.token)) return refuse(403, 'wrong or missing token');
      this.deviceWss.handleUpgrade(req, socket, head, (ws) => this.onDevice(ws, req, checkedName(url.searchParams.get('name'))));
    } else if (url.pathname === '/ws/control') {
      if (req.headers.origin !== undefined) return refuse(403, 'the control socket is not for browsers');
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!tokenMatches(auth, this.controlToken)) return refuse(403, 'wrong or missing control token');
      this.controlWss.handleUpgrade(req, socket, head, (ws) => this.onControl(ws));
    } else refuse(404, 'no such endpoint');
  }

  // ---- devices ----

  private uniqueName(base: string): string {
    if (!this.devices.has(base)) return base;
    for (let i = 2; ; i++) if (!this.devices.has(`${base}-${i}`)) return `${base}-${i}`;
  }

  private onDevice(ws: WebSocket, req: http.IncomingMessage, asked?: string): void {
    let device: Device | undefined;
    const address = req.socket.remoteAddress ?? '?';
    const helloTimer = setTimeout(() => ws.close(4000, 'no hello'), 15_000);
    ws.on('pong', () => device && (device.alive = true));
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) throw new ProtocolError('a device sends no binary frames');
        const msg = parsePageMessage(rawText(data), this.limits);
        if (!device) {
          if (msg.t !== 'hello') throw new ProtocolError('first message must be hello');
          clearTimeout(helloTimer);
          device = { name: this.uniqueName(asked ?? deviceBaseName(msg.info.userAgent)), info: msg.info, socket: ws, address, connectedAt: new Date(), alive: true, queued: 0 };
          this.devices.set(device.name, device);
          send(ws, { t: 'welcome', name: device.name, limits: this.limits } satisfies ToPageMessage);
          this.log(`device ${device.name} connected from ${address}: ${describeDevice(msg.info)}`);
          return;
        }
        if (msg.t === 'hello') throw new ProtocolError('hello sent twice');
        const run = device.run;
        if (!run || run.id !== msg.run) return; // an answer to a run that ended (cancelled): dropped
        this.fromDevice(run, msg);
      } catch (e) {
        this.log(`device ${device?.name ?? address}: ${(e as Error).message}; disconnected`);
        ws.close(1008, (e as Error).message.slice(0, 120));
      }
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      if (!device || this.devices.get(device.name) !== device) return;
      this.devices.delete(device.name);
      this.log(`device ${device.name} disconnected`);
      if (device.run) this.endRun(device.run, { t: 'failed', message: `device '${device.name}' disconnected during the run` });
    });
  }

  private fromDevice(run: Run, msg: ReturnType<typeof parsePageMessage>): void {
    switch (msg.t) {
      case 'need': {
        const blobs = new Map(jobBlobs(run.job).map((b) => [b.hash, b.size]));
        for (const h of msg.hashes) {
          const size = blobs.get(h);
          if (size === undefined) throw new ProtocolError(`asked for blob ${h.slice(0, 12)}, which the job does not name`);
          run.owed.set(h, { size, next: 0 });
        }
        send(run.control, { t: 'need', run: run.id, hashes: msg.hashes } satisfies ToControlMessage);
        return;
      }
      case 'progress':
        send(run.control, { t: 'progress', fraction: msg.fraction } satisfies ToControlMessage);
        return;
      case 'result':
        this.log(`device ${run.device.name}: run ${run.id} done`);
        this.endRun(run, { t: 'result', result: msg.result });
        return;
      case 'error':
        this.log(`device ${run.device.name}: run ${run.id} failed: ${msg.message}`);
        this.endRun(run, { t: 'failed', message: `on device '${run.device.name}': ${msg.message}`, ...(msg.input ? { input: true } : {}) });
        return;
    }
  }

  private endRun(run: Run, last: ToControlMessage): void {
    if (run.done) return;
    run.done = true;
    if (run.device.run === run) run.device.run = undefined;
    if (run.control.readyState === WebSocket.OPEN) {
      send(run.control, last);
      run.control.close(1000);
    }
  }

  // ---- control ----

  private pickDevice(name: string): Device | string {
    if (name !== 'auto') {
      const d = this.devices.get(name);
      if (!d) return `no device named '${name}' is connected (${this.devices.size ? `connected: ${[...this.devices.keys()].join(', ')}` : `none is; open ${this.url} on the device`})`;
      return d.run ? `device '${name}' is busy with another run` : d;
    }
    if (this.devices.size === 0) return `no device is connected; open ${this.url} on the device`;
    const idle = [...this.devices.values()].find((d) => !d.run);
    return idle ?? `every connected device is busy (${[...this.devices.keys()].join(', ')})`;
  }

  private onControl(ws: WebSocket): void {
    let run: Run | undefined;
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) {
          if (!run || run.done) throw new ProtocolError('a chunk outside a run');
          const frame = rawBytes(data);
          const { header, bytes } = decodeChunk(frame, this.limits);
          const owed = run.owed.get(header.hash);
          if (header.run !== run.id || !owed) throw new ProtocolError(`a chunk of blob ${header.hash.slice(0, 12)}, which the device did not ask for`);
          if (header.offset !== owed.next || owed.next + bytes.length > owed.size) throw new ProtocolError(`blob ${header.hash.slice(0, 12)}: chunk out of order or past its size`);
          owed.next += bytes.length;
          if (owed.next === owed.size) run.owed.delete(header.hash);
          run.device.socket.send(frame, { binary: true });
          // back-pressure: read no more from the CLI while the device has a few chunks queued
          if (run.device.socket.bufferedAmount > 4 * this.limits.chunkBytes) {
            ws.pause();
            const r = run;
            const wait = setInterval(() => {
              if (r.done || r.device.socket.readyState !== WebSocket.OPEN || r.device.socket.bufferedAmount <= this.limits.chunkBytes) {
                clearInterval(wait);
                ws.resume();
              }
            }, 5);
          }
          return;
        }
        const msg = parseControlMessage(rawText(data), this.limits);
        if (msg.t === 'list') {
          send(ws, { t: 'devices', devices: this.list(), url: this.url } satisfies ToControlMessage);
          return;
        }
        if (run) throw new ProtocolError('one run per connection');
        const device = this.pickDevice(msg.device);
        if (typeof device === 'string') {
          send(ws, { t: 'failed', message: device } satisfies ToControlMessage);
          ws.close(1000);
          return;
        }
        run = { id: `r${++this.runCount}-${randomBytes(4).toString('hex')}`, control: ws, device, job: msg.job, owed: new Map(), done: false };
        device.run = run;
        this.log(`device ${device.name}: run ${run.id} (${msg.job.kind} ${msg.job.label}${msg.job.kind === 'bench' && msg.job.compare ? ` vs ${msg.job.compare.label}` : ''})`);
        send(ws, { t: 'started', run: run.id, device: summary(device), limits: this.limits } satisfies ToControlMessage);
        send(device.socket, { t: 'job', run: run.id, job: msg.job } satisfies ToPageMessage);
      } catch (e) {
        const message = e instanceof ProtocolError ? `protocol error: ${e.message}` : (e as Error).message;
        if (run) this.endRun(run, { t: 'failed', message });
        else if (ws.readyState === WebSocket.OPEN) {
          send(ws, { t: 'failed', message });
          ws.close(1008);
        }
      }
    });
    ws.on('close', () => {
      if (!run || run.done) return;
      // the CLI went away (Ctrl-C): the device stops the run
      run.done = true;
      if (run.device.run === run) run.device.run = undefined;
      if (run.device.socket.readyState === WebSocket.OPEN) send(run.device.socket, { t: 'cancel', run: run.id } satisfies ToPageMessage);
      this.log(`device ${run.device.name}: run ${run.id} cancelled (the CLI disconnected)`);
    });
  }
}

function summary(d: Device): DeviceSummary {
  return { name: d.name, info: d.info, address: d.address, connectedAt: d.connectedAt.toISOString(), busy: d.run !== undefined };
}

/** One line about a device: browser, cores, memory, threads, WebGPU. */
export function describeDevice(info: DeviceInfo): string {
  const ua = /(Edg|Firefox|HeadlessChrome|Chrome|Chromium|Version)\/[\d.]+/.exec(info.userAgent)?.[0] ?? 'browser';
  const os = /\(([^)]*)\)/.exec(info.userAgent)?.[1]?.split(';').slice(0, 2).join(';') ?? '';
  const parts = [`${ua}${os ? ` (${os})` : ''}`, `${info.hardwareConcurrency || '?'} cores`];
  if (info.deviceMemoryGiB !== undefined) parts.push(`~${info.deviceMemoryGiB} GiB`);
  parts.push(info.threads ? 'wasm threads' : 'no wasm threads', info.simd ? 'SIMD' : 'no SIMD', info.webgpu ? `WebGPU${info.webgpuAdapter ? ` (${info.webgpuAdapter})` : ''}` : 'no WebGPU');
  return parts.join(', ');
}

function send(ws: WebSocket, msg: unknown): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function rawBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

function rawText(data: RawData): string {
  return Buffer.from(rawBytes(data)).toString('utf8');
}

function contentType(file: string): string {
  const ext = path.extname(file);
  return ext === '.html' ? 'text/html; charset=utf-8' : ext === '.js' || ext === '.mjs' ? 'text/javascript; charset=utf-8' : ext === '.wasm' ? 'application/wasm' : ext === '.css' ? 'text/css; charset=utf-8' : 'application/octet-stream';
}
