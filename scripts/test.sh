#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make test`: install what is missing, build, run every suite, print each
# suite's time and a summary; exit non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --deb || exit 1

results=()
failed=0
t_all=$(date +%s.%N)

# run NAME COMMAND...: run one step, time it, remember the outcome.
run() {
  local name=$1; shift
  echo "=== $name"
  local t0 rc t1
  t0=$(date +%s.%N)
  "$@"
  rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  if [ $rc -eq 0 ]; then
    results+=("$(printf '%-24s ok     %8ss' "$name" "$secs")")
  else
    results+=("$(printf '%-24s FAILED %8ss' "$name" "$secs")")
    failed=1
  fi
  echo "=== $name: $([ $rc -eq 0 ] && echo ok || echo FAILED) in ${secs}s"
  return $rc
}

# meson test hides a test's output unless asked: --verbose prints Check's
# summary line for every suite.
ctests() { meson test -C "$1" --suite c --suite abi --suite bench --verbose --num-processes 2 --print-errorlogs; }

run "build" bash scripts/build.sh build || { echo "build failed"; exit 1; }
run "c suites (build)" ctests build
run "bindings fresh" bash scripts/check-bindings.sh build
# A user's build in a scratch tree: no generator, installed to a temporary
# prefix, the C program of docs/c.md built there with pkg-config and run.
run "install (no generator)" bash tests/install/check-install.sh
run "docs links" python3 tests/docs/check-docs.py
run "licence lines (SPDX)" bash scripts/spdx.sh
run "reference fresh" bash scripts/check-reference.sh
if run "build-asan" bash scripts/build.sh build-asan; then
  run "c suites (build-asan)" ctests build-asan
fi
run "lisp suites" sbcl --script tests/lisp/run.lisp
run "tls scan (testssl.sh)" bash tests/interop/tls-scan.sh
# The server of `make run` under mixed load for 2 minutes (tests/soak/soak.py).
run "soak (2 min)" python3 tests/soak/soak.py --minutes 2
# The Debian packages, built from a copy of the tree (lintian: no errors),
# unpacked into a scratch root and loaded from there by a fresh SBCL.
if run "make deb" bash scripts/deb.sh; then
  run "deb packages load" bash tests/deb/check-deb.sh
fi
# Every libFuzzer target for 20 s from its seed corpus (a scratch copy):
# a crash, leak, hang or sanitizer report fails the step.
if run "build-fuzz" bash scripts/build.sh build-fuzz; then
  run "fuzz (20s per target)" bash scripts/fuzz.sh 20
fi

t_end=$(date +%s.%N)
echo
echo "=== summary"
printf '%s\n' "${results[@]}"
awk -v a="$t_all" -v b="$t_end" 'BEGIN { printf "total %.1fs\n", b - a }'
exit $failed
