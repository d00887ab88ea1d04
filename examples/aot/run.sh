#!/bin/sh
# Builds and runs the AOT example twice: with the model as an object file
# and as a shared library. Usage: examples/aot/run.sh [BUILD_DIR] [OUT_DIR]
# (defaults: ./build and BUILD_DIR/aot). Needs a C compiler, and `ld` for
# the shared library. Exits non-zero on any failure.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
OUT=${2:-$BUILD/aot}
mkdir -p "$OUT"
GRAPHC="$BUILD/tools/graphc"
CC=${CC:-cc}
# The runtime: the static libgraphc.a. The linker takes only the objects
# the program needs (executables, thread pool, loader), so no LLVM is
# linked: the link would fail if any of them needed it.
RT="$BUILD/libgraphc.a $(pkg-config --libs openblas 2>/dev/null || true) -lpthread -lm"
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -I$ROOT/include"

echo "== object file"
"$GRAPHC" compile "$ROOT/examples/mlp.gc" -o "$OUT/mlp.o" --header "$OUT/mlp.h" --no-cache
$CC $CFLAGS -I"$OUT" "$ROOT/examples/aot/main.c" "$OUT/mlp.o" $RT -o "$OUT/mlp_demo"
"$OUT/mlp_demo"

echo "== shared library"
mkdir -p "$OUT/so"
"$GRAPHC" compile "$ROOT/examples/mlp.gc" -o "$OUT/so/libmlp.so" --header "$OUT/so/mlp.h" --no-cache
$CC $CFLAGS -I"$OUT/so" "$ROOT/examples/aot/main.c" -L"$OUT/so" -lmlp -Wl,-rpath,"$OUT/so" $RT \
  -o "$OUT/so/mlp_demo"
"$OUT/so/mlp_demo"
