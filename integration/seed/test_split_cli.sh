#!/usr/bin/env bash
# `graphc split` end to end on the SEED models in this folder: the plan
# table (pieces, bytes, params, reasons, symbols in/out, where inputs come
# from), the extended-piece count, the first-cap clamp note, --dot, the
# printed pieces (each must pass `graphc check`), and bad usage (exit 2) or
# bad input (exit 1) with a message, never a crash.
set -u
graphc=${1:?usage: test_split_cli.sh PATH/TO/graphc}
seed=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# run CODE ARGS...: graphc split ARGS must exit CODE; stdout in $tmp/out
run() {
  local want=$1; shift
  "$graphc" split "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" != "$want" ]; then bad "exit $rc (want $want): split $* :: $(head -c 300 "$tmp/err")"; return 1; fi
  if [ "$want" != 0 ] && [ ! -s "$tmp/err" ]; then bad "no error message: split $*"; return 1; fi
  ok
}
# has REGEX: the last output has a line matching REGEX
has() { grep -Eq -- "$1" "$tmp/out" && ok || bad "no line matching '$1' in: $(head -c 2000 "$tmp/out")"; }

# ToyModel at the default 25 MiB cap: 3 pieces with the worked-out bytes.
run 0 "$seed/toy_model.gc" && {
  has "^graph 'toy_model': 8 ops, 3 pieces$"
  has "^bucket cap 26214400 B, first bucket cap 1048576 B"
  has "^extended pieces: 0$"
  has "^0 +2 +0-1 +220000 +bucket boundary +- +- +net.0.weight,net.0.bias$"
  has "^1 +2 +2-3 +100020000 +bucket boundary"
  has "^2 +4 +4-7 +100120020 +bucket boundary .*net.6.weight,net.6.bias,net.4.weight,net.4.bias$"
  has "in +a1 +input +f32\[20, 5000\] +<- piece 1 output 0$"
  has "^graph output 0 \(a3\) <- piece 2 output 0$"
}
run 0 "$seed/ctx_manager.gc" --bucket-cap-mb 3.5 && has "4 pieces$"
run 0 "$seed/no_split.gc" --bucket-cap-mb 250 && has "^0 +8 +0-7 +580 +one bucket, no cut"
run 0 "$seed/custom_layer.gc" --bucket-cap-mb 1 && has "3 pieces$"
run 0 "$seed/custom_layer.gc" --ignore seq.2.weight --ignore seq.4.linear.bias && {
  has "2 pieces$"
  grep -q "seq.2.weight,\|,seq.2.weight\| seq.2.weight$" "$tmp/out" && bad "ignored param in a bucket" || ok
}
run 0 "$seed/higher_order_op.gc" --bucket-cap-mb 1 && has "2 pieces$"
run 0 "$seed/issue90375.gc" && has "1 piece$"

# F > C is clamped, with a note; --ranks is reported.
run 0 "$seed/toy_model.gc" --bucket-cap-mb 1 --first-bucket-cap-mb 2 --ranks 4 && {
  has "^note: first bucket cap 2097152 B exceeds bucket cap 1048576 B: clamped to 1048576 B$"
  has "^ranks: 4;"
}

# Symbols across cuts.
run 0 "$seed/symbol_splitting.gc" && {
  has "^1 .* s0 +- +weight2$"
  has "in +s0 +symbol +i64\[\] +<- dim 0 of graph input 0 \(x\)$"
}
run 0 "$seed/unbacked_torture_multi.gc" --bucket-cap-mb 1 && {
  has "^0 .* - +u0 +weight1$"
  has "out u0 +symbol +i64\[\] +-> piece 1 piece 2$"
  has "in +a +input +f32\[u0\] +<- piece 1 output 1$"
}
run 0 "$seed/strides_dont_specialize.gc" && has "in +h +input +f32\[16, s1, 768\] +<- piece 0 output 0$"

# An extended piece: the dead matmul's piece cannot close before %a.
cat >"$tmp/ext.gc" <<'EOF'
graph ext(x: f32[2, 4] input, w1: f32[4, 4] param, w2: f32[4, 4] param) {
  %a = matmul(x, w1)
  %dead = matmul(x, w2)
  return %a
}
EOF
run 0 "$tmp/ext.gc" --bucket-cap-mb 0.00006103515625 && {
  has "^extended pieces: 1$"
  has "\(extended by 1 ops\)$"
}

# --dot writes Graphviz with one cluster per piece and red crossing edges.
run 0 "$seed/unbacked_torture_multi.gc" --bucket-cap-mb 1 --dot "$tmp/p.dot" && {
  head -1 "$tmp/p.dot" | grep -q '^digraph "unbacked_torture_multi" {$' && ok || bad "dot header"
  [ "$(grep -c 'subgraph cluster_p' "$tmp/p.dot")" = 3 ] && ok || bad "dot clusters"
  grep -q 'n1 -> n5 \[style=dashed.*label="u0"\]' "$tmp/p.dot" && ok || bad "dot symbol edge"
  tail -1 "$tmp/p.dot" | grep -q '^}$' && ok || bad "dot not closed"
}

# --print-pieces: every piece is a graph that checks on its own.
for m in unbacked_torture_multi symbol_splitting higher_order_op custom_layer; do
  run 0 "$seed/$m.gc" --bucket-cap-mb 1 --print-pieces || continue
  awk -v dir="$tmp" '/^graph [A-Za-z_][A-Za-z0-9_.]*\(/{n++; f=dir "/piece" n ".gc"} n{print > f}' "$tmp/out"
  count=0
  for f in "$tmp"/piece*.gc; do
    count=$((count + 1))
    "$graphc" check "$f" >/dev/null 2>"$tmp/err" && ok || bad "$m piece $f does not check: $(cat "$tmp/err")"
  done
  [ "$count" -ge 2 ] && ok || bad "$m: expected several pieces, got $count"
  rm -f "$tmp"/piece*.gc
done

# Bad usage and bad input.
run 2 "$seed/toy_model.gc" --bucket-cap-mb
run 2 "$seed/toy_model.gc" --bucket-cap-mb -1
run 2 "$seed/toy_model.gc" --bucket-cap-mb nan
run 2 "$seed/toy_model.gc" --ranks 0
run 2 "$seed/toy_model.gc" --bogus
run 2 "$seed/toy_model.gc" "$seed/no_split.gc"
run 2
run 1 "$tmp/missing.gc"
run 1 "$seed/toy_model.gc" --dot "$tmp/no/such/dir/p.dot"
printf 'graph s(x: f32[2, N] input, w: f32[N, 4] param) {\n  %%a = matmul(x, w)\n  return %%a\n}\n' >"$tmp/sym.gc"
run 1 "$tmp/sym.gc" && grep -q "param 'w' has the symbolic shape" "$tmp/err" && ok || bad "symbolic param message"

echo "split cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
