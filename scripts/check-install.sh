#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds examples/consumer
# against it twice: with find_package(graphc) and with pkg-config.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
# Only graphc_* may leave the shared library.
bad=$(nm -D --defined-only "$prefix"/lib/*/libgraphc.so 2>/dev/null || nm -D --defined-only "$prefix"/lib/libgraphc.so)
bad=$(echo "$bad" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^graphc_' || true)
if [ -n "$bad" ]; then echo "libgraphc.so exports non-graphc symbols:"; echo "$bad"; exit 1; fi
cmake -S examples/consumer -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
LD_LIBRARY_PATH="$prefix/lib:$prefix/lib/x86_64-linux-gnu" "$prefix/consumer-build/consumer"
pc=$(find "$prefix" -name graphc.pc -printf '%h\n')
cc -std=c11 -Wall -Wextra -Werror examples/consumer/consumer.c -o "$prefix/consumer-pc" \
   $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs graphc) -lm -Wl,-rpath,"$pc/.."
"$prefix/consumer-pc"
echo "install: ok (find_package and pkg-config consumers ran)"
