import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobAssembler, DEFAULT_LIMITS, ProtocolError, checkJob, chooseProvider, checkedName, chunksOf, decodeChunk, deviceBaseName, encodeChunk, parseControlMessage, parsePageMessage, parseToPageMessage, jobBlobs, MAX_PROFILE_RUNS, type BenchJob, type ProfileJob } from './protocol.js';
import { sha256Hex } from './sha256.js';
import { InputError } from '../errors.js';
import { allowedHosts, tokenMatches } from './server.js';

const H = 'ab'.repeat(32);
const job = (over: Partial<BenchJob> = {}): BenchJob => ({
  kind: 'bench',
  label: 'm.onnx',
  model: { hash: H, size: 10 },
  inputs: [],
  options: { threads: 2, warmup: 5, runs: 10, optLevel: 'all', executionMode: 'sequential', shapes: { x: [1, 3, 8, 8] }, dims: {}, seed: 0, values: {} },
  ...over,
});

describe('sha256 for the page', () => {
  it('matches node:crypto at every padding boundary and on a large buffer', () => {
    const big = new Uint8Array(3 * 2 ** 20 + 17).map((_, i) => (i * 2654435761) >>> 24);
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000]) {
      const b = big.subarray(0, n);
      expect(sha256Hex(b)).toBe(createHash('sha256').update(b).digest('hex'));
    }
    expect(sha256Hex(big)).toBe(createHash('sha256').update(big).digest('hex'));
    expect(sha256Hex(big.subarray(5, 500))).toBe(createHash('sha256').update(big.subarray(5, 500)).digest('hex')); // a view at an offset
  });
});

describe('chunks', () => {
  it('round-trip through frames and put the blob back together', () => {
    const limits = { ...DEFAULT_LIMITS, chunkBytes: 7 };
    const bytes = new Uint8Array(30).map((_, i) => i);
    const asm = new BlobAssembler({ hash: H, size: 30 });
    let frames = 0;
    for (const f of chunksOf('r1', H, bytes, limits)) {
      const { header, bytes: part } = decodeChunk(f, limits);
      expect(header.run).toBe('r1');
      asm.add(header.offset, part);
      frames++;
    }
    expect(frames).toBe(5);
    expect(asm.done).toBe(true);
    expect([...asm.bytes]).toEqual([...bytes]);
    expect([...chunksOf('r1', H, new Uint8Array(0), limits)]).toHaveLength(1); // an empty blob is one empty chunk
  });

  it('refuse chunks out of order, past the declared size, over the chunk limit, or with a bad header', () => {
    const asm = new BlobAssembler({ hash: H, size: 10 });
    expect(() => asm.add(4, new Uint8Array(2))).toThrow(/expected 0/);
    asm.add(0, new Uint8Array(8));
    expect(() => asm.add(8, new Uint8Array(3))).toThrow(/more bytes than its declared 10/);
    const limits = { ...DEFAULT_LIMITS, chunkBytes: 4 };
    expect(() => decodeChunk(encodeChunk({ run: 'r', hash: H, offset: 0 }, new Uint8Array(5)), limits)).toThrow(/over the limit of 4/);
    expect(() => decodeChunk(encodeChunk({ run: 'r', hash: 'xyz', offset: 0 }, new Uint8Array(1)), limits)).toThrow(ProtocolError);
    expect(() => decodeChunk(new Uint8Array([255, 255, 0, 0, 1]), limits)).toThrow(/header length/);
    expect(() => decodeChunk(new Uint8Array(2), limits)).toThrow(/too short/);
  });
});

