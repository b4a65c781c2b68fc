import { DataType } from '../ir/dtype.js';
import { Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { replaceValue } from '../rewrite/apply.js';
import type { Pass, PassResult } from './pass.js';

/** The tensor a Constant node produces, whichever attribute holds it (value, value_float, value_ints…). */
export function constantNodeTensor(n: Node): Tensor | undefined {
  const a = n.attrs.values().next().value;
  if (!a || n.attrs.size !== 1) return undefined;
  const v = a.value;
  switch (a.name) {
    case 'value':
      return v.type === 'tensor' ? v.value : undefined;
    case 'value_float':
      return v.type === 'float' ? Tensor.scalar(DataType.FLOAT, v.value) : undefined;
    case 'value_floats':
      return v.type === 'floats' ? Tensor.float([v.value.length], v.value) : undefined;
    case 'value_int':
      return v.type === 'int' ? Tensor.scalar(DataType.INT64, v.value) : undefined;
    case 'value_ints':
      return v.type === 'ints' ? Tensor.int64([v.value.length], v.value) : undefined;
    default:
      return undefined; // sparse_value, value_string(s): left alone
  }
}

/**
 * Constant nodes → initializers (exporters such as Paddle2ONNX store every weight as a Constant node).
 * Initializers are what the other passes and ORT's own optimizer treat as weights.
 */
export const constantToInitializer: Pass = {
  id: 'constant-to-initializer',
  doc: 'turn Constant nodes into initializers',
  params: {},
  run(model): PassResult {
    let converted = 0;
    for (const g of model.graph.allGraphs()) {
      for (const n of [...g.nodes]) {
        if (n.opType !== 'Constant' || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
        const t = constantNodeTensor(n);
        const out = n.outputs[0];
        if (!t || !out) continue;
        // a graph output keeps its Constant: an initializer cannot be a graph output in every runtime
        if (g.isOutput(out)) continue;
        const name = out.name;
        out.name = g.uniqueName(`${name}_const`);
        const init = g.addInitializer(t.clone(), name);
        replaceValue(g, out, init);
        g.removeNode(n);
        converted++;
      }
    }
    return { model, modified: converted > 0, stats: converted ? { converted } : {} };
  },
};

/** Initializers → Constant nodes, for runtimes or tools that want weights as nodes. */
export const initializerToConstant: Pass = {
  id: 'initializer-to-constant',
  doc: 'turn initializers into Constant nodes (only when a target needs it)',
  params: {},
  run(model): PassResult {
    const g = model.graph;
    let converted = 0;
    for (const v of [...g.initializers.values()]) {
      if (g.inputs.includes(v) || g.isOutput(v)) continue; // overridable inputs stay initializers
      const t = v.initializer!;
      g.removeInitializer(v);
      v.initializer = undefined;
      const n = new Node('Constant', [], [v], { name: g.uniqueName(`${v.name}/Constant`), attrs: [{ name: 'value', value: { type: 'tensor', value: t } }] });
      g.addNode(n, g.nodes[0]); // before everything: Constant nodes have no inputs
      converted++;
    }
    return { model, modified: converted > 0, stats: converted ? { converted } : {} };
  },
};
