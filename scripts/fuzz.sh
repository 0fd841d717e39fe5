#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build build-fuzz/ and run every libFuzzer target (or those named) for
# SECONDS each, on a scratch copy of its checked-in corpus (the copy grows,
# tests/fuzz/corpus/ never does).  Prints each target's executions per
# second and total executions (libFuzzer's final stats), and exits non-zero
# if a target crashed, leaked, hung or tripped a sanitizer; the failing
# input and the log stay under build-fuzz/fuzz-work/<target>/.
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_abi fuzz_addr fuzz_tls_server fuzz_tls_client fuzz_pem)

bash scripts/build.sh build-fuzz || exit 1

# LeakSanitizer works in this sandbox (it needs ptrace-like stop-the-world);
# leaks fail a run.  Sanitizer reports abort so libFuzzer keeps the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
summary=()
for t in "${targets[@]}"; do
  exe=build-fuzz/tests/fuzz/$t
  [ -x "$exe" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  work=build-fuzz/fuzz-work/$t
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [ -d "tests/fuzz/corpus/$t" ]; then
    cp -r "tests/fuzz/corpus/$t/." "$work/corpus/"
  fi
  echo "=== $t: ${seconds}s"
  extra=()
  # Every target checks every input for leaks (libFuzzer re-runs an input
  # that ended with more mallocs than frees under LeakSanitizer).  fuzz_abi
  # once ran with -detect_leaks=0 because each input remade its TLS contexts
  # and filled OpenSSL's caches, so one input in ten paid a full scan; its
  # contexts and descriptors now stand between inputs (tests/fuzz/README.md).
  # -timeout: an input that runs 10 s is a hang, and a failure.
  "$exe" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 "${extra[@]}" \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  units=$(ls "$work/corpus" | wc -l)
  if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|invariant failed' "$work/log"; then
    failed=1
    status=FAILED
    echo "--- $t failed (exit $rc); log $work/log, input in $work/artifacts/:"
    grep -E 'ERROR|runtime error|invariant failed|SUMMARY|Test unit written' "$work/log" | head -20
  else
    status=ok
  fi
  summary+=("$(printf '%-18s %-6s %10s exec/s %12s execs %6s corpus' "$t" "$status" "${rate:-?}" "${execs:-?}" "$units")")
done
echo
echo "=== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
