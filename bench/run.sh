#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh [PART...] - run benchmark parts, then write one table of
# ratios (bench/results/latest.md) and a chart (bench/results/latest.png).
# Parts: ffi http tls c10k hunchentoot (default: all five), bulk (only the
# bulk rows, which tls also runs). See bench/README.md.
#
# Every figure is measured in this run: the baseline of each row is the
# first subject measured in it, and every ratio is against that baseline.
# The server runs on core $BENCH_SERVER_CORE, the load generator on core
# $BENCH_LOAD_CORE (taskset), each measurement $BENCH_RUNS times,
# interleaved (run 1 of every subject, then run 2, ...).
#
# Environment:
#   LISP_HTTP_SERVER_CMD   the Lisp server (issue 8): a command that takes
#                          the options of ref-http-server (--host H --port 0
#                          [--tls-cert PEM --tls-key PEM] [--threads N]),
#                          prints `PORT <n>` on stdout when listening and
#                          exits on SIGINT (default: sbcl --script
#                          examples/main.lisp). Set but empty: the Lisp rows
#                          are "pending". The same for the other commands.
#   LISP_HTTP_SERVER_CONSED=1  the Lisp server answers SIGUSR1 with a line
#                          `CONSED <bytes>` (sb-ext:get-bytes-consed) on stdout
#                          (default 1)
#   LISP_TLS_CLIENT_CMD    Lisp handshake loop: `CMD --host H --port P --seconds S`
#                          prints `HANDSHAKES <n> SECONDS <x>` (default: sbcl
#                          --script bench/lisp/tls-client.lisp)
#   NGINX_SERVER_CMD, HUNCHENTOOT_SERVER_CMD  the servers users would pick
#                          instead (bench/peers/; empty: not measured)
#   LISP_BULK_RECV_CMD     Lisp bulk receiver: the CLI of `bulk recv`
#                          (default: sbcl --script bench/lisp/bulk-recv.lisp)
#   LISP_BULK_SEND_CMD     Lisp bulk sender: the CLI of `bulk send`
#                          (default: sbcl --script bench/lisp/bulk-send.lisp)
#   BENCH_SELF             1: also measure the C reference against itself
#                          (default: 1 when LISP_HTTP_SERVER_CMD is unset)
#   BENCH_DURATION (5)  BENCH_WARMUP (1)  BENCH_RUNS (3)  BENCH_C10K (10000)
#   BENCH_BULK_BYTES (1G)  BENCH_SERVER_CORE (0)  BENCH_LOAD_CORE (1)
#   BENCH_BUILD (build)  BENCH_OUT (bench/results)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1  # the LISP_*_CMD defaults are relative to the root
BUILD=${BENCH_BUILD:-$ROOT/build}
OUTDIR=${BENCH_OUT:-$ROOT/bench/results}
D=${BENCH_DURATION:-5}
WARM=${BENCH_WARMUP:-1}
RUNS=${BENCH_RUNS:-3}
SCORE=${BENCH_SERVER_CORE:-0}
LCORE=${BENCH_LOAD_CORE:-1}
C10K_N=${BENCH_C10K:-10000}
BULK_BYTES=${BENCH_BULK_BYTES:-1G}
# The defaults are here, not in the Makefile: `bash bench/run.sh PART`
# measures the same rows as `make bench-PART`.
LISP_SERVER=${LISP_HTTP_SERVER_CMD-sbcl --script examples/main.lisp}
LISP_CONSED=${LISP_HTTP_SERVER_CONSED-1}
LISP_TLS_CLIENT=${LISP_TLS_CLIENT_CMD-sbcl --script bench/lisp/tls-client.lisp}
NGINX_SERVER=${NGINX_SERVER_CMD-bash $ROOT/bench/peers/nginx-server.sh}
HUNCHENTOOT_SERVER=${HUNCHENTOOT_SERVER_CMD-sbcl --script $ROOT/bench/peers/hunchentoot-server.lisp}
command -v nginx >/dev/null || { [ -n "$NGINX_SERVER" ] && log_later="nginx is missing (scripts/install-deps.sh --bench): no nginx lines"; NGINX_SERVER=""; }
LISP_BULK_RECV=${LISP_BULK_RECV_CMD-sbcl --script bench/lisp/bulk-recv.lisp}
LISP_BULK_SEND=${LISP_BULK_SEND_CMD-sbcl --script bench/lisp/bulk-send.lisp}
if [ -z "${BENCH_SELF:-}" ]; then
  if [ -n "$LISP_SERVER" ]; then BENCH_SELF=0; else BENCH_SELF=1; fi
