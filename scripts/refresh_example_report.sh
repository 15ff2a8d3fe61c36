#!/usr/bin/env bash
# Regenerate reports/mrcnn-small-fix.html from a real `opaudit fix` run of the small Mask R-CNN.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
.venv/bin/opaudit fix --model mrcnn --config small --no-cache --profile --out "$out"  # cached reports keep their old renderer; --profile: the latency section
cp "$out/report.html" reports/mrcnn-small-fix.html
rm -rf "$out"
echo "wrote reports/mrcnn-small-fix.html"
