/** Content hashes for keys (CSE, caches): SHA-1 from Node's crypto. ./hash.browser.ts is the bundle's version. */
import { createHash } from 'node:crypto';

/** Hex digest of the parts, in order; equal parts give equal digests. */
export function contentHash(parts: readonly (string | Uint8Array)[], algorithm: 'sha1' | 'sha256' = 'sha1'): string {
  const h = createHash(algorithm);
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Whether two byte arrays hold the same bytes (memcmp through Buffer). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
