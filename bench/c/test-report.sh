#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Test of bench/report.sh on a fixed raw table (meson suite `bench`):
# medians, min/max, ratios to the row baseline, pending lines, targets.
set -euo pipefail
root=${EPS_SOURCE_ROOT:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t=$'\t'
cat >"$tmp/raw.tsv" <<RAW
http-c100${t}lisp${t}pending${t}pending (issue 8)
http-c100${t}c${t}rps${t}100
http-c100${t}c${t}cpu_us${t}10
http-c100${t}bsd${t}rps${t}50
http-c100${t}bsd${t}cpu_us${t}30
http-c100${t}c${t}rps${t}300
http-c100${t}c${t}cpu_us${t}12
http-c100${t}bsd${t}rps${t}40
http-c100${t}bsd${t}cpu_us${t}20
http-c100${t}c${t}rps${t}200
http-c100${t}c${t}cpu_us${t}11
http-c100${t}bsd${t}rps${t}60
http-c100${t}bsd${t}cpu_us${t}25
c10k${t}c${t}rss_conn${t}113
c10k${t}lisp${t}rss_conn${t}5000
c10k${t}lisp${t}fail${t}0
RAW
printf 'c\tC reference (baseline)\nbsd\tpeer\nlisp\tLisp\n' >"$tmp/subjects.tsv"
PATH=/usr/bin:/bin bash "$root/bench/report.sh" "$tmp/raw.tsv" "$tmp/subjects.tsv" "$tmp/out" 1 "http c10k" >"$tmp/stdout"
md=$tmp/out/latest.md
fails=0
expect() { # a literal line of the table
  if grep -qxF -- "$1" "$md"; then echo "ok: $1"; else echo "MISSING: $1"; fails=$((fails + 1)); fi
}
expect '| 2. HTTP keep-alive, wrk -t1 -c100 | C reference (baseline) | req/s | 200 | 100 | 300 | 1.00x |  |'
expect '|  | C reference (baseline) | server CPU us/req | 11 | 10 | 12 | 1.00x |  |'
expect '|  | Lisp | | pending (issue 8) | | | | req/s >= 0.95x, server CPU us/req <= 1.05x |'
# Ratios pair the runs: 50/100, 40/300, 60/200 -> median 0.30 (the ratio
# of the medians would say 0.25).
expect '|  | peer | req/s | 50 | 40 | 60 | 0.30x |  |'
expect '|  | peer | server CPU us/req | 25 | 20 | 30 | 2.27x |  |'
expect '|  | Lisp | server RSS bytes/conn above idle | 5000 | 5000 | 5000 | 44.25x | < 4096: **MISSED** |'
expect '|  | Lisp | connections failed | 0 | 0 | 0 |  | = 0: met |'
echo "report: $((7 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
