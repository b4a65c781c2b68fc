#!/bin/bash
# optimize's headline speed-up against the bench --compare command it prints (results.json timing.reproduce),
# back to back, on the Fashion-MNIST ResNet with the recipe session 4's `optimize --train-data` chose
# (prune channel 0.25, 200 distilled steps → simplify → static int8, 1 thread vs the input model's 2):
# twice on the quiet machine, then once with one core kept busy by a spinning process (what other helpers' jobs
# did to session 4's search). Run it alone: `measure-run bench/optimize-reproduce.sh` (about 2 minutes).
set -eu
cd "$(dirname "$0")/.."
out=${OUT:-tmp/bench-optimize-reproduce}
mkdir -p "$out"
sha=$(sha256sum models/fashion-mnist/model.onnx | cut -d' ' -f1)
cat > "$out/recipe.json" <<JSON
{ "format": "inferopt-recipe", "version": 1, "model": { "file": "model.onnx", "sha256": "$sha" },
  "recipe": { "target": "cpu", "session": { "threads": 1, "optLevel": "all", "executionMode": "sequential" },
    "steps": [ { "pass": "prune", "params": { "granularity": "channel", "steps": 200, "distill": 0.5, "sparsity": 0.25 } },
               { "pass": "simplify", "params": {} }, { "pass": "quantize-static", "params": {} } ] } }
JSON
one() {
  local dir="$out/$1"
  rm -rf "$dir"
  node bin/inferopt.js optimize models/fashion-mnist/model.onnx --recipe "$out/recipe.json" --data data/fashion-mnist-1k \
    --train-data models/fashion-mnist/train.json --train-limit 12000 -o "$dir" > "$dir.log" 2>&1
  node -e "const r=require('./$dir/results.json'); const s=r.sideBySide; console.log('$1: optimize', s.speedup.toFixed(3)+'×', '['+s.low.toFixed(3)+'–'+s.high.toFixed(3)+']', s.runs, 'rounds, p50', s.baseline.p50.toFixed(4), '→', s.chosen.p50.toFixed(4), 'ms; other processes', (100*(s.otherCpu?.share??NaN)).toFixed(0)+'% of', s.otherCpu?.cores, 'cores'); for (const w of r.warnings) if (/other processes/.test(w)) console.log('  warning:', w)"
  local cmd
  cmd=$(node -e "console.log(require('./$dir/results.json').timing.reproduce)")
  echo "$1: $cmd"
  eval "node bin/inferopt.js ${cmd#inferopt }" 2>&1 | grep -E "^p50|B/A"
}
one quiet-1
one quiet-2
node -e 'const t = Date.now(); while (Date.now() - t < 120000) {}' &
burner=$!
trap 'kill $burner 2>/dev/null || true' EXIT
sleep 1
one busy
