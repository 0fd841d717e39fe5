#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configure (once) and build one build tree.
# usage: scripts/build.sh [build|build-asan|build-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${1:-build}
# gcc and g++ explicitly: once clang is installed it may have become `cc`
# and `c++` (the C++ header test, tests/c/headers_cxx.cpp).
export CC=${CC:-gcc}
export CXX=${CXX:-g++}
# The project's own trees: warnings are errors (a user's plain `meson setup`
# keeps werror off, meson.build), and the generator is built, so that
# `make test` can check lisp/generated/ against the headers.
dev=(-Dwerror=true)
case "$tree" in
  build) opts=("${dev[@]}" -Dbindings_gen=enabled) ;;
  build-asan) opts=("${dev[@]}" -Dbindings_gen=enabled -Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=all -Db_lundef=false) ;;
  # libFuzzer targets: clang, whatever CC says (gcc has no -fsanitize=fuzzer);
  # meson.build adds the sanitizers when -Dfuzz=true.
  build-fuzz) export CC=clang CXX=clang++; opts=("${dev[@]}" -Dfuzz=true -Dtests=false -Db_lundef=false) ;;
  *) echo "build.sh: unknown tree $tree" >&2; exit 2 ;;
esac
if [ ! -f "$tree/build.ninja" ]; then
  meson setup "$tree" "${opts[@]}" >"$tree.setup.log" 2>&1 || { cat "$tree.setup.log"; exit 1; }
  rm -f "$tree.setup.log"
fi
ninja -C "$tree" | grep -v '^\[' || true
test "${PIPESTATUS[0]}" -eq 0