fi
PENDING="pending (issue 8)"

C_SERVER="$BUILD/bench/c/ref-http-server"
C10K_CLIENT="$BUILD/bench/c/c10k-client"
BULK="$BUILD/bench/c/bulk"
BSD_SERVER="sbcl --script $ROOT/bench/peers/bsd-sockets-server.lisp"
CLPLUS_CLIENT="sbcl --script $ROOT/bench/peers/clplus-tls-client.lisp"
RESPONSE="$ROOT/bench/response.txt"
CERTS="$BUILD/bench-certs"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
# shellcheck source=bench/hunchentoot.sh
. "$ROOT/bench/hunchentoot.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(ffi http tls c10k hunchentoot)
for p in "${parts[@]}"; do
  case $p in ffi | http | tls | c10k | bulk | hunchentoot) ;; *) log "run.sh: unknown part $p (ffi http tls c10k bulk hunchentoot)"; exit 2 ;; esac
done
for f in "$C_SERVER" "$C10K_CLIENT" "$BULK"; do
  [ -x "$f" ] || { log "run.sh: $f is missing: build first (make bench builds)"; exit 1; }
done
tools="wrk taskset openssl gnuplot sbcl"
# The bulk rows need no load generator, and the table needs no chart.
[ "${parts[*]}" = bulk ] && tools="taskset openssl sbcl"
for t in $tools; do
  command -v "$t" >/dev/null || { log "run.sh: $t is missing (scripts/install-deps.sh --bench)"; exit 1; }
done

