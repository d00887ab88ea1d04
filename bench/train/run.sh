#!/bin/sh
# Training-step benchmark: one full step (forward + backward + SGD) through
# `graphc train --backend cpu` (the step graph compiled once) beside
# PyTorch eager in the same run, and peak memory of each.
#   bench/train/run.sh [BUILD_DIR]    (default: the build/ next to bench/)
# Models: mlp_train.gc (4 x Linear 1024 + ReLU, mse, batch 64) and
# cnn_train.gc (BASELINES.md's small CNN, cross_entropy, batch 32).
# libgraphc: median over STEPS-1 steps (step 1, which faults its memory in,
# is warm-up); peak = arena (graphc_executable_peak_bytes) + the step's
# outputs (new params). PyTorch: torch_train.py, median after 5 warm-up
# steps; peak = growth of peak RSS over one step. Threads per BASELINES.md:
# MLP torch 1 + OPENBLAS_NUM_THREADS=2, CNN torch 2. Only same-run ratios
# count (shared machine). Targets: libgraphc throughput >= 1.25x PyTorch
# (MLP), >= 1.2x (CNN) with tuned malloc.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$HERE/../../build}
GRAPHC=$BUILD/tools/graphc
PY=/usr/bin/python3
STEPS=${STEPS:-25}
TUNED="MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=268435456"
WORK=$(mktemp -d /tmp/graphc-bench-train-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "== machine: $(nproc) cores; $(uptime)"

graphc_step() { # graphc_step MODEL B EXTRA...: prints "ms peak" or "- -"
  model=$1 b=$2; shift 2
  if OPENBLAS_NUM_THREADS=2 "$GRAPHC" train "$HERE/$model.gc" --steps "$STEPS" --lr 0.01 \
      --random 1 --sym B="$b" --backend cpu --time "$@" >"$WORK/$model.out" 2>&1; then
    sed -n 's/^step time median \([0-9.]*\) ms.*peak bytes \([0-9]*\).*/\1 \2/p' "$WORK/$model.out"
  else
    echo "graphc train $model failed:" >&2; tail -3 "$WORK/$model.out" >&2; echo "- -"
  fi
}
kv() { sed -n "s/^KV $1 //p" "$WORK/torch.kv" | tail -1; }

: >"$WORK/torch.kv"
# Interleaved: PyTorch tuned, libgraphc, PyTorch default malloc.
env $TUNED OPENBLAS_NUM_THREADS=2 $PY "$HERE/torch_train.py" mlp --threads 1 2>/dev/null >>"$WORK/torch.kv"
set -- $(graphc_step mlp_train 64); g_mlp_ms=$1 g_mlp_peak=$2
env OPENBLAS_NUM_THREADS=2 $PY "$HERE/torch_train.py" mlp --threads 1 --tag _default 2>/dev/null >>"$WORK/torch.kv"
env $TUNED OPENBLAS_NUM_THREADS=1 $PY "$HERE/torch_train.py" cnn --threads 2 2>/dev/null >>"$WORK/torch.kv"
set -- $(graphc_step cnn_train 32 --int-range 0:10); g_cnn_ms=$1 g_cnn_peak=$2
env OPENBLAS_NUM_THREADS=1 $PY "$HERE/torch_train.py" cnn --threads 2 --tag _default 2>/dev/null >>"$WORK/torch.kv"

echo
printf '%-32s %12s %12s %12s %8s %12s %12s\n' "training step (fwd+bwd+SGD)" "libgraphc ms" "PyTorch ms" "torch dflt" "speedup" "graphc peak" "torch peak"
row() { # row LABEL GMS TMS TDEF GPEAK TPEAK TARGET
  r=$(awk -v g="$2" -v t="$3" 'BEGIN { if (g + 0 > 0 && t + 0 > 0) printf "%.2fx", t / g; else print "-" }')
  printf '%-32s %12s %12s %12s %8s %12s %12s  (target >= %s)\n' "$1" "$2" "$3" "$4" "$r" "$5" "$6" "$7"
}
row "MLP 4x1024 relu, mse, B=64" "$g_mlp_ms" "$(kv torch_mlp_ms)" "$(kv torch_mlp_default_ms)" \
    "$g_mlp_peak" "$(kv torch_mlp_peak_bytes)" 1.25x
row "CNN conv32/conv64/pool/fc, B=32" "$g_cnn_ms" "$(kv torch_cnn_ms)" "$(kv torch_cnn_default_ms)" \
    "$g_cnn_peak" "$(kv torch_cnn_peak_bytes)" 1.2x
echo "(speedup = PyTorch tuned-malloc ms / libgraphc ms; peaks in bytes: libgraphc arena +"
echo " step outputs, PyTorch peak-RSS growth over one step)"