describe('messages are checked field by field', () => {
  it('accepts a well-formed job and refuses unknown fields, bad hashes, bad ranges and oversize blobs', () => {
    expect(checkJob(job(), DEFAULT_LIMITS).options.threads).toBe(2);
    expect(() => checkJob({ ...job(), extra: 1 }, DEFAULT_LIMITS)).toThrow(/unexpected field 'extra'/);
    expect(() => checkJob({ ...job(), kind: 'eval' }, DEFAULT_LIMITS)).toThrow(/job.kind/);
    expect(() => checkJob(job({ model: { hash: 'AB'.repeat(32), size: 1 } }), DEFAULT_LIMITS)).toThrow(/hash/);
    expect(() => checkJob(job({ model: { hash: H, size: DEFAULT_LIMITS.maxBlobBytes + 1 } }), DEFAULT_LIMITS)).toThrow(/size/);
    expect(() => checkJob({ ...job(), options: { ...job().options, threads: 0 } }, DEFAULT_LIMITS)).toThrow(/threads/);
    expect(() => checkJob({ ...job(), options: { ...job().options, seconds: 1 } }, DEFAULT_LIMITS)).toThrow(/runs and seconds/);
    expect(() => checkJob({ ...job(), options: { ...job().options, shapes: { x: [1, -1] } } }, DEFAULT_LIMITS)).toThrow(/shapes/);
    // two blobs within their own limit but over the job's
    const limits = { ...DEFAULT_LIMITS, maxBlobBytes: 100, maxJobBytes: 150 };
    const two = job({ model: { hash: H, size: 100 }, compare: { label: 'b', model: { hash: 'cd'.repeat(32), size: 100 }, settings: {} } });
    expect(() => checkJob(two, limits)).toThrow(/over the limit of 150/);
    // the same hash with two sizes
    expect(() => checkJob(job({ compare: { label: 'b', model: { hash: H, size: 11 }, settings: {} } }), DEFAULT_LIMITS)).toThrow(/two sizes/);
  });

  it('a profile job: its own options only, a bounded number of runs; its blobs are the model and the inputs', () => {
    const H2 = 'cd'.repeat(32);
    const pj: ProfileJob = { kind: 'profile', label: 'm.onnx', model: { hash: H, size: 10 }, inputs: [{ name: 'x', dtype: 1, dims: [1, 3], blob: { hash: H2, size: 12 } }], options: { threads: 2, runs: 10, warmup: 2, optLevel: 'all', dims: { seq: 8 } } };
    expect(checkJob(JSON.parse(JSON.stringify(pj)), DEFAULT_LIMITS)).toEqual(pj);
    expect(jobBlobs(pj).map((b) => b.hash)).toEqual([H, H2]);
    const bad = (over: object) => () => checkJob({ ...pj, ...over }, DEFAULT_LIMITS);
    expect(bad({ options: { ...pj.options, values: {} } })).toThrow(/job.options: unexpected field 'values'/);
    expect(bad({ options: { ...pj.options, runs: MAX_PROFILE_RUNS, warmup: 1 } })).toThrow(/at most 1000 profiled runs/);
    expect(bad({ options: { ...pj.options, runs: 0 } })).toThrow(ProtocolError);
    expect(bad({ compare: job().compare ?? {} })).toThrow(/unexpected field 'compare'/);
    expect(bad({ kind: 'eval' })).toThrow(/job.kind: expected one of bench, profile/);
    expect(() => checkJob(pj, { ...DEFAULT_LIMITS, maxJobBytes: 21 })).toThrow(/its blobs come to 22 bytes/);
  });

  it('parses each side only the messages that side may receive', () => {
    const info = { userAgent: 'Mozilla/5.0 (Linux; Android 14) Chrome/120.0', hardwareConcurrency: 8, threads: true, simd: true, webgpu: false, ort: '1.30.0' };
    expect(parsePageMessage(JSON.stringify({ t: 'hello', info }), DEFAULT_LIMITS).t).toBe('hello');
    expect(() => parsePageMessage(JSON.stringify({ t: 'hello', info: { ...info, threads: 'yes' } }), DEFAULT_LIMITS)).toThrow(/threads/);
    expect(() => parsePageMessage(JSON.stringify({ t: 'job', run: 'r1', job: job() }), DEFAULT_LIMITS)).toThrow(/unknown message type/); // a page cannot send jobs
    expect(() => parsePageMessage(JSON.stringify({ t: 'progress', run: 'r1', fraction: 2 }), DEFAULT_LIMITS)).toThrow(/fraction/);
    expect(() => parsePageMessage('{', DEFAULT_LIMITS)).toThrow(/not JSON/);
    expect(() => parsePageMessage(' '.repeat(100), { ...DEFAULT_LIMITS, maxMessageBytes: 10 })).toThrow(/over the limit/);
    expect(parseToPageMessage(JSON.stringify({ t: 'job', run: 'r1', job: job() }), DEFAULT_LIMITS).t).toBe('job');
    expect(() => parseToPageMessage(JSON.stringify({ t: 'job', run: '../x', job: job() }), DEFAULT_LIMITS)).toThrow(/run/);
    expect(parseControlMessage(JSON.stringify({ t: 'run', device: 'auto', job: job() }), DEFAULT_LIMITS).t).toBe('run');
    expect(() => parseControlMessage(JSON.stringify({ t: 'run', device: 'a b', job: job() }), DEFAULT_LIMITS)).toThrow(/device/);
  });
});

