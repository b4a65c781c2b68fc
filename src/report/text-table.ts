/** A plain-text table for terminals: columns padded, numbers right-aligned. */
export function textTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header.map(String), ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || /^[-+]?[\d.,]+(%|x|×| ms| MB)?$/.test(String(r[i]))));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function formatNumber(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  if (x !== 0 && Math.abs(x) < 10 ** -(digits - 1)) return x.toExponential(1);
  const a = Math.abs(x);
  const d = a >= 100 ? 1 : a >= 10 ? Math.max(1, digits - 2) : digits - 1;
  return x.toFixed(d);
}

export const pct = (share: number, digits = 1): string => `${(share * 100).toFixed(digits)}%`;
