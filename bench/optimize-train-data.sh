#!/usr/bin/env bash
# optimize --train-data on spam-bert (the bounded search), then the reproduce command its results.json prints, back to
# back: run it under one `measure-run` hold. `bench/optimize-train-data.sh [out-dir]` (default tmp/sb8); BUDGET=1m for a dry run.
set -u
cd "$(dirname "$0")/.."
OUT=${1:-tmp/sb8}
echo "commit $(git rev-parse HEAD)  start $(date -u +%FT%TZ)"
/usr/bin/time -v node bin/inferopt.js optimize models/spam-bert/model.onnx -o "$OUT" --data models/spam-bert/test.json \
  --train-data models/spam-bert/train.json --prune-steps 30 --train-steps 30 --budget "${BUDGET:-10m}" > "$OUT.optimize.log" 2>&1
echo "optimize rc $?  end $(date -u +%FT%TZ)"
CMD=$(node -e 'const r=require(process.argv[1]);process.stdout.write(r.timing.reproduce||"")' "$PWD/$OUT/results.json")
echo "reproduce: $CMD"
if [ -n "$CMD" ]; then
  echo "start bench $(date -u +%FT%TZ)"
  /usr/bin/time -v node bin/${CMD/#inferopt /inferopt.js } > "$OUT.bench.log" 2>&1
  echo "bench rc $?  end $(date -u +%FT%TZ)"
fi
