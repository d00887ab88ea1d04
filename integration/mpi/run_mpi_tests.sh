#!/bin/bash
# Runs the MPI checks: test_mpi_comm and test_mpi_collectives under mpirun
# with 2 and 4 ranks (oversubscribed: CI has 2 cores), then
# test_mpi_collectives with 2 ranks where libgraphc initialises MPI itself. Every mpirun runs under a hard time
# limit (GRAPHC_MPI_TEST_TIMEOUT, default 240 s), so a hang fails the test
# instead of stalling CI.
# Usage: run_mpi_tests.sh path/to/test_mpi_collectives path/to/test_mpi_comm [mpirun]
set -u
collectives=${1:?usage: run_mpi_tests.sh TEST_MPI_COLLECTIVES TEST_MPI_COMM [MPIRUN]}
comm=${2:?usage: run_mpi_tests.sh TEST_MPI_COLLECTIVES TEST_MPI_COMM [MPIRUN]}
mpirun=${3:-mpirun}
limit=${GRAPHC_MPI_TEST_TIMEOUT:-240}
# Shared memory only by default (one host); GRAPHC_MPI_ARGS overrides.
read -r -a mpi_args <<< "${GRAPHC_MPI_ARGS:---mca btl self,vader}"
status=0

# A hard timeout around mpirun: `timeout` as the backstop, and a poll for
# `limit` seconds that then TERMs mpirun (which forwards it to its ranks)
# and KILLs whatever of it and its ranks is left — recorded by PID, since
# each rank sits in its own process group.
run() { # run NP DRIVER ARGS...
  local np=$1 driver=$2
  shift 2
  echo "== mpirun -np $np $(basename "$driver") $*"
  local start=$SECONDS
  timeout --kill-after=10 $((limit + 20)) \
    "$mpirun" --allow-run-as-root --oversubscribe -np "$np" "${mpi_args[@]}" "$driver" "$@" &
  local pid=$! rc
  while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - start)) -lt "$limit" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    local runner ranks
    runner=$(pgrep -P "$pid")
    ranks=$(for p in $runner; do pgrep -P "$p"; done)
    kill -TERM $runner 2>/dev/null
    sleep 5
    kill -KILL $ranks $runner "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "FAIL: -np $np $(basename "$driver") $*: hung (killed after ${limit} s)"
    status=1
    return
  fi
  wait "$pid"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: -np $np $(basename "$driver") $*: exit status $rc"
    status=1
  else
    echo "ok: -np $np $(basename "$driver") $* ($((SECONDS - start)) s)"
  fi
}

for np in 2 4; do
  run $np "$comm"
  run $np "$collectives"
done
run 2 "$collectives" --init-by-graphc
exit $status
