#!/usr/bin/env bash
# DDP training through `graphc train` under mpirun (docs/ddp.md, "Training
# with DDP"):
#  1. an MLP (SGD with momentum) and a small CNN (Adam), 20 steps on 2 and
#     4 ranks, equal single-rank training on the global batch (the plain
#     step, no communicator): every param and every step's loss within
#     1e-5 relative (compare.py);
#  2. the step graph (printed once) has one all_reduce_start per bucket of
#     the plan table printed beside it;
#  3. a global batch that does not divide by the number of ranks fails on
#     every rank with a clear error, quickly, without a hang;
#  4. so does one rank failing alone before training (the others name it).
# Every mpirun runs under a hard time limit (GRAPHC_DDP_TEST_TIMEOUT, 120 s).
# Usage: test_ddp_train.sh PATH/TO/graphc [MPIRUN]
set -u
graphc=${1:?usage: test_ddp_train.sh PATH/TO/graphc [MPIRUN]}
mpirun=${2:-mpirun}
here=$(cd "$(dirname "$0")" && pwd)
limit=${GRAPHC_DDP_TEST_TIMEOUT:-120}
read -r -a mpi_args <<< "${GRAPHC_MPI_ARGS:---mca btl self,vader}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# ranks NP OUT ARGS...: graphc train on NP ranks, stdout in OUT, stderr in
# OUT.err; returns the exit status (124/137 after the time limit).
ranks() {
  local np=$1 out=$2
  shift 2
  timeout --kill-after=10 "$limit" "$mpirun" --allow-run-as-root --oversubscribe -np "$np" \
    "${mpi_args[@]}" "$graphc" train "$@" >"$out" 2>"$out.err"
}

# The same training, one rank (the plain step) then NP ranks with bucket
# cap CAP (MiB); compare.   train_case MODEL.gc NAME CAP TRAIN-ARGS...
train_case() {
  local model=$1 name=$2 cap=$3
  shift 3
  local common=(--steps 20 --random 11 --int-range 0:10 --init-seed 5 "$@")
  if ! timeout "$limit" "$graphc" train "$here/$model" "${common[@]}" \
      --params-out "$tmp/$name.1" >"$tmp/$name.1.log" 2>"$tmp/$name.1.err"; then
    bad "$name: single-rank run failed: $(head -c 500 "$tmp/$name.1.err")"
    return
  fi
  ok
  for np in 2 4; do
    local start=$SECONDS
    if ! ranks "$np" "$tmp/$name.$np.log" "$here/$model" "${common[@]}" --bucket-cap-mb "$cap" \
        --params-out "$tmp/$name.$np"; then
      bad "$name: $np ranks: exit $? :: $(head -c 800 "$tmp/$name.$np.log.err")"
      continue
    fi
    echo "$name on $np ranks ($((SECONDS - start)) s): $(grep -m1 '^step time median' "$tmp/$name.$np.log")"
    grep -q "params identical on every rank" "$tmp/$name.$np.log" && ok ||
      bad "$name: $np ranks: no in-sync line"
    [ "$(grep -c '^step [0-9]* loss .* time .* ms$' "$tmp/$name.$np.log")" = 20 ] && ok ||
      bad "$name: $np ranks: expected 20 step lines from rank 0 only: $(head -c 2000 "$tmp/$name.$np.log")"
    /usr/bin/python3 "$here/compare.py" --label "$name, $np ranks vs 1" --tol 1e-5 \
      "$tmp/$name.$np" "$tmp/$name.$np.log" "$tmp/$name.1" "$tmp/$name.1.log" && ok ||
      bad "$name: $np ranks differ from one rank"
  done
}

train_case mlp.gc mlp 0.002 --sym B=16 --lr 0.1 --momentum 0.9
train_case cnn.gc cnn 0.001 --sym N=8 --lr 0.01 --optimizer adam

