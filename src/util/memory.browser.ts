/** A browser has no resident set size to read: memory figures are 0 there (replaces ./memory.ts in bundles). */
export function rssBytes(): number {
  return 0;
}

export function peakRssBytes(): number {
  return 0;
}