describe('names, tokens and hosts', () => {
  it('names devices from their user agent and takes only plain names from the URL', () => {
    expect(deviceBaseName('Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36')).toBe('chrome-android');
    expect(deviceBaseName('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1')).toBe('safari-ios');
    expect(deviceBaseName('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0')).toBe('firefox-linux');
    expect(checkedName('pixel7')).toBe('pixel7');
    expect(checkedName('auto')).toBeUndefined();
    expect(checkedName('a/b')).toBeUndefined();
    expect(checkedName('<script>')).toBeUndefined();
  });

  it('compares tokens exactly, and lets only this server’s own names in as Host', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches('', 'abc')).toBe(false);
    expect(tokenMatches(null, 'abc')).toBe(false);
    const loop = allowedHosts('127.0.0.1', 8080);
    expect(loop.has('127.0.0.1:8080')).toBe(true);
    expect(loop.has('localhost:8080')).toBe(true);
    expect(loop.has('[::1]:8080')).toBe(true);
    expect(loop.has('evil.example:8080')).toBe(false); // a DNS-rebound name
    expect(loop.has('127.0.0.1:8081')).toBe(false);
    expect(allowedHosts('192.168.1.5', 80).has('192.168.1.5:80')).toBe(true);
    expect(allowedHosts('192.168.1.5', 80).has('localhost:80')).toBe(false);
  });
});

describe('execution provider on a device', () => {
  const withAdapter = { requestAdapter: async () => ({ info: { vendor: 'fake' } }) };
  const adapterless = { requestAdapter: async () => null };
  const failing = { requestAdapter: async () => Promise.reject(new Error('GPU process crashed')) };
  it('takes WebGPU only where an adapter is there; webgpu without one is a one-line input error', async () => {
    expect(await chooseProvider('auto', withAdapter)).toEqual({ ep: 'webgpu', note: 'webgpu (auto: the device has a WebGPU adapter)' });
    expect(await chooseProvider('webgpu', withAdapter)).toEqual({ ep: 'webgpu', note: 'webgpu (asked for)' });
    expect(await chooseProvider('wasm', withAdapter)).toEqual({ ep: 'wasm', note: 'wasm (asked for)' });
    expect(await chooseProvider('auto', adapterless)).toEqual({ ep: 'wasm', note: 'wasm (auto: WebGPU is exposed but no adapter is available)' });
    expect(await chooseProvider('auto', undefined)).toEqual({ ep: 'wasm', note: 'wasm (auto: this browser has no WebGPU)' });
    expect(await chooseProvider('auto', failing)).toMatchObject({ ep: 'wasm' });
    await expect(chooseProvider('webgpu', adapterless)).rejects.toThrow(InputError);
    await expect(chooseProvider('webgpu', undefined)).rejects.toThrow(/cannot run on webgpu on this device: this browser has no WebGPU/);
  });
  it('a job names its provider; anything else is refused', () => {
    expect((checkJob(job({ options: { ...job().options, ep: 'auto' } }), DEFAULT_LIMITS) as BenchJob).options.ep).toBe('auto');
    expect(() => checkJob(job({ options: { ...job().options, ep: 'webgl' as never } }), DEFAULT_LIMITS)).toThrow(ProtocolError);
  });
});
