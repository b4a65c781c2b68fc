#!/usr/bin/env bash
# optimize's own time on zoo bert-base (issue 16): the whole search, no data (fidelity to the input on 32
# seeded random inputs), seq 128, batch 1, the default 1-point bound and budget. Each candidate's log line
# says where its time went. Run it under measure-run: `measure-run bench/optimize-bert.sh [--no-early-stop]`.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${TMPDIR:-/tmp}/inferopt-bench-optimize-bert"
mkdir -p "$work"
[ -f "$work/bert-base.onnx" ] || node bin/inferopt.js zoo bert-base -o "$work/bert-base.onnx"
rm -rf "$work/out"
echo "start $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "wall %e s, peak RSS %M KB" node bin/inferopt.js optimize "$work/bert-base.onnx" --dim seq=128 --dim batch=1 --max-accuracy-drop 1 -o "$work/out" "$@" 2>&1 \
  | while IFS= read -r l; do echo "$(date -u +%T) $l"; done
echo "end $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
