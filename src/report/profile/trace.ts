import { writeAtomic } from '../../ir/io.js';

/**
 * Writes ORT's trace events as a Chrome-trace JSON object (`{traceEvents: [...]}`), which chrome://tracing
 * and ui.perfetto.dev open directly.
 */
export function writeTrace(file: string, rawEvents: readonly unknown[], metadata: Record<string, unknown> = {}): void {
  const json = JSON.stringify({ traceEvents: rawEvents, displayTimeUnit: 'ms', otherData: { producer: 'inferopt profile', ...metadata } });
  writeAtomic(file, [new TextEncoder().encode(json)], '--trace');
}
