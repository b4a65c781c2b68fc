import * as fs from 'node:fs';

/** This process's resident set size now, in bytes (0 where it cannot be read: see ./memory.browser.ts). */
export function rssBytes(): number {
  return process.memoryUsage.rss();
}

/**
 * This process's peak resident set size in bytes. On Linux it reads VmHWM from /proc/self/status:
 * `process.resourceUsage().maxRSS` survives fork + exec, so a process started by a big parent (a test
 * runner, a benchmark driver) would report the parent's peak instead of its own.
 */
export function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux: fall back below */
  }
  return process.resourceUsage().maxRSS * 1024;
}
