import { describe, expect, it } from 'vitest';
import { peakRssBytes } from './memory.js';

describe('peakRssBytes', () => {
  it('is at least the current RSS and rises when memory is touched', () => {
    const rssBefore = process.memoryUsage.rss();
    expect(peakRssBytes()).toBeGreaterThanOrEqual(rssBefore * 0.99);
    const block = new Uint8Array(96 * 2 ** 20).fill(1); // written, so resident
    expect(peakRssBytes()).toBeGreaterThanOrEqual(rssBefore + 64 * 2 ** 20);
    expect(block[block.length - 1]).toBe(1);
  });
});
