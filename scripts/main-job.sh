#!/usr/bin/env bash
# The README's main job: install, build, then data-parallel training of
# examples/ddp_mlp.gc (784-512-512-512-10 MLP, cross-entropy, SGD with
# momentum) for 30 steps on 2 MPI ranks through the reference interpreter,
# DDP "whole" mode: one step graph per rank with one averaging all-reduce
# per gradient bucket (docs/ddp.md, "Training with DDP"). The bucket cap is
# 1 MiB (--bucket-cap-mb 1) so this small model splits into 3 buckets; at
# the default 25 MiB it would be one. The data is synthetic and seeded
# (--random), the same global batch of 16 on every rank before each rank
# takes its 8 rows. Then the same training runs on one rank with the whole
# batch (self communicator), and the params and per-step losses of the two
# runs are compared: the job fails if they differ by more than 1e-5
# (relative). The previous main job (every example through the
# interpreter) is scripts/run-examples.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build
graphc=build/tools/graphc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
train=(examples/ddp_mlp.gc --steps 30 --lr 0.02 --momentum 0.9 --sym B=16 --random 1
       --int-range 0:10 --init-seed 0 --bucket-cap-mb 1)
# Shared memory between the ranks; no single-copy mechanism, which
# containers often forbid (ptrace).
mpi=(--allow-run-as-root --oversubscribe -np 2 --mca btl self,vader
     --mca btl_vader_single_copy_mechanism none)

echo "### DDP training on 2 ranks: mpirun -np 2 graphc train ${train[*]}"
timeout --kill-after=10 600 mpirun "${mpi[@]}" "$graphc" train "${train[@]}" \
  --params-out "$out/ranks2" | tee "$out/ranks2.log"

echo
echo "### The same training on 1 rank with the global batch: graphc train ${train[*]} --comm self"
timeout 600 "$graphc" train "${train[@]}" --comm self --params-out "$out/rank1" | tee "$out/rank1.log"

echo
echo "### 2 ranks (A) against 1 rank (B)"
/usr/bin/python3 integration/ddp/compare.py --per-step --tol 1e-5 --label "2 ranks vs 1 rank" \
  "$out/ranks2" "$out/ranks2.log" "$out/rank1" "$out/rank1.log"
echo "step time median: 2 ranks $(sed -n 's/^step time median \([0-9.]* ms\).*/\1/p' "$out/ranks2.log"), 1 rank $(sed -n 's/^step time median \([0-9.]* ms\).*/\1/p' "$out/rank1.log")"
echo "main job: ok"
