#!/usr/bin/env bash
# The graphc command line end to end: every subcommand's --help, the
# examples, .npy in and out (checked with NumPy), and bad input: each must
# exit 1 or 2 with one clear line on stderr, never crash (exit >= 128).
set -u
graphc=${1:?usage: test_cli.sh PATH/TO/graphc}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect CODE CMD...: exit status must be CODE; for errors, stderr one line
expect() {
  local want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" != "$want" ]; then bad "exit $rc (want $want): $* :: $(head -c 300 "$tmp/err")"; return; fi
  if [ "$want" != 0 ] && [ "$(grep -c . "$tmp/err")" -lt 1 ]; then bad "no error line: $*"; return; fi
  if [ "$want" = 1 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then bad "error is not one line: $* :: $(cat "$tmp/err")"; return; fi
  ok
}

for c in check print info run ops passes split train grad; do expect 0 "$graphc" $c --help; done
expect 0 "$graphc" --help
expect 0 "$graphc" --version
expect 2 "$graphc"
expect 2 "$graphc" frobnicate
expect 2 "$graphc" run
expect 2 "$graphc" run "$src/examples/mlp.gc" --bogus
expect 2 "$graphc" check
expect 0 "$graphc" ops

for f in "$src"/examples/*.gc; do
  expect 0 "$graphc" check "$f"
  expect 0 "$graphc" info "$f"
  # print is canonical: printing the printed text gives the same bytes
  "$graphc" print "$f" >"$tmp/p1.gc" && "$graphc" print "$tmp/p1.gc" >"$tmp/p2.gc" &&
    cmp -s "$tmp/p1.gc" "$tmp/p2.gc" && ok || bad "print not canonical: $f"
  args=$(sed -n 's/^# run: //p' "$f" | head -n 1)
  # shellcheck disable=SC2086
  expect 0 "$graphc" run "$f" --random 3 $args --out "$tmp/out_$(basename "$f" .gc)"
done

# .npy in and out, checked against NumPy.
cat >"$tmp/axpy.gc" <<'G'
graph axpy(a: f64[] input, x: f32[N, 3] input, y: f32[N, 3] input) {
  %ax = mul(a, x)
  %r = add(%ax, y)
  %m = amax(%r, dim=[1], keepdim=true)
  return %r, %m
}
G
/usr/bin/python3 - "$tmp" <<'PY' || bad "writing npy inputs"
import sys, numpy as np
d = sys.argv[1]; rng = np.random.default_rng()
np.save(f"{d}/a.npy", np.array(1.5)); np.save(f"{d}/x.npy", rng.standard_normal((5, 3)).astype(np.float32))
np.save(f"{d}/y.npy", rng.standard_normal((5, 3)).astype(np.float32))
np.save(f"{d}/y64.npy", rng.standard_normal((5, 3)))
np.save(f"{d}/y_short.npy", rng.standard_normal((4, 3)).astype(np.float32))
PY
expect 0 "$graphc" run "$tmp/axpy.gc" --in a="$tmp/a.npy" --in x="$tmp/x.npy" --in y="$tmp/y.npy" --out "$tmp/res"
/usr/bin/python3 - "$tmp" <<'PY' && ok || bad "axpy result differs from NumPy"
import sys, numpy as np
d = sys.argv[1]; x = np.load(f"{d}/x.npy"); y = np.load(f"{d}/y.npy")
r = np.load(f"{d}/res/r.npy"); m = np.load(f"{d}/res/m.npy")
want = (np.float32(1.5) * x + y)
assert r.dtype == np.float32 and r.shape == (5, 3), (r.dtype, r.shape)
assert np.allclose(r, want, rtol=1e-6, atol=1e-6) and np.array_equal(m, r.max(1, keepdims=True))
PY
expect 1 "$graphc" run "$tmp/axpy.gc" --in a="$tmp/a.npy" --in x="$tmp/x.npy" --in y="$tmp/y64.npy"
expect 1 "$graphc" run "$tmp/axpy.gc" --in a="$tmp/a.npy" --in x="$tmp/x.npy" --in y="$tmp/y_short.npy"
expect 1 "$graphc" run "$tmp/axpy.gc" --in a="$tmp/a.npy" --in x="$tmp/x.npy"
expect 1 "$graphc" run "$tmp/axpy.gc" --in a="$tmp/a.npy" --in x="$tmp/x.npy" --in y="$tmp/missing.npy"
expect 1 "$graphc" run "$tmp/axpy.gc" --in a="$tmp/a.npy" --in x="$tmp/x.npy" --in y="$tmp/y.npy" --backend cuda
head -c 100 "$tmp/y.npy" >"$tmp/trunc.npy"
expect 1 "$graphc" run "$tmp/axpy.gc" --in a="$tmp/a.npy" --in x="$tmp/x.npy" --in y="$tmp/trunc.npy"
printf '\x93NUMPY\x01\x00\x40\x00{"descr": "<f4", "fortran_order": False, "shape": (999999,), }         \n' >"$tmp/lie.npy"
expect 1 "$graphc" run "$tmp/axpy.gc" --in a="$tmp/a.npy" --in x="$tmp/x.npy" --in y="$tmp/lie.npy"
expect 1 "$graphc" check "$tmp/nonexistent.gc"
expect 1 "$graphc" check "$tmp"

# Malformed models: one error line each, never a crash.
for f in "$src"/unittests/malformed/*.gc; do
  [ -e "$f" ] || continue
  expect 1 "$graphc" check "$f"
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
