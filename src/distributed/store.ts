import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import { InputError } from '../errors.js';
import { MAX_BLOB_BYTES } from './protocol.js';

/** Redis key of a stored model. */
export const blobKey = (hash: string) => `inferopt:blob:${hash}`;

export const sha256 = (bytes: Uint8Array) => crypto.createHash('sha256').update(bytes).digest('hex');

/**
 * Content-addressed model store: a model is stored under the sha256 of its bytes and every copy read back
 * is hashed again before use. Workers keep what they fetched in a cache folder, by hash (verified on every
 * read too: a changed cache file is fetched again).
 */
export async function putBlob(redis: Redis, bytes: Uint8Array): Promise<string> {
  if (bytes.length > MAX_BLOB_BYTES) throw new InputError(`the model is ${bytes.length} bytes: over the ${MAX_BLOB_BYTES}-byte limit of the model store`);
  const hash = sha256(bytes);
  await redis.set(blobKey(hash), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'NX');
  return hash;
}

export class BlobCache {
  constructor(
    private readonly redis: Redis,
    readonly dir: string,
  ) {}

  /** The path of the model with this hash, fetched (and verified) once; refuses a model whose bytes do not hash to it. */
  async file(hash: string): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new InputError(`bad model hash '${hash.slice(0, 70)}'`);
    const file = path.join(this.dir, `${hash}.onnx`);
    if (fs.existsSync(file) && sha256(fs.readFileSync(file)) === hash) return file;
    const len = await this.redis.strlen(blobKey(hash));
    if (len === 0) throw new InputError(`model ${hash.slice(0, 12)}… is not in the store`);
    if (len > MAX_BLOB_BYTES) throw new InputError(`model ${hash.slice(0, 12)}… is ${len} bytes: over the ${MAX_BLOB_BYTES}-byte limit`);
    const bytes = await this.redis.getBuffer(blobKey(hash));
    if (!bytes) throw new InputError(`model ${hash.slice(0, 12)}… is not in the store`);
    const actual = sha256(bytes);
    if (actual !== hash) throw new InputError(`model ${hash.slice(0, 12)}… in the store hashes to ${actual.slice(0, 12)}…: refused`);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, bytes, { mode: 0o600 });
    fs.renameSync(tmp, file);
    return file;
  }
}
