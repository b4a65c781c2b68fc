#!/usr/bin/env bash
# The quantize tool's own wall time and peak RSS on bert-base, another build and this checkout interleaved:
#   measure-run bench/quantize-tool.sh <dynamic|static> <rounds> <other checkout, e.g. an archive of main>
# Needs tmp/m/bb.onnx (`inferopt zoo bert-base -o tmp/m/bb.onnx`) and, for static, tmp/m/bb-simp.onnx
# (`inferopt simplify tmp/m/bb.onnx -o tmp/m/bb-simp.onnx`). Prints each run's wall and peak RSS and whether the
# two builds wrote the same bytes.
set -u
cd "$(dirname "$0")/.."
mode=$1; rounds=$2; other=$3
if [ "$mode" = dynamic ]; then in=tmp/m/bb.onnx; extra=(--mode dynamic); else in=tmp/m/bb-simp.onnx; extra=(--mode static --calib random:8 --dim seq=128 --dim batch=1 --no-cache); fi
for r in $(seq 1 "$rounds"); do
  for b in other this; do
    if [ $b = other ]; then bin=$other/bin/inferopt.js; else bin=bin/inferopt.js; fi
    out=tmp/m/$mode-$b-$r.onnx
    /usr/bin/time -o tmp/m/time.txt -f '%e s %M KB' node "$bin" quantize $in -o "$out" "${extra[@]}" >/dev/null 2>tmp/m/err.txt || { echo FAIL; tail -3 tmp/m/err.txt; }
    echo "$mode round $r $b: $(cat tmp/m/time.txt) $(stat -c %s "$out") bytes"
  done
  cmp tmp/m/$mode-other-$r.onnx tmp/m/$mode-this-$r.onnx && echo "  round $r: outputs byte-identical"
  rm -f tmp/m/$mode-other-$r.onnx tmp/m/$mode-this-$r.onnx
done
