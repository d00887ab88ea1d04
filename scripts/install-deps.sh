#!/usr/bin/env bash
# Installs everything libgraphc builds and tests with, from Debian 12's
# archive only. Safe to run again; needs root (as on CI and a fresh box).
set -euo pipefail
pkgs=(build-essential cmake pkg-config ninja-build
      llvm-19-dev libcriterion-dev libdlpack-dev
      python3 python3-numpy python3-torch
      libopenmpi-dev openmpi-bin libopenblas-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: ok (${#missing[@]} installed now)"