WORK=$(mktemp -d)
RAW=$WORK/raw.tsv
SUBJECTS=$WORK/subjects.tsv
: >"$RAW"
: >"$SUBJECTS"
SERVER_PID=
cleanup() { stop_server 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null
T_START=$(date +%s)

subject() { printf '%s\t%s\n' "$1" "$2" >>"$SUBJECTS"; }
subject c "C reference (baseline)"
subject c-self "C reference (again, as the subject)"
subject lisp "Lisp: epsilon server (issue 8)"
subject bsd "peer: sb-bsd-sockets + serve-event"
subject lisp-client "Lisp: TLS client loop (epsilon.crypto)"
subject lisp-recv "Lisp: receiver (epsilon.net.core / epsilon.crypto)"
subject lisp-send "Lisp: sender (epsilon.net.core / epsilon.crypto)"
subject nginx "nginx (Debian), one process, return 200"
subject hunchentoot "Hunchentoot (Debian), easy-acceptor"
[ -n "${log_later:-}" ] && log "run.sh: $log_later"

# The HTTP server subjects: KEY|COMMAND|CONSED-HOOK, for the rows of
# http (default), tls or c10k. nginx serves the HTTP and HTTPS rows,
# Hunchentoot the HTTP ones (part_http measures it at -c100 only); neither
# is in c10k, whose client checks every response against bench/response.txt.
http_subjects() {
  echo "c|$C_SERVER|0"
  [ "$BENCH_SELF" = 1 ] && echo "c-self|$C_SERVER|0"
  [ -n "$LISP_SERVER" ] && echo "lisp|$LISP_SERVER|$LISP_CONSED"
  [ "${1:-}" = tls ] || echo "bsd|$BSD_SERVER|1"
  [ "${1:-}" != c10k ] && [ -n "$NGINX_SERVER" ] && echo "nginx|$NGINX_SERVER|0"
  [ -z "${1:-}" ] && [ -n "$HUNCHENTOOT_SERVER" ] && echo "hunchentoot|$HUNCHENTOOT_SERVER|0"
  return 0
}

# check_response KEY SCHEME: once per subject, compare the bytes of its
# answer to GET / with bench/response.txt; a difference becomes a note
# under the table.
check_response() {
  local key=$1 scheme=$2 got
  [ -e "$WORK/checked.$key.$scheme" ] && return 0
  : >"$WORK/checked.$key.$scheme"
  got=$WORK/response.$key
  curl -s -k -i --raw --max-time 10 "$scheme://127.0.0.1:$PORT/" >"$got" 2>/dev/null || return 0
  cmp -s "$got" "$RESPONSE" && return 0
  local extra
  extra=$(tr -d '\r' <"$got" | sed '/^$/q' | grep -v -x -F -f <(tr -d '\r' <"$RESPONSE" | sed '/^$/q') |
    sed 's/^\(Date\): .*/\1: .../' | paste -sd '\t' | sed 's/\t/; /g')
  record "$scheme" "$key" differs "$(wc -c <"$got") bytes, not $(wc -c <"$RESPONSE")${extra:+; head lines not in bench/response.txt: $extra}"
}

pending_lisp() { # ROW: the Lisp subject of ROW is not measurable yet
  [ -z "$LISP_SERVER" ] && record "$1" lisp pending "$PENDING"
}

# measure_wrk ROW KEY CMD CONSED SCHEME SERVER-CORE LOAD-CORE "SERVER-ARGS" WRK-ARGS...
measure_wrk() {
  local row=$1 key=$2 cmd=$3 consed=$4 scheme=$5 score=$6 lcore=$7 sargs=$8
  shift 8
  # shellcheck disable=SC2086
  start_server "$score" "$cmd" --host 127.0.0.1 --port 0 $sargs || { record "$row" "$key" failed "server did not start"; return; }
  check_response "$key" "$scheme"
  local url="$scheme://127.0.0.1:$PORT/" pin=()
  [ -n "$lcore" ] && pin=(taskset -c "$lcore")
  "${pin[@]}" wrk "$@" -d"${WARM}s" --timeout 10s "$url" >/dev/null 2>&1
  local b0 b1 c0 c1 out s0="" s1=""
  [ "$consed" = 1 ] && b0=$(consed_bytes)
  c0=$(cpu_ticks "$SERVER_PID")
  "${pin[@]}" wrk "$@" -d"${D}s" --timeout 10s "$url" >"$WORK/wrk.out" 2>&1 &
  local wrk_pid=$!
  # Steady state: from 1 s into the run to 1 s before its end, the
  # connections are open and only requests are served (a server whose
  # CONSED line also says REQUESTS).
  if [ "$consed" = 1 ] && [ "$D" -ge 3 ]; then
    sleep 1
    s0=$(consed_sample)
    sleep $((D - 2))
    s1=$(consed_sample)
  fi
  wait "$wrk_pid"
  out=$(cat "$WORK/wrk.out")
  c1=$(cpu_ticks "$SERVER_PID")
  [ "$consed" = 1 ] && b1=$(consed_bytes)
  stop_server
  local reqs rps errs
  reqs=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  errs=$(awk '/Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } /Non-2xx/ { n += $NF } END { print n + 0 }' <<<"$out")
  if [ -z "$reqs" ] || [ "${reqs:-0}" -eq 0 ]; then
    log "  $row $key: wrk measured nothing:"; sed 's/^/    /' <<<"$out" >&2
    record "$row" "$key" failed "wrk measured nothing"
    return
  fi
  local cpu
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.3f", t * 1e6 / hz / n }')
  record "$row" "$key" rps "$rps"
  record "$row" "$key" cpu_us "$cpu"
  [ "$errs" -gt 0 ] && record "$row" "$key" errors "$errs"
  local extra=""
  if [ -n "${b0:-}" ] && [ -n "${b1:-}" ]; then
    local per
    per=$(awk -v a="$b0" -v b="$b1" -v n="$reqs" 'BEGIN { printf "%.1f", (b - a) / n }')
    if [ -n "$s0" ] && [ -n "$s1" ]; then
      local steady
      steady=$(awk -v a="$s0" -v b="$s1" 'BEGIN { split(a, x, " "); split(b, y, " ")
        n = y[2] - x[2]; if (n > 0) printf "%.1f", (y[1] - x[1]) / n }')
      if [ -n "$steady" ]; then
        record "$row" "$key" consed "$steady"
        record "$row" "$key" consed_all "$per"
        extra=", $steady bytes consed/req in steady state ($per over the whole run)"
      fi
    fi
    if [ -z "$extra" ]; then
      record "$row" "$key" consed_all "$per"
      extra=", $per bytes consed/req"
    fi
  fi
  log "  $row $key: $rps req/s, $cpu us CPU/req$extra$([ "$errs" -gt 0 ] && echo ", $errs errors")"
}

part_http() {
  log "== http: keep-alive -c100 and -c1000, pipelined (depth 16), two threads vs one"
  local r s key cmd consed
  for row in http-c100 http-c1000 http-pipe16 threads; do pending_lisp "$row"; done
  # Compile Hunchentoot now (once per machine), not inside a measurement.
  if [ -n "$HUNCHENTOOT_SERVER" ]; then
    sbcl --noinform --non-interactive --eval '(require :asdf)' \
      --eval '(handler-bind ((warning (function muffle-warning))) (asdf:load-system "hunchentoot"))' >/dev/null 2>&1 ||
      log "run.sh: hunchentoot does not load (cl-hunchentoot): its row will fail"
  fi
  for ((r = 1; r <= RUNS; r++)); do
    log "-- http run $r/$RUNS"
    while IFS='|' read -r key cmd consed; do
      measure_wrk http-c100 "$key" "$cmd" "$consed" http "$SCORE" "$LCORE" "" -t1 -c100
      # A thread per connection: the -c100 row is Hunchentoot's.
      [ "$key" = hunchentoot ] && continue
      measure_wrk http-c1000 "$key" "$cmd" "$consed" http "$SCORE" "$LCORE" "" -t1 -c1000
      measure_wrk http-pipe16 "$key" "$cmd" "$consed" http "$SCORE" "$LCORE" "" -t1 -c100 -s "$ROOT/bench/pipeline.lua"
    done < <(http_subjects)
    # Two threads: nothing pinned; wrk competes for the same two cores.
    measure_wrk threads c1 "$C_SERVER" 0 http "" "" "--threads 1" -t2 -c100
    measure_wrk threads c2 "$C_SERVER" 0 http "" "" "--threads 2" -t2 -c100
    if [ -n "$LISP_SERVER" ]; then
      measure_wrk threads lisp1 "$LISP_SERVER" 0 http "" "" "--threads 1" -t2 -c100
      measure_wrk threads lisp2 "$LISP_SERVER" 0 http "" "" "--threads 2" -t2 -c100
    fi
  done
  subject c1 "C reference, 1 thread (baseline)"
  subject c2 "C reference, 2 threads"
  subject lisp1 "Lisp, 1 thread (issue 8)"
  subject lisp2 "Lisp, 2 threads (issue 8)"
}

# measure_handshakes KEY CLIENT: against a fresh openssl s_server on SCORE.
measure_handshakes() {
  local key=$1 client=$2
  : >"$WORK/server.out"
  taskset -c "$SCORE" openssl s_server -www -no-CApath -no-CAfile -no-CAstore \
    -cert "$CERTS/server.pem" -key "$CERTS/server.key" -accept 127.0.0.1:0 \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  local line port
  line=$(wait_line "$WORK/server.out" '^ACCEPT ' 10) || { record tls-hs "$key" failed "s_server did not start"; stop_server; return; }
  port=${line##*:}
  local c0 c1 t0 t1 out n secs
  c0=$(cpu_ticks "$SERVER_PID")
  t0=$(date +%s.%N)
  if [ "$client" = s_time ]; then
    out=$(taskset -c "$LCORE" openssl s_time -connect "127.0.0.1:$port" -new -time "$D" 2>&1)
    t1=$(date +%s.%N)
    n=$(sed -n 's/^\([0-9][0-9]*\) connections in [0-9.]* real seconds.*/\1/p' <<<"$out" | tail -1)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  else
    # shellcheck disable=SC2086
    out=$(taskset -c "$LCORE" $client --host 127.0.0.1 --port "$port" --seconds "$D" 2>&1)
    n=$(sed -n 's/^HANDSHAKES \([0-9]*\) SECONDS .*/\1/p' <<<"$out")
    secs=$(sed -n 's/^HANDSHAKES [0-9]* SECONDS \([0-9.]*\).*/\1/p' <<<"$out")
  fi
  c1=$(cpu_ticks "$SERVER_PID")
  kill -TERM "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
  if [ -z "$n" ] || [ "$n" -eq 0 ]; then
    log "  tls-hs $key: no handshakes:"; sed 's/^/    /' <<<"$out" >&2
    record tls-hs "$key" failed "no handshakes"
    return
  fi
  local hs cpu
  hs=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
  record tls-hs "$key" hs "$hs"
  record tls-hs "$key" hs_cpu_us "$cpu"
  log "  tls-hs $key: $hs handshakes/s, server $cpu us CPU/handshake"
}

# measure_bulk ROW KEY RECV-CMD TLS(0|1): the receiver (subject) on SCORE,
# the C sender on LCORE.
measure_bulk() {
  local row=$1 key=$2 cmd=$3 tls=$4 rargs=() sargs=()
  if [ "$tls" = 1 ]; then
    rargs=(--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key")
    sargs=(--tls)
  fi
  start_server "$SCORE" "$ROOT/bench/childcpu.sh $cmd" --host 127.0.0.1 --port 0 "${rargs[@]}" ||
    { record "$row" "$key" failed "receiver did not start"; return; }
  local sout
  sout=$(taskset -c "$LCORE" "$BULK" send --host 127.0.0.1 --port "$PORT" --bytes "$BULK_BYTES" "${sargs[@]}" 2>&1)
  local rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=
  local line ticks bytes secs
  line=$(grep -m1 '^BYTES ' "$WORK/server.out")
  ticks=$(sed -n 's/^CHILDTICKS //p' "$WORK/server.out")
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    log "  $row $key: the transfer failed (receiver status $rc):"
    sed 's/^/    recv: /' "$WORK/server.err" >&2
    sed 's/^/    send: /' <<<"$sout" >&2
    record "$row" "$key" failed "transfer failed"
    return
  fi
  bulk_record "$row" "$key" cpu_ms_gib "$line" "$ticks"
}

# bulk_record ROW KEY METRIC "BYTES b SECONDS s MIBPS m [CPU c]" [TICKS]:
# MiB/s, and CPU ms per GiB from the line's CPU (the thread's, inside the
# loop) or else from TICKS (the whole process).
bulk_record() {
  local row=$1 key=$2 metric=$3 line=$4 ticks=${5:-} bytes secs cpus mibps cpu
  read -r _ bytes _ secs _ _ _ cpus <<<"$line"
  mibps=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / 1048576 / s }')
  if [ -n "$cpus" ]; then
    cpu=$(awk -v c="$cpus" -v b="$bytes" 'BEGIN { printf "%.1f", c * 1000 / (b / 1073741824) }')
  else
    cpu=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v b="$bytes" 'BEGIN { printf "%.1f", t * 1000 / hz / (b / 1073741824) }')
  fi
  record "$row" "$key" mibps "$mibps"
  record "$row" "$key" "$metric" "$cpu"
  log "  $row $key: $mibps MiB/s, $cpu ms CPU/GiB"
}

# measure_bulk_send ROW KEY SEND-CMD TLS(0|1): the sender (subject) on
# SCORE, the C receiver on LCORE.
measure_bulk_send() {
  local row=$1 key=$2 cmd=$3 tls=$4 rargs=() sargs=()
  if [ "$tls" = 1 ]; then
    rargs=(--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key")
    sargs=(--tls)
  fi
  start_server "$LCORE" "$BULK recv" --host 127.0.0.1 --port 0 "${rargs[@]}" ||
    { record "$row" "$key" failed "receiver did not start"; return; }
  local sout rc=0
  sout=$(taskset -c "$SCORE" bash -c "exec $cmd \"\$@\"" bash --host 127.0.0.1 --port "$PORT" \
    --bytes "$BULK_BYTES" "${sargs[@]}" 2>&1) || rc=$?
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=
  local line
  line=$(grep -m1 '^BYTES ' <<<"$sout")
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    log "  $row $key: the transfer failed (status $rc):"
    sed 's/^/    send: /' <<<"$sout" >&2
    sed 's/^/    recv: /' "$WORK/server.err" >&2
    record "$row" "$key" failed "transfer failed"
    return
  fi
  bulk_record "$row" "$key" send_cpu_ms_gib "$line"
}

# bulk_rows: one run of every bulk row (row 6), receivers then senders.
bulk_rows() {
  local tls row
  for tls in 0 1; do
    row=bulk-tcp
    [ $tls = 1 ] && row=bulk-tls
    measure_bulk $row c "$BULK recv" $tls
    [ "$BENCH_SELF" = 1 ] && measure_bulk $row c-self "$BULK recv" $tls
    [ -n "$LISP_BULK_RECV" ] && measure_bulk $row lisp-recv "$LISP_BULK_RECV" $tls
    measure_bulk_send $row-send c "$BULK send" $tls
    [ "$BENCH_SELF" = 1 ] && measure_bulk_send $row-send c-self "$BULK send" $tls
    [ -n "$LISP_BULK_SEND" ] && measure_bulk_send $row-send lisp-send "$LISP_BULK_SEND" $tls
  done
}

bulk_pending() {
  [ -z "$LISP_BULK_RECV" ] && record bulk-tcp lisp-recv pending "pending (LISP_BULK_RECV_CMD)"
  [ -z "$LISP_BULK_RECV" ] && record bulk-tls lisp-recv pending "pending (LISP_BULK_RECV_CMD)"
  [ -z "$LISP_BULK_SEND" ] && record bulk-tcp-send lisp-send pending "pending (LISP_BULK_SEND_CMD)"
  [ -z "$LISP_BULK_SEND" ] && record bulk-tls-send lisp-send pending "pending (LISP_BULK_SEND_CMD)"
  return 0
}

# part_bulk: only the bulk rows (the tls part runs them too).
part_bulk() {
  log "== bulk: 1 GiB over TCP and TLS, Lisp receiver and sender"
  sh "$ROOT/tests/data/make-certs.sh" "$CERTS" || { log "run.sh: certificates failed"; return 1; }
  bulk_pending
  local r
  for ((r = 1; r <= RUNS; r++)); do
    log "-- bulk run $r/$RUNS"
    bulk_rows
  done
}

part_tls() {
  log "== tls: HTTPS keep-alive, handshakes/s, bulk TCP and TLS"
  sh "$ROOT/tests/data/make-certs.sh" "$CERTS" || { log "run.sh: certificates failed"; return 1; }
  pending_lisp https-c100
  [ -z "$LISP_TLS_CLIENT" ] && record tls-hs lisp-client pending "pending (LISP_TLS_CLIENT_CMD)"
  # Compile cl+ssl now (once per machine), not inside a measurement.
  sbcl --noinform --non-interactive --eval '(require :asdf)' \
    --eval '(handler-bind ((warning (function muffle-warning))) (asdf:load-system "cl+ssl"))' >/dev/null 2>&1 ||
    log "run.sh: cl+ssl does not load: its row will fail"
  bulk_pending
  local r key cmd consed
  for ((r = 1; r <= RUNS; r++)); do
    log "-- tls run $r/$RUNS"
    while IFS='|' read -r key cmd consed; do
      measure_wrk https-c100 "$key" "$cmd" "$consed" https "$SCORE" "$LCORE" \
        "--tls-cert $CERTS/server.pem --tls-key $CERTS/server.key" -t1 -c100
    done < <(http_subjects tls)
    measure_handshakes s_time s_time
    [ "$BENCH_SELF" = 1 ] && measure_handshakes s_time-self s_time
    [ -n "$LISP_TLS_CLIENT" ] && measure_handshakes lisp-client "$LISP_TLS_CLIENT"
    measure_handshakes clplus "$CLPLUS_CLIENT"
    bulk_rows
  done
  subject s_time "openssl s_time -new (baseline)"
  subject s_time-self "openssl s_time -new (again, as the subject)"
  subject clplus "peer: cl+ssl client loop"
}

# measure_c10k KEY CMD CONSED
measure_c10k() {
  local key=$1 cmd=$2 consed=$3
  start_server "$SCORE" "$cmd" --host 127.0.0.1 --port 0 || { record c10k "$key" failed "server did not start"; return; }
  local idle b0 b1 loaded line
  [ "$consed" = 1 ] && b0=$(consed_bytes)
  idle=$(rss_kib "$SERVER_PID")
  taskset -c "$LCORE" "$C10K_CLIENT" --host 127.0.0.1 --port "$PORT" -n "$C10K_N" \
    --timeout 60 --hold --expect "$RESPONSE" >"$WORK/c10k.out" 2>"$WORK/c10k.err" &
  local cpid=$!
  line=$(wait_line "$WORK/c10k.out" '^OK ' 90)
  loaded=$(rss_kib "$SERVER_PID")
  [ "$consed" = 1 ] && b1=$(consed_bytes)
  kill -TERM "$cpid" 2>/dev/null
  wait "$cpid" 2>/dev/null
  # Steady state: the same number of connections again, on descriptor
  # numbers (and per-connection state) the first pass already made.
  local b2="" b3="" line2=""
  if [ "$consed" = 1 ] && [ -n "$line" ]; then
    sleep 1
    b2=$(consed_bytes)
    line2=$(taskset -c "$LCORE" "$C10K_CLIENT" --host 127.0.0.1 --port "$PORT" -n "$C10K_N" \
      --timeout 60 --expect "$RESPONSE" 2>>"$WORK/c10k.err" | grep -m1 '^OK ')
    sleep 1
    b3=$(consed_bytes)
  fi
  stop_server
  if [ -z "$line" ]; then
    log "  c10k $key: no result from c10k-client"; sed 's/^/    /' "$WORK/c10k.err" >&2
    record c10k "$key" failed "no result"
    return
  fi
  local ok fail secs per
  read -r _ ok _ fail _ secs <<<"$line"
  per=$(awk -v a="$idle" -v b="$loaded" -v n="$ok" 'BEGIN { printf "%.0f", n ? (b - a) * 1024 / n : 0 }')
  record c10k "$key" ok "$ok"
  record c10k "$key" fail "$fail"
  record c10k "$key" secs "$secs"
  record c10k "$key" rss_conn "$per"
  local extra=""
  if [ -n "${b0:-}" ] && [ -n "${b1:-}" ] && [ "$ok" -gt 0 ]; then
    local c
    c=$(awk -v a="$b0" -v b="$b1" -v n="$ok" 'BEGIN { printf "%.1f", (b - a) / n }')
    record c10k "$key" consed_cold "$c"
    extra=", $c bytes consed/connection (first pass)"
  fi
  local ok2
  read -r _ ok2 _ <<<"$line2"
  if [ -n "$b2" ] && [ -n "$b3" ] && [ "${ok2:-0}" -gt 0 ]; then
    local c
    c=$(awk -v a="$b2" -v b="$b3" -v n="$ok2" 'BEGIN { printf "%.1f", (b - a) / n }')
    record c10k "$key" consed "$c"
    extra="$extra, $c (second pass, $ok2 OK)"
  fi
  [ "$fail" -gt 0 ] && sed 's/^/    /' "$WORK/c10k.err" >&2
  log "  c10k $key: OK $ok FAIL $fail in ${secs}s, server RSS +$per bytes/connection (idle ${idle} KiB, loaded ${loaded} KiB)$extra"
}

part_c10k() {
  log "== c10k: $C10K_N concurrent keep-alive connections, one request each"
  pending_lisp c10k
  local r key cmd consed
  for ((r = 1; r <= RUNS; r++)); do
    log "-- c10k run $r/$RUNS"
    while IFS='|' read -r key cmd consed; do
      measure_c10k "$key" "$cmd" "$consed"
    done < <(http_subjects c10k)
  done
}

part_ffi() {
  log "== ffi: ns per trivial call (bench/ffi/bench.lisp)"
  local out
  if ! out=$(sbcl --script "$ROOT/bench/ffi/bench.lisp" 2>&1); then
    sed 's/^/  /' <<<"$out" >&2
    record ffi base failed "bench/ffi/bench.lisp failed"
    return
  fi
  sed 's/^/  /' <<<"$out" >&2
  # The `samples` block: label (28 columns), then every run's ns/call.
  awk '/^samples$/ { on = 1; next } on && NF == 0 { on = 0 }
       on { label = substr($0, 1, 28); sub(/ +$/, "", label)
            for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) print label "\t" $i }' <<<"$out" |
    while IFS=$'\t' read -r label ns; do
      record ffi "$label" ns "$ns"
      subject "$label" "$label"
    done
}

for p in "${parts[@]}"; do
  "part_$p"
done

mkdir -p "$OUTDIR"
T_END=$(date +%s)
bash "$ROOT/bench/report.sh" "$RAW" "$SUBJECTS" "$OUTDIR" "$((T_END - T_START))" "${parts[*]}"
