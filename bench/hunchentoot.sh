# SPDX-License-Identifier: MIT
# bench/hunchentoot.sh - the Hunchentoot row of `make bench` (sourced by
# bench/run.sh as its part `hunchentoot`; uses its helpers and settings).
#
# Debian's Hunchentoot serving HTTPS through cl+ssl (its ssl-acceptor, the
# baseline) and through epsilon.crypto (epsilon.hunchentoot's tls-acceptor),
# both measured in this run by the same load:
#   hunchentoot     HTTPS keep-alive, wrk -t1 -c50: req/s, server CPU us/req
#   hunchentoot-hs  full handshakes, openssl s_time -new: handshakes/s and
#                   server CPU us/handshake (a worker thread per connection,
#                   as Hunchentoot does, is in both)

HT_SERVER="sbcl --script $ROOT/bench/lisp/hunchentoot-server.lisp"

# measure_ht_handshakes KEY KIND: s_time -new on LCORE against a fresh server on SCORE.
measure_ht_handshakes() {
  local key=$1 kind=$2
  start_server "$SCORE" "$HT_SERVER" --kind "$kind" --host 127.0.0.1 --port 0 \
    --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" ||
    { record hunchentoot-hs "$key" failed "server did not start"; return; }
  taskset -c "$LCORE" openssl s_time -connect "127.0.0.1:$PORT" -new -time "$WARM" >/dev/null 2>&1
  local c0 c1 t0 t1 out n secs
  c0=$(cpu_ticks "$SERVER_PID")
  t0=$(date +%s.%N)
  out=$(taskset -c "$LCORE" openssl s_time -connect "127.0.0.1:$PORT" -new -time "$D" 2>&1)
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$SERVER_PID")
  stop_server
  n=$(sed -n 's/^\([0-9][0-9]*\) connections in [0-9.]* real seconds.*/\1/p' <<<"$out" | tail -1)
  if [ -z "$n" ] || [ "$n" -eq 0 ]; then
    log "  hunchentoot-hs $key: no handshakes:"; sed 's/^/    /' <<<"$out" >&2
    record hunchentoot-hs "$key" failed "no handshakes"
    return
  fi
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  local hs cpu
  hs=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
  record hunchentoot-hs "$key" hs "$hs"
  record hunchentoot-hs "$key" ht_hs_cpu_us "$cpu"
  log "  hunchentoot-hs $key: $hs handshakes/s, server $cpu us CPU/handshake"
}

part_hunchentoot() {
  log "== hunchentoot: Hunchentoot over cl+ssl vs over epsilon.crypto (HTTPS -c50, handshakes/s)"
  sh "$ROOT/tests/data/make-certs.sh" "$CERTS" || { log "run.sh: certificates failed"; return 1; }
  # Compile both servers' systems now, not inside a measurement.
  local kind
  for kind in clplus epsilon; do
    timeout 300 sbcl --script "$ROOT/bench/lisp/hunchentoot-server.lisp" --kind "$kind" --load-only \
      </dev/null >/dev/null 2>&1 || log "run.sh: the $kind Hunchentoot server does not load: its lines will fail"
  done
  local r
  for ((r = 1; r <= RUNS; r++)); do
    log "-- hunchentoot run $r/$RUNS"
    for kind in clplus epsilon; do
      measure_wrk hunchentoot "ht-$kind" "$HT_SERVER --kind $kind" 0 https "$SCORE" "$LCORE" \
        "--tls-cert $CERTS/server.pem --tls-key $CERTS/server.key" -t1 -c50
    done
    for kind in clplus epsilon; do
      measure_ht_handshakes "ht-$kind" "$kind"
    done
  done
  subject ht-clplus "Hunchentoot easy-ssl-acceptor, cl+ssl (baseline)"
  subject ht-epsilon "Hunchentoot tls-acceptor, epsilon.crypto"
}
