#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# nginx-server.sh --host H --port P [--tls-cert PEM --tls-key PEM] [--threads N]
# nginx from Debian (nginx-light) under the harness's server contract
# (bench/README.md): one process (master_process off: it does the one
# worker's work itself), access log off, `return 200` with the body of
# bench/response.txt as text/plain, HTTPS with the given certificate.
# Prints `PORT <n>` once it listens; SIGINT or SIGTERM stop it (exit 0).
# nginx cannot report a port it was given as 0, so for --port 0 this picks
# one nobody answers on, below the kernel's ephemeral range (where a
# client's connection could hold it). The script then becomes nginx (exec): the PID the
# harness started is the server, and its SIGINT goes to nginx itself.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
host=127.0.0.1 port=0 cert="" key=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "nginx-server.sh: $1 needs a value" >&2; exit 2; }
  case $1 in
    --host) host=$2 ;;
    --port) port=$2 ;;
    --tls-cert) cert=$2 ;;
    --tls-key) key=$2 ;;
    --threads) ;; # one process (row 8 does not measure nginx)
    *) echo "nginx-server.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -z "$cert" ] || cert=$(realpath "$cert")
[ -z "$key" ] || key=$(realpath "$key")
command -v nginx >/dev/null || { echo "nginx-server.sh: nginx is missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
# The body of the canonical response: what follows its blank line.
body=$(awk 'BEGIN { RS = "\r\n\r\n" } NR == 2 { printf "%s", $0 }' "$ROOT/bench/response.txt")
answers() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }
if [ "$port" = 0 ]; then
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  [ "${low:-0}" -gt 12000 ] || low=32768
  for _ in $(seq 1 50); do
    port=$((10000 + RANDOM % (low - 10000)))
    answers "$port" || break
  done
fi
dir=${BENCH_NGINX_DIR:-$ROOT/build/bench-nginx}/$port
rm -rf "$dir"
mkdir -p "$dir"
ssl="" tls=""
if [ -n "$cert" ]; then
  ssl=" ssl"
  tls="ssl_certificate $cert; ssl_certificate_key $key;"
fi
cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 65535;
pid $dir/nginx.pid;
error_log $dir/error.log error;
events { worker_connections 65535; multi_accept on; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen $host:$port$ssl;
    $tls
    location / { default_type text/plain; return 200 "$body"; }
  }
}
CONF
nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" || exit 1
echo "PORT $port"
exec nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
