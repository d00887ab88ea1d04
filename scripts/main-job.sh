#!/usr/bin/env bash
# The README's main job. Until distributed training lands (issue: DDP inside
# the compiled step), it installs, builds, and runs every graph in examples/
# through the reference interpreter on seeded random inputs, printing each
# graph's signature and results. A `# run: ARGS` line in an example gives the
# symbol sizes and integer ranges it needs (e.g. `# run: --sym B=4`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build
graphc=build/tools/graphc
n=0
for f in examples/*.gc; do
  args=$(sed -n 's/^# run: //p' "$f" | head -n 1)
  echo "### $f"
  $graphc info "$f"
  # shellcheck disable=SC2086
  $graphc run "$f" --random 0 $args --print
  n=$((n + 1))
done
echo "main job: ran $n example graphs through the interpreter"
