#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke test of the C reference server (meson suite `bench`):
#   test-ref-server.sh REF-HTTP-SERVER C10K-CLIENT
# needs EPS_SOURCE_ROOT (for bench/response.txt and tests/data/make-certs.sh)
# and EPS_TLS_CERTS (a directory for the test certificates). Port 0 always.
set -euo pipefail
server=$1 client=$2
root=${EPS_SOURCE_ROOT:?}
certs=${EPS_TLS_CERTS:?}
response=$root/bench/response.txt
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0 passes=0
check() { # NAME COMMAND...: one named check
  local name=$1; shift
  if "$@"; then passes=$((passes + 1)); echo "ok: $name"; else fails=$((fails + 1)); echo "FAILED: $name"; fi
}

# start_server ARGS...: start it on port 0, read its `PORT <n>` line.
start_server() {
  exec 3< <(exec "$server" --host 127.0.0.1 --port 0 "$@")
  pid=$!
  local line
  read -r -t 10 line <&3 || { echo "no PORT line from the server" >&2; return 1; }
  case $line in PORT\ [0-9]*) port=${line#PORT } ;; *) echo "unexpected: $line" >&2; return 1 ;; esac
}

# stop_server: SIGINT, expect exit status 0.
stop_server() {
  kill -INT "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=
  exec 3<&-
  [ "$rc" -eq 0 ] || { echo "server exited $rc on SIGINT" >&2; return 1; }
}

exact_bytes() { # one curl request: exactly the canonical response, headers included
  curl -sS --max-time 10 --include "$@" >"$tmp/got" && cmp "$response" "$tmp/got"
}

pipelined() { # 100 requests in one write, 100 responses back to back
  local req='' i
  for i in $(seq 100); do req+="GET /$i HTTP/1.1"$'\r\n'"Host: x"$'\r\n\r\n'; done
  : >"$tmp/want"
  for i in $(seq 100); do cat "$response" >>"$tmp/want"; done
  local n
  n=$(stat -c %s "$tmp/want")
  exec 4<>"/dev/tcp/127.0.0.1/$port"
  printf '%s' "$req" >&4
  timeout 10 head -c "$n" <&4 >"$tmp/got100" || true
  exec 4<&- 4>&-
  cmp "$tmp/want" "$tmp/got100"
}

post_body_skipped() { # a request body is skipped, the next request answered
  local req="POST / HTTP/1.1"$'\r\n'"Content-Length: 5"$'\r\n\r\n'"hello"
  req+="GET / HTTP/1.1"$'\r\n\r\n'
  cat "$response" "$response" >"$tmp/want2"
  exec 4<>"/dev/tcp/127.0.0.1/$port"
  printf '%s' "$req" >&4
  timeout 10 head -c "$(stat -c %s "$tmp/want2")" <&4 >"$tmp/got2" || true
  exec 4<&- 4>&-
  cmp "$tmp/want2" "$tmp/got2"
}

c10k_small() { # the c10k client against it: 500 connections, exact bytes
  local out
  out=$("$client" --port "$port" -n 500 --batch 100 --timeout 20 --expect "$response")
  [[ $out =~ ^OK\ 500\ FAIL\ 0\ SECONDS\ [0-9.]+$ ]] || { echo "c10k-client said: $out" >&2; return 1; }
}

# HTTP
start_server
check "http exact bytes" exact_bytes "http://127.0.0.1:$port/"
check "http keep-alive, two requests on one connection" \
  exact_bytes "http://127.0.0.1:$port/a" -o /dev/null --next --include "http://127.0.0.1:$port/b"
check "http 100 pipelined requests answered in order" pipelined
check "http request body skipped" post_body_skipped
check "c10k-client 500 connections" c10k_small
check "SIGINT exits 0" stop_server

# Two threads, SO_REUSEPORT
start_server --threads 2
check "two threads: exact bytes" exact_bytes "http://127.0.0.1:$port/"
check "two threads: c10k-client 500 connections" c10k_small
check "two threads: SIGINT exits 0" stop_server

# HTTPS with the test certificates
sh "$root/tests/data/make-certs.sh" "$certs"
start_server --tls-cert "$certs/server.pem" --tls-key "$certs/server.key"
check "https exact bytes" exact_bytes --cacert "$certs/ca.pem" "https://localhost:$port/"
check "https keep-alive, two requests" exact_bytes --cacert "$certs/ca.pem" \
  "https://localhost:$port/a" -o /dev/null --next --include --cacert "$certs/ca.pem" "https://localhost:$port/b"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?; pid=
check "SIGTERM exits 0" test "$rc" -eq 0

echo "bench: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