# 2. Bucket count: all_reduce_start nodes in the printed step graph = plan
# rows with params = the count the header states.
if ranks 2 "$tmp/graph.log" "$here/mlp.gc" --steps 1 --lr 0.1 --sym B=4 --random 1 \
    --int-range 0:10 --bucket-cap-mb 0.002 --print-graph; then
  starts=$(grep -c '= all_reduce_start(' "$tmp/graph.log")
  rows=$(awk '/^piece ops/{t=1; next} t && /^[0-9]+ /{if ($NF != "-") n++; next} t{t=0} END{print n+0}' "$tmp/graph.log")
  said=$(sed -n "s/^step graph '.*': \([0-9]*\) all_reduce_start.*/\1/p" "$tmp/graph.log")
  echo "bucket count: plan $rows buckets, step graph $starts all_reduce_start, header says $said"
  if [ "$starts" = 3 ] && [ "$rows" = 3 ] && [ "$said" = 3 ]; then ok
  else bad "bucket count: $(cat "$tmp/graph.log" | head -c 3000)"; fi
  [ "$(grep -c '= wait(' "$tmp/graph.log")" = 3 ] && ok || bad "expected 3 waits"
  sed -n '/^graph ddp_test_mlp_train_step/,/^}/p' "$tmp/graph.log" >"$tmp/step.gc"
  "$graphc" check "$tmp/step.gc" >/dev/null 2>"$tmp/check.err" && ok ||
    bad "printed step graph does not check: $(head -c 500 "$tmp/check.err")"
  # Printed once, by rank 0.
  [ "$(grep -c '^graph ddp_test_mlp_train_step' "$tmp/graph.log")" = 1 ] && ok ||
    bad "step graph printed more than once"
else
  bad "bucket-count run failed: $(head -c 800 "$tmp/graph.log.err")"
fi

# 3. A global batch of 15 on 2 ranks: every rank fails, saying why.
start=$SECONDS
ranks 2 "$tmp/odd.log" "$here/mlp.gc" --steps 2 --lr 0.1 --sym B=15 --random 1 --int-range 0:10
rc=$?
took=$((SECONDS - start))
if [ $rc = 0 ]; then bad "indivisible batch: exit 0"
elif [ $rc = 124 ] || [ $rc = 137 ]; then bad "indivisible batch: hung (killed after $limit s)"
else
  n=$(grep -c "rank [01]: error: .*has 15 rows in dim 0 (the global batch), which 2 ranks cannot share equally" "$tmp/odd.log.err")
  [ "$n" = 2 ] && ok || bad "indivisible batch: expected the error from both ranks: $(cat "$tmp/odd.log.err")"
  [ "$took" -lt 60 ] && ok || bad "indivisible batch: took $took s"
  grep -q '^step ' "$tmp/odd.log" && bad "indivisible batch: it trained" || ok
  echo "indivisible batch: exit $rc after $took s; $(grep -m1 'rank 0: error' "$tmp/odd.log.err")"
fi

# 4. One rank failing alone while preparing (a missing file, MPMD form)
# stops every rank at once; the others name it.
start=$SECONDS
odd=("$here/mlp.gc" --steps 2 --lr 0.1 --sym B=4 --random 1 --int-range 0:10)
timeout --kill-after=10 "$limit" "$mpirun" --allow-run-as-root --oversubscribe "${mpi_args[@]}" \
  -np 1 "$graphc" train "${odd[@]}" : -np 1 "$graphc" train "${odd[@]}" --in x="$tmp/none.npy" \
  >"$tmp/alone.log" 2>"$tmp/alone.err"
rc=$?
took=$((SECONDS - start))
if [ $rc = 0 ] || [ $rc = 124 ] || [ $rc = 137 ]; then bad "one rank failing: exit $rc after $took s"
else
  grep -q "rank 1: error: input 'x': .*none.npy" "$tmp/alone.err" && ok ||
    bad "one rank failing: no error from rank 1: $(cat "$tmp/alone.err")"
  grep -q "rank 0: error: rank 1 failed while preparing to train" "$tmp/alone.err" && ok ||
    bad "one rank failing: rank 0 does not name rank 1: $(cat "$tmp/alone.err")"
  [ "$took" -lt 60 ] && ok || bad "one rank failing: took $took s"
  echo "one rank failing: exit $rc after $took s"
fi

echo "ddp training: $pass passed, $fail failed"
[ "$fail" = 0 ]
