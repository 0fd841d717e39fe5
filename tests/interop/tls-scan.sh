#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tls-scan.sh - the outside scanner as a test: testssl.sh against the HTTPS
# port of the `make run` server (examples/main.lisp, ports picked by the
# kernel), with the checks that concern TLS (protocols, cipher categories,
# forward secrecy, server defaults and certificate, vulnerabilities, ciphers
# per protocol; not -h, the HTTP headers of the example application).
# Fails on any finding of severity LOW or above that is not accepted below,
# and when the scan did not run the checks it is meant to (a scanner that
# stopped early finds nothing).
#
#   bash tests/interop/tls-scan.sh [BUILD-DIR]     (after scripts/build.sh)
#
# TARGET=host:port scans a server already running instead (CA=its CA file).
set -uo pipefail
cd "$(dirname "$0")/../.."

# Accepted findings, by testssl id, with the reason.  Only those that come
# from the demo CA being private (trusted here with --add-ca, not publicly)
# and from the server living on loopback.
declare -A accepted=(
  # CAA is a DNS record telling public CAs who may issue for a domain;
  # localhost has no DNS zone and the demo CA is no public CA.
  [DNS_CAArecord]="no DNS CAA record for localhost: the demo CA is private"
)

# Ids the scan must have reported (at any severity): the checks ran.
required=(LUCKY13 BEAST cipherlist_AVERAGE OCSP_stapling cert_chain_of_trust
          cert_expirationStatus PFS TLS1 TLS1_3)

command -v testssl >/dev/null || { echo "tls-scan: testssl (Debian testssl.sh) is missing"; exit 1; }

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill -TERM "$server" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null
    wait "$server" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${TARGET:-}" ]; then
  target=$TARGET
  ca=${CA:?CA=the CA file of TARGET}
else
  PORT=0 TLS_PORT=0 sbcl --script examples/main.lisp >"$work/server.out" 2>"$work/server.err" &
  server=$!
  port=""
  for _ in $(seq 600); do # 120 s: the first run compiles the system
    port=$(sed -n 's/^TLS_PORT \([0-9]*\)$/\1/p' "$work/server.out")
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$port" ]; then
    echo "tls-scan: the server did not start"; cat "$work/server.out" "$work/server.err"; exit 1
  fi
  target=localhost:$port
  ca=build/run-certs/ca.pem
fi

echo "tls-scan: testssl against $target (CA $ca)"
timeout 300 testssl --quiet --color 0 --warnings off --add-ca "$ca" \
  -p -s -f -S -U -E --csvfile "$work/scan.csv" "$target" >"$work/scan.txt" 2>&1
rc=$?
if [ ! -s "$work/scan.csv" ]; then
  echo "tls-scan: testssl wrote no report (exit $rc)"; tail -20 "$work/scan.txt"; exit 1
fi

failed=0
# CSV: "id","fqdn/ip","port","severity","finding","cve","cwe"
while IFS=$'\t' read -r id severity finding; do
  case $severity in
    LOW|MEDIUM|HIGH|CRITICAL)
      if [ -n "${accepted[$id]:-}" ]; then
        echo "  accepted $severity $id: $finding (${accepted[$id]})"
      else
        echo "  FINDING  $severity $id: $finding"
        failed=1
      fi ;;
  esac
done < <(awk -F'","' 'NR > 1 { gsub(/^"|"$/, "", $1); gsub(/"$/, "", $5); print $1 "\t" $4 "\t" $5 }' "$work/scan.csv")

for id in "${required[@]}"; do
  if ! grep -q "^\"$id\"," "$work/scan.csv"; then
    echo "  MISSING  $id: the scan did not report it"
    failed=1
  fi
done
# What the policy promises, beyond "no finding": stapling is on.
grep -q '^"OCSP_stapling",.*"offered"' "$work/scan.csv" ||
  { echo "  FINDING  OCSP_stapling: not offered"; failed=1; }

if [ $failed -ne 0 ]; then
  echo "tls-scan: FAILED (report: testssl output below)"
  cat "$work/scan.txt"
  exit 1
fi
echo "tls-scan: ok ($(($(wc -l <"$work/scan.csv") - 1)) findings read, none unaccepted at LOW or above)"
