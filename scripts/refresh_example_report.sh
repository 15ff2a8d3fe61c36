#!/usr/bin/env bash
# Regenerate reports/mrcnn-small-fix.html from a real `opaudit fix` run of the small Mask R-CNN.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
# --no-cache: cached reports keep their old renderer; --profile: the latency section; --quantize: the
# quantized-variants section (exit 1 when a variant misses its bar: the report is still wanted).
rc=0
.venv/bin/opaudit fix --model mrcnn --config small --no-cache --profile --quantize fp16,dynamic --out "$out" || rc=$?
[ "$rc" -le 1 ] && [ -f "$out/report.html" ] || { echo "fix failed (exit $rc)" >&2; exit 1; }
cp "$out/report.html" reports/mrcnn-small-fix.html
rm -rf "$out"
echo "wrote reports/mrcnn-small-fix.html"
