#!/bin/sh
# Runs every CPU benchmark beside its baselines and prints one summary table.
#   bench/run.sh [BUILD_DIR]      (default: the build/ next to bench/)
# Binaries: BUILD_DIR/bench/bench_{gelu_triad,sgemm,mlp} (built by the
# project; never run as tests). Baselines: PyTorch 1.13 (/usr/bin/python3)
# and ONNX Runtime from npm onnxruntime-node (installed once into
# $GRAPHC_BENCH_ORT_DIR, default /tmp/graphc-bench-ort; skipped, saying why,
# if that fails). The machine is shared: only same-run ratios count.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$HERE/../build}
BIN=$BUILD/bench
ORT_DIR=${GRAPHC_BENCH_ORT_DIR:-/tmp/graphc-bench-ort}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/graphc-bench-XXXXXX)
LOG=$WORK/kv.log
trap 'rm -rf "$WORK"' EXIT
export GRAPHC_BENCH_THREADS=${GRAPHC_BENCH_THREADS:-2}
TUNED="MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=268435456"

echo "== machine: $(nproc) cores; $(uptime)"
: >"$LOG"
step() { # step NAME CMD...: runs CMD, shows its output, keeps its KV lines
  name=$1; shift
  echo "== $name"
  # libgraphc benchmarks say everything in prose too; baselines only in KV.
  case $name in
    bench_*) "$@" 2>&1 | tee -a "$LOG" | grep -v '^KV ' || true ;;
    *) "$@" 2>&1 | tee -a "$LOG" | grep -v 'Warning\|warnings.warn' | sed 's/^KV /  /' ;;
  esac
}

run_bin() { # run_bin NAME: one libgraphc benchmark, if built
  if [ -x "$BIN/bench_$1" ]; then
    step "bench_$1" env OPENBLAS_NUM_THREADS="$GRAPHC_BENCH_THREADS" "$BIN/bench_$1"
  else
    echo "== bench_$1: not built ($BIN/bench_$1)"
  fi
}

# ONNX Runtime 1.30 through node: install once, or say why it is skipped.
ORT_LIB=$ORT_DIR/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
ORT_OK=0
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  ORT_WHY="node/npm not installed"; ORT_NOTE=no-node
else
  if [ ! -f "$ORT_LIB" ]; then
    echo "== installing onnxruntime-node into $ORT_DIR (npm, at most 300 s)"
    mkdir -p "$ORT_DIR"
    (cd "$ORT_DIR" && timeout 300 npm install --ignore-scripts onnxruntime-node >"$WORK/npm.log" 2>&1) ||
      tail -3 "$WORK/npm.log"
  fi
  if [ -f "$ORT_LIB" ]; then ORT_OK=1; else
    ORT_WHY="npm install of onnxruntime-node failed or timed out"; ORT_NOTE=npm-install-failed
  fi
fi
run_ort() { # run_ort [--only LIST]
  if [ $ORT_OK = 1 ]; then
    step "ONNX Runtime $(sed -n 's/.*"version": "\(.*\)".*/\1/p' \
      "$ORT_DIR/node_modules/onnxruntime-node/package.json" | head -1) (node) $*" \
      env NODE_PATH="$ORT_DIR/node_modules" node "$HERE/ort_baselines.js" "$WORK/onnx" "$@"
  else
    echo "== ONNX Runtime skipped: $ORT_WHY"
    for m in gelu mlp encoder; do echo "KV ort_${m}_note $ORT_NOTE" >>"$LOG"; done
  fi
}

# PyTorch: tuned malloc (the fair baseline) and default malloc. Matmul
# work: torch threads 1 + OpenBLAS threads 2 (set inside the script);
# elementwise: torch threads 2. The first call also exports the ONNX models.
run_torch() { # run_torch PREFIX [args]
  p=$1; shift
  if [ "$p" = torch ]; then m="tuned malloc"; e="$TUNED"; else m="default malloc"; e=""; fi
  step "PyTorch 1.13, $m $*" env OPENBLAS_NUM_THREADS="$GRAPHC_BENCH_THREADS" $e \
    $PY "$HERE/torch_baselines.py" --prefix "$p" "$@"
}

run_bin gelu_triad
run_torch torch --only gelu --onnx-dir "$WORK/onnx"
run_torch torchdef --only gelu
run_ort --only gelu
run_bin sgemm
# Inference: libgraphc and its peers take turns, ROUNDS times, so a change
# of load hits all of them; the table shows the median over rounds.
ROUNDS=${GRAPHC_BENCH_ROUNDS:-3}
r=1
while [ $r -le "$ROUNDS" ]; do
  echo "== inference round $r of $ROUNDS"
  run_bin mlp
  run_torch torch --only mlp,encoder
  run_ort --only mlp,encoder
  run_torch torchdef --only mlp,encoder
  r=$((r + 1))
done

echo "== summary (medians; $(date -u +%Y-%m-%dT%H:%MZ); load: $(cut -d' ' -f1-3 /proc/loadavg))"
$PY "$HERE/summary.py" <"$LOG"
