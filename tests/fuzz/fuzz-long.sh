#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz-long.sh [MAX-SECONDS] [TARGET...] - `make fuzz-long`: run each
# libFuzzer target (all by default) until 10^7 executions (RUNS=N to
# change) or MAX-SECONDS (default 7200) per target, from a scratch copy of
# its seed corpus, and write a table: target, executions, exec/s, corpus
# size, coverage (libFuzzer's cov: edges and ft: features of this
# library's instrumented code), crashes (inputs written as crash-, leak-,
# timeout- or oom- artifacts).  On demand, not in `make test`.  The table
# goes to stdout and to build-fuzz/fuzz-long/table.md; each target's log
# and artifacts stay under build-fuzz/fuzz-long/<target>/.  Exits non-zero
# if any target crashed.  FUZZ_JOBS=N (default 1) runs N targets at once,
# each on its own core; the table keeps the order of the targets.
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-7200}
shift || true
runs=${RUNS:-10000000}
jobs=${FUZZ_JOBS:-1}
targets=("$@")
# Slowest first, so that with FUZZ_JOBS=2 the two lanes end close together.
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_tls_client fuzz_pem fuzz_tls_server fuzz_abi fuzz_addr)

bash scripts/build.sh build-fuzz || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

out=build-fuzz/fuzz-long
mkdir -p "$out"
table=$out/table.md
{
  echo "| target | executions | exec/s | corpus | coverage (cov / ft) | crashes | stopped by |"
  echo "| --- | ---: | ---: | ---: | --- | ---: | --- |"
} >"$table"
# One target, start to table row; its row goes to $out/<target>/row.
fuzz_one() {
  local t=$1 exe=build-fuzz/tests/fuzz/$1 work=$out/$1
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  [ -d "tests/fuzz/corpus/$t" ] && cp -r "tests/fuzz/corpus/$t/." "$work/corpus/"
  # As in scripts/fuzz.sh: every target's leaks are checked per input.
  echo "=== $t: until $runs executions or ${seconds}s ($(date -u +%H:%M:%S) UTC)"
  local start rc elapsed execs rate cov units crashes stop
  start=$(date +%s.%N)
  "$exe" -runs="$runs" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1
  rc=$?
  elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  # Over the whole run, seed corpus included (libFuzzer's own figure is
  # rounded to whole seconds).
  rate=$(awk -v n="${execs:-0}" -v s="$elapsed" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$work/log" | tail -1 | awk '{print $2 " / " $4}')
  units=$(ls "$work/corpus" | wc -l)
  crashes=$(ls "$work/artifacts" | grep -cE '^(crash|leak|timeout|oom|slow-unit)-' || true)
  if [ "${execs:-0}" -ge "$runs" ]; then stop="$runs executions"; else stop="${elapsed}s"; fi
  if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then stop="$stop, exit $rc"; fi
  echo "| $t | ${execs:-?} | ${rate:-?} | $units | ${cov:-?} | $crashes | $stop |" >"$work/row"
  echo "=== $t done: ${execs:-?} executions, $crashes crashes, exit $rc ($(date -u +%H:%M:%S) UTC)"
  [ $rc -eq 0 ] && [ "$crashes" -eq 0 ]
}

for t in "${targets[@]}"; do
  [ -x "build-fuzz/tests/fuzz/$t" ] || { echo "fuzz-long: no target $t" >&2; exit 2; }
done
failed=0
pids=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || failed=1; done
  fuzz_one "$t" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
for t in "${targets[@]}"; do
  cat "$out/$t/row" 2>/dev/null || echo "| $t | ? | ? | ? | ? | ? | no result |"
done >>"$table"
echo "" >>"$table"
echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M') UTC, $jobs at a time." >>"$table"
echo
cat "$table"
exit $failed
