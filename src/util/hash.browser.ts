/**
 * Content hashes in a browser bundle (replaces ./hash.ts): no synchronous SHA there, so four independent
 * 32-bit multiply-xorshift lanes over the bytes (128 bits; for keys, not for security). Strings are
 * hashed as UTF-8 with a separator so that ['ab','c'] and ['a','bc'] differ.
 */
const encoder = new TextEncoder();
const SEEDS = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f];

export function contentHash(parts: readonly (string | Uint8Array)[], _algorithm: 'sha1' | 'sha256' = 'sha1'): string {
  const h = SEEDS.slice();
  const mix = (b: number) => {
    for (let k = 0; k < 4; k++) {
      let x = Math.imul(h[k]! ^ b, 0x01000193 + 2 * k);
      x ^= x >>> 15;
      h[k] = Math.imul(x, SEEDS[(k + 1) % 4]! | 1);
    }
  };
  for (const p of parts) {
    const bytes = typeof p === 'string' ? encoder.encode(p) : p;
    for (let i = 0; i < bytes.length; i++) mix(bytes[i]!);
    mix(0x100 + (bytes.length & 0xff)); // part boundary and length
  }
  return h.map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
}

/** Whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
