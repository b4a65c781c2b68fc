import { describe, expect, it } from 'vitest';
import { searchCatalog } from '../search/catalog.js';
import { DEFAULT_SESSION, type Recipe } from '../search/recipe.js';
import { summarize, timingClass } from './coordinator.js';
import { describeFingerprint, fingerprintFrom, hardwareClass, isaFlags, type Fingerprint } from './fingerprint.js';
import { checkJob, decodeResult, encodeResult, MAX_JOB_BYTES, type SearchContext } from './protocol.js';
import { mask, parseRedisUrl } from './redis-url.js';
import { MachineLock } from './worker.js';
import { CandidateRefusedError, JobRefusedError, jobError, THIS_JOB_ONLY, type Cluster, type WorkerInfo, type WorkerStats } from './cluster.js';
import { InputError } from '../errors.js';

const H = (c: string) => c.repeat(64);
const ctx: SearchContext = { model: H('a'), input: {}, backend: 'node', workload: H('b'), calibration: H('c') };
const recipe: Recipe = { target: 'cpu', steps: [{ pass: 'quantize-dynamic', params: { perChannel: true } }], session: DEFAULT_SESSION };
const catalog = searchCatalog();

describe('jobs from the queue', () => {
  it('accepts recipes and refuses anything else, naming the problem', () => {
    expect(checkJob({ kind: 'time', ctx, recipe, runs: 30 }, catalog)).toEqual({ kind: 'time', ctx, recipe, runs: 30 });
    expect(checkJob({ kind: 'score', ctx, recipe, shard: { index: 1, count: 2 } }, catalog).kind).toBe('score');
    const refused = (job: unknown) => () => checkJob(job, catalog);
    expect(refused({ kind: 'exec', code: 'process.exit()' })).toThrow(/unknown kind/);
    expect(refused({ kind: 'time', ctx, recipe, code: 'x' })).toThrow(/unknown field 'code'/);
    // a pass's declared parameters decide: an unknown pass, an unknown parameter, a value out of its domain
    expect(refused({ kind: 'time', ctx, recipe: { ...recipe, steps: [{ pass: 'shell', params: {} }] } })).toThrow(/unknown pass 'shell'/);
    expect(refused({ kind: 'time', ctx, recipe: { ...recipe, steps: [{ pass: 'quantize-dynamic', params: { command: 'rm' } }] } })).toThrow(/command/);
    expect(refused({ kind: 'time', ctx, recipe: { ...recipe, steps: [{ pass: 'quantize-dynamic', params: { weightType: 'int3' } }] } })).toThrow(/weightType/);
    expect(refused({ kind: 'time', ctx: { ...ctx, model: 'abc' }, recipe })).toThrow(/sha256/);
    expect(refused({ kind: 'score', ctx, recipe, shard: { index: 2, count: 2 } })).toThrow(/shard.index/);
    const dims = Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`d${i}`, 1]));
    expect(refused({ kind: 'time', ctx: { ...ctx, input: { dims } }, recipe })).toThrow(new RegExp(`over the ${MAX_JOB_BYTES}-byte limit`));
    expect(refused({ kind: 'eval', model: H('d'), data: '/d', options: { batch: 8, threads: 2, backend: 'node', image: { normalize: { $where: 1 } } }, shard: { index: 0, count: 1 } })).toThrow(/options.image.normalize/);
  });

  it('results keep NaN and infinities (plain JSON would turn them into null)', () => {
    const v = { a: NaN, b: [Infinity, -Infinity, 1.5], c: { $num: 'x', d: 1 } };
    expect(decodeResult(encodeResult(v))).toEqual(v);
  });
});

describe('Redis URLs', () => {
  it('parses password, TLS and db, and never shows the password', () => {
    const t = parseRedisUrl('rediss://app:s%40cret@queue.example:6380/2', {});
    expect(t).toMatchObject({ host: 'queue.example', port: 6380, tls: true, username: 'app', password: 's@cret', db: 2 });
    expect(t.display).toBe('rediss://app:***@queue.example:6380/2');
    expect(parseRedisUrl('redis://127.0.0.1', { INFEROPT_REDIS_PASSWORD: 'pw' })).toMatchObject({ port: 6379, tls: false, password: 'pw', display: 'redis://:***@127.0.0.1' });
    expect(() => parseRedisUrl('http://:hunter2@host', {})).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => parseRedisUrl('http://:hunter2@host', {})).not.toThrow(/hunter2/);
    expect(() => parseRedisUrl('redis://host/abc', {})).toThrow(/database number/);
    expect(mask('redis://:hunter2@host:1')).toBe('redis://:***@host:1');
  });
});

