#!/usr/bin/env bash
# Runs every graph in examples/ through the reference interpreter on seeded
# random inputs, printing each graph's signature and results (the main
# job before DDP training took its place). A `# run: ARGS` line in an
# example gives the symbol sizes and integer ranges it needs (e.g.
# `# run: --sym B=4`). Expects a build in build/ (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
graphc=${GRAPHC:-build/tools/graphc}
n=0
for f in examples/*.gc; do
  args=$(sed -n 's/^# run: //p' "$f" | head -n 1)
  echo "### $f"
  $graphc info "$f"
  # shellcheck disable=SC2086
  $graphc run "$f" --random 0 $args --print
  n=$((n + 1))
done
echo "ran $n example graphs through the interpreter"
