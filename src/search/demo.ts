import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { paddleOcrAssets, renderOcrSet } from '../data/render-ocr.js';
import type { InputSpec } from '../runtime/inputs.js';

/** The model and data `inferopt demo` optimizes. */
export interface DemoCase {
  model: string;
  /** Dataset spec; absent: fidelity on random inputs. */
  data?: string;
  description: string;
  /** Input shapes for timing (the CNN is timed on batches of 32, as a server would run it). */
  input?: InputSpec;
  /** Removes temporary data made for the demo. */
  cleanup(): void;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The shipped default: the Fashion-MNIST CNN trained by `inferopt train` (models/fashion-mnist) with the
 * committed 1,000-image test subset, when the model is there; else PaddleOCR's text-direction classifier with
 * a small labelled set rendered on the spot (0° / 180° text lines); else that classifier with fidelity on
 * random inputs (no fonts to render with).
 */
export async function demoCase(log: (line: string) => void = () => {}): Promise<DemoCase> {
  const cnn = path.join(repoRoot, 'models/fashion-mnist/model.onnx');
  const fmnist = path.join(repoRoot, 'data/fashion-mnist-1k/dataset.json');
  if (fs.existsSync(cnn) && fs.existsSync(fmnist)) {
    return {
      model: cnn,
      data: fmnist,
      description: 'the Fashion-MNIST CNN trained by inferopt (models/fashion-mnist), 1,000 test images, timed on batches of 32',
      input: { shapes: { image: [32, 1, 28, 28] } },
      cleanup: () => {},
    };
  }
  const cls = path.join(paddleOcrAssets(), 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inferopt-demo-data-'));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    log('rendering 160 labelled text lines (0° and 180°) for the PaddleOCR direction classifier…');
    const r = await renderOcrSet({ outDir: dir, count: 160, pages: 1, seed: 7 });
    return { model: cls, data: r.files.cls, description: "PaddleOCR's text-direction classifier (ch_ppocr_mobile_v2.0_cls), 160 rendered text lines", cleanup };
  } catch (e) {
    cleanup();
    log(`could not render text (${(e as Error).message.split('\n')[0]}); using fidelity on random inputs instead`);
    return { model: cls, description: "PaddleOCR's text-direction classifier, fidelity to itself on random inputs (no fonts to render labelled data)", cleanup: () => {} };
  }
}

/** A fresh output folder: `base`, else `base-2`, `base-3`… — an existing folder is never reused. */
export function freshDir(base: string): string {
  if (!fs.existsSync(base)) return base;
  for (let i = 2; ; i++) if (!fs.existsSync(`${base}-${i}`)) return `${base}-${i}`;
}