describe('hardware fingerprints', () => {
  const base = { cpuModel: 'Xeon  X', cores: 8, ortVersion: '1.30.0', backend: 'node' as const, platform: 'linux', arch: 'x64' };
  it('keeps the ISA extensions that change ORT kernels, and classes tell machines apart', () => {
    expect(isaFlags('processor : 0\nflags\t\t: fpu sse4_2 avx2 avx512f avx512_vnni ht\n')).toEqual(['avx2', 'avx512_vnni', 'avx512f', 'sse4_2']);
    expect(isaFlags('Features\t: fp asimd asimddp i8mm crc32\n')).toEqual(['asimd', 'asimddp', 'i8mm']);
    const a = fingerprintFrom({ ...base, cpuinfo: 'flags : avx2' });
    expect(a.cpuModel).toBe('Xeon X');
    expect(hardwareClass(a)).toBe(hardwareClass(fingerprintFrom({ ...base, cpuinfo: 'flags : avx2 ht' })));
    expect(hardwareClass(a)).not.toBe(hardwareClass(fingerprintFrom({ ...base, cpuinfo: 'flags : avx2 avx512f' })));
    expect(hardwareClass(a)).not.toBe(hardwareClass({ ...a, backend: 'wasm' }));
    expect(hardwareClass(a)).not.toBe(hardwareClass({ ...a, ortVersion: '1.29.0' }));
    expect(describeFingerprint(a)).toContain('8 cores · avx2 · ORT node 1.30.0');
  });

  it('the timing class: most workers on the backend; another backend never times', () => {
    const fp = (cores: number, backend: 'node' | 'wasm' = 'node'): Fingerprint => ({ ...base, cores, backend, isa: [] });
    const w = (name: string, f: Fingerprint): WorkerInfo => ({ name, class: hardwareClass(f), fingerprint: f, concurrency: 1, startedAt: '', host: '', pid: 1 });
    const ws = [w('a', fp(8)), w('b', fp(4)), w('c', fp(4)), w('d', fp(4, 'wasm')), w('e', fp(4, 'wasm')), w('f', fp(4, 'wasm'))];
    expect(timingClass(ws, 'node')).toBe(hardwareClass(fp(4)));
    expect(timingClass(ws, 'wasm')).toBe(hardwareClass(fp(4, 'wasm')));
    expect(timingClass(ws, 'node', hardwareClass(fp(8)))).toBe(hardwareClass(fp(8)));
    expect(() => timingClass(ws, 'node', hardwareClass(fp(4, 'wasm')))).toThrow(/no running worker of class/);
    expect(() => timingClass(ws.slice(3), 'node')).toThrow(/no running worker times on the node backend/);
  });

  it('the report lists every connected worker, those that ran nothing with 0 jobs', () => {
    const fp = (backend: 'node' | 'wasm'): Fingerprint => ({ ...base, backend, isa: [] });
    const w = (name: string, f: Fingerprint): WorkerInfo => ({ name, class: hardwareClass(f), fingerprint: f, concurrency: 1, startedAt: '', host: '', pid: 1 });
    const ws = [w('n1', fp('node')), w('web', fp('wasm'))];
    const stats = new Map<string, WorkerStats>([['n1', { worker: 'n1', class: ws[0]!.class, jobs: 3, busyMs: 900, kinds: { pipeline: 3 } }]]);
    const cluster = { target: { display: 'redis://127.0.0.1:1' }, stats } as unknown as Cluster;
    const s = summarize(cluster, ws, 1, ws[0]!.class);
    expect(s.workers.map((x) => [x.worker, x.jobs, x.timed])).toEqual([['n1', 3, true], ['web', 0, false]]);
    expect(s.jobs).toBe(3);
  });
});

describe('the machine lock of a worker', () => {
  it('a timing job waits for the scoring jobs running, and holds off new ones', async () => {
    const lock = new MachineLock();
    const events: string[] = [];
    const job = (name: string, excl: boolean, ms: number) =>
      lock.run(excl, async () => {
        events.push(`${name}+`);
        await new Promise((r) => setTimeout(r, ms));
        events.push(`${name}-`);
      });
    await Promise.all([job('s1', false, 30), job('s2', false, 30), job('t', true, 20), job('s3', false, 5)]);
    expect(events.slice(0, 2).sort()).toEqual(['s1+', 's2+']);
    expect(events.indexOf('t+')).toBeGreaterThan(Math.max(events.indexOf('s1-'), events.indexOf('s2-')));
    expect(events.indexOf('s3+')).toBeGreaterThan(events.indexOf('t-'));
  });
});

describe('a worker\'s refusal, on the coordinator', () => {
  it('a refusal for the run stops it; a refusal of one job fails that candidate only; other errors stay as they are', () => {
    const run = jobError(new Error('refused by worker rooted: the data "/d" is outside this worker\'s --data-root'));
    expect(run).toBeInstanceOf(JobRefusedError);
    expect((run as JobRefusedError).abortsSearch).toBe(true);
    expect(run.message).toBe('refused by worker rooted: the data "/d" is outside this worker\'s --data-root');
    const one = jobError(new Error(`refused by worker w-1.a${THIS_JOB_ONLY}: unknown pass 'shell'`));
    expect(one).toBeInstanceOf(CandidateRefusedError);
    expect(one).toBeInstanceOf(InputError); // on the baseline: the user's one line, exit 2
    expect((one as { abortsSearch?: boolean }).abortsSearch).toBeUndefined();
    const other = new Error('ORT could not load the model');
    expect(jobError(other)).toBe(other);
    // a worker cannot make its reason pass for the marker: it follows the name, before the colon
    expect(jobError(new Error(`refused by worker w1: x${THIS_JOB_ONLY}: y`))).toBeInstanceOf(JobRefusedError);
  });
});
