import type { Command } from 'commander';

/** Examples shown at the end of each command's --help, by command path (as in the README). */
const EXAMPLES: Record<string, string[]> = {
  inferopt: ['inferopt demo', 'inferopt zoo bert-tiny -o bert.onnx', 'inferopt optimize model.onnx --data data/ -o out/', 'inferopt <command> --help'],
  eval: [
    'inferopt eval classifier.onnx --data data/fashion-mnist-1k --batch 32',
    'inferopt eval int8.onnx --data data/fashion-mnist-1k --reference fp32.onnx --json',
    'inferopt eval rec.onnx --data ocr/rec.json --metric cer --limit 200',
    'inferopt eval model.onnx --data /usr/share/datasets/fashion-mnist --limit 1000',
  ],
  device: ['inferopt device serve --host 0.0.0.0   # then open the printed URL (or scan the QR code) on the phone', 'inferopt device list', 'inferopt bench model.onnx --device auto'],
  'device serve': ['inferopt device serve', 'inferopt device serve --host 0.0.0.0 --port 8790   # phones on this network'],
  'device list': ['inferopt device list', 'inferopt device list --json'],
  data: ['inferopt data render-ocr -o ocr --count 500', 'inferopt data info data/fashion-mnist-1k'],
  'data render-ocr': ['inferopt data render-ocr -o ocr --count 500 --seed 0', 'inferopt eval rec.onnx --data ocr/rec.json --metric cer'],
  'data spam-assassin': ['inferopt data spam-assassin -o spam.jsonl --body-only'],
  'data idx-subset': ['inferopt data idx-subset /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz -o fm1k --count 1000'],
  'data render-video': ['inferopt data render-video -o video --frames 300 --size 640x360 --seed 0'],
  pipeline: ['inferopt pipeline run spec.yaml --frames video/ --budget 33ms -o run/'],
  'pipeline run': ['inferopt pipeline run spec.yaml --frames video/ --budget 33ms -o run/', 'inferopt pipeline run spec.yaml --frames video/ --limit 50 --json'],
  'data info': ['inferopt data info data/fashion-mnist-1k', 'inferopt data info ocr/rec.json'],
  bench: [
    'inferopt bench model.onnx --threads 2 --runs 100',
    'inferopt bench bert.onnx --dim seq=128 --seconds 10 --json',
    'inferopt bench model.onnx --compare model.int8.onnx --runs 200',
    'inferopt bench model.onnx --compare out/model.optimized.onnx --threads 2 --compare-threads 1   # as optimize timed them (report.md: reproduce)',
    'inferopt bench model.onnx --compare model.int8.onnx --device auto --threads 1   # on a phone or browser: inferopt device serve',
  ],
  inspect: ['inferopt inspect resnet50.onnx', 'inferopt inspect bert.onnx --dim batch=8 --dim seq=256 --json'],
  profile: ['inferopt profile model.onnx --threads 2 --runs 20', 'inferopt profile bert.onnx --dim seq=128 --top 20 --trace bert.trace.json'],
  optimize: [
    'inferopt optimize model.onnx --data data/fashion-mnist-1k -o out/',
    'inferopt optimize rec.onnx --data ocr/rec.json --metric cer --max-accuracy-drop 1 -o rec-opt/ --budget 5m',
    'inferopt optimize bert.onnx --dim seq=128 --min-speedup 2 -o bert-opt/',
    'inferopt optimize model.onnx --recipe out/recipe.json -o again/',
    'inferopt optimize model.onnx --data data/fashion-mnist-1k -o out/ --workers redis://:secret@queue-host:6379',
    'inferopt optimize model.onnx --target wasm --device auto -o web/   # timed on a phone or browser: inferopt device serve',
    'inferopt optimize spam-bert/onnx/model.onnx --data spam.json --layout transformers.js -o spam-web/   # onnx/model_int8.onnx (the dtype the chosen form is), config, tokenizer',
  ],
  worker: ['inferopt worker --redis redis://:secret@queue-host:6379 --name box1', 'inferopt worker --redis rediss://queue-host:6380 --concurrency 2'],
  demo: ['inferopt demo', 'inferopt demo -o /tmp/demo --budget 2m'],
  zoo: ['inferopt zoo', 'inferopt zoo resnet50 -o resnet50.onnx --seed 1', 'inferopt zoo bert-base -o bert.onnx --layer-norm fused'],
  simplify: ['inferopt simplify bert.onnx -o bert.simple.onnx', 'inferopt simplify det.onnx -o det.simple.onnx --target std --json', 'inferopt simplify bert.onnx -o b.onnx --skip fuse-attention --explain'],
  verify: [
    'inferopt verify bert.onnx bert.simple.onnx --dim seq=128 --int-range 30522',
    'inferopt verify fp32.onnx int8.onnx --data data/fashion-mnist-1k --limit 64 --atol 0.05',
    'inferopt verify model.onnx simple.onnx --data /usr/share/libonnx-testdata/data/node/test_relu',
  ],
  train: ['inferopt train init.onnx --data models/fashion-mnist/train.json --test models/fashion-mnist/test.json -o fm.onnx --epochs 3 --schedule cosine'],
  'pipeline optimize': ['inferopt pipeline optimize data/pipelines/paddleocr-video.yaml --frames video --budget 50ms --max-accuracy-drop 1 -o opt'],
  prune: ['inferopt prune fm.onnx -o fm.u80.onnx --granularity unstructured --sparsity 0.8 --train-data train.json --epochs 1'],
  qat: ['inferopt qat models/fashion-mobilenet/model.onnx --train-data models/fashion-mnist/train.json --data models/fashion-mnist/test.json -o fmb.qat.onnx --ptq-output fmb.ptq.onnx --weight-bits 4'],
  distill: ['inferopt distill --teacher models/spam-bert/model.onnx --student-from-teacher every:2,width:0.5 --data models/spam-bert/train.json --test models/spam-bert/test.json -o student.onnx'],
  quantize: [
    'inferopt quantize bert.onnx -o bert.int8.onnx --mode dynamic',
    'inferopt quantize resnet50.onnx -o r50.int8.onnx --mode static --calib images/ --calib-limit 100',
    'inferopt quantize rec.onnx -o rec.int8.onnx --mode static --calib ocr/rec.json --max-accuracy-drop 0.5 --data ocr/rec.json --metric cer',
    'inferopt quantize bert.onnx -o bert.q4.onnx --mode weight-only --bits 4 --block-size 32',
    'inferopt quantize hf-bert/ --layout transformers.js --dtype fp32,q8,q4 -o hf-bert-q/',
  ],
};

function pathOf(c: Command): string {
  const names: string[] = [];
  for (let x: Command | null = c; x && x.parent; x = x.parent) names.unshift(x.name());
  return names.length ? names.join(' ') : c.name();
}

/** Adds an Examples section to the help of `program` and of every command under it that has examples. */
export function addExamples(program: Command): void {
  const visit = (c: Command) => {
    const ex = EXAMPLES[pathOf(c)];
    if (ex) c.addHelpText('after', `\nExamples:\n${ex.map((e) => `  ${e}`).join('\n')}\n`);
    c.commands.forEach(visit);
  };
  visit(program);
}

/** Command paths without examples (for the test that every command has some). */
export function commandsWithoutExamples(program: Command): string[] {
  const out: string[] = [];
  const visit = (c: Command) => {
    if (c.name() !== 'help' && !EXAMPLES[pathOf(c)]) out.push(pathOf(c));
    c.commands.forEach(visit);
  };
  visit(program);
  return out;
}
