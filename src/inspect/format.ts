import { formatShape } from '../ir/types.js';
import { textTable } from '../report/text-table.js';
import type { InspectReport, InterfaceValue } from './inspect.js';

/** Renders an inspect report for a terminal: a few aligned sections, large numbers in K/M/G. */

/** 1234567 → '1.23 M'; below 1000 as is. */
export function humanCount(n: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [scale, unit] of units) if (Math.abs(n) >= scale) return `${(n / scale).toFixed(2)} ${unit}`;
  return String(n);
}

export function humanBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

const indent = (text: string) => text.split('\n').map((l) => `  ${l}`).join('\n');

function valueRows(vs: readonly InterfaceValue[]): string {
  if (vs.length === 0) return '  (none)';
  return indent(textTable(['name', 'type', 'shape'], vs.map((v) => [v.name, v.type, v.shape ? formatShape(v.shape) : '?'])));
}

function computeSection(r: InspectReport): string[] {
  const c = r.compute;
  if ('error' in c) return [`compute    not computed: ${c.error}`];
  const shapes = Object.entries(c.inputShapes).map(([k, s]) => `${k}=${s.join('x')}`).join(' ');
  const lines = [
    `compute    for ${shapes || '(no inputs)'}`,
    `  ${humanCount(c.macs)} MACs, ${humanCount(c.flops)} FLOPs, reads ${humanBytes(c.bytesRead)}, writes ${humanBytes(c.bytesWritten)}`,
  ];
  const top = c.byOp.filter((o) => o.flops > 0 || o.macs > 0).slice(0, 10);
  if (top.length) {
    const share = (f: number) => (c.flops > 0 ? `${((100 * f) / c.flops).toFixed(1)}%` : '-');
    lines.push(indent(textTable(['op', 'nodes', 'MACs', 'FLOPs', 'share'], top.map((o) => [o.op, o.count, humanCount(o.macs), humanCount(o.flops), share(o.flops)]))));
  }
  if (c.uncounted.length) lines.push(`  not counted (dynamic shapes): ${c.uncounted.map((u) => `${u.op} ×${u.count}`).join(', ')}`);
  return lines;
}

export function formatInspect(r: InspectReport, file?: string): string {
  const p = r.parameters;
  const lines: string[] = [];
  if (file) lines.push(`model      ${file}`);
  if (r.sizeOnDisk !== null) lines.push(`size       ${humanBytes(r.sizeOnDisk)} on disk (external data included)`);
  lines.push(`format     IR ${r.irVersion}; opsets ${r.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}`);
  lines.push(`producer   ${[r.producer.name, r.producer.version].filter(Boolean).join(' ') || '(not set)'}`);
  lines.push('', 'inputs', valueRows(r.inputs), 'outputs', valueRows(r.outputs), '');
  lines.push(`parameters ${humanCount(p.elements)} in ${p.tensors} tensors (initializers and Constant nodes), ${humanBytes(p.bytes)}`);
  if (p.byDtype.length) lines.push(indent(textTable(['dtype', 'tensors', 'elements', 'bytes'], p.byDtype.map((d) => [d.dtype, d.tensors, d.elements, humanBytes(d.bytes)]))));
  lines.push('', ...computeSection(r), '');
  lines.push(`ops        ${r.nodes} nodes, ${r.ops.length} op types`);
  lines.push(indent(textTable(['op', 'count'], r.ops.map((o) => [o.op, o.count]))));
  lines.push('');
  lines.push(`unknown    ${r.unknownOps.length ? r.unknownOps.map((u) => `${u.op} ×${u.count}`).join(', ') : 'none (every op has an inferopt registry entry)'}`);
  for (const f of r.inferenceFailures.slice(0, 5)) lines.push(`  shape inference failed at '${f.node}': ${f.reason}`);
  if (r.inferenceFailures.length > 5) lines.push(`  … and ${r.inferenceFailures.length - 5} more`);
  return lines.join('\n');
}
