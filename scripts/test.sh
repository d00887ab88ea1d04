#!/usr/bin/env bash
# The README's test command: installs, builds, runs every test.
#   unit suites (Criterion), integration (CLI vs PyTorch, examples), the
#   installed package used from an outside CMake project and pkg-config.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
phase() { local t=$(date +%s); echo "== $1 ($((t - t0)) s since start)"; }
phase "install dependencies"
bash scripts/install-deps.sh
phase "build"
bash scripts/build.sh build
phase "tests"
ctest --test-dir build --output-on-failure -j "$(nproc)"
phase "install + outside consumer"
bash scripts/check-install.sh build
phase "done"
