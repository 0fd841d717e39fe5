#!/bin/sh
# SPDX-License-Identifier: MIT
# make-certs.sh OUTDIR - the certificates the TLS tests and `make run` use,
# made with the openssl command.  Idempotent: a complete OUTDIR whose
# server certificate is valid for one more day is left alone; otherwise
# the whole set is made again.
#
#   ca.pem ca.key                   the test CA
#   server.pem server.key           localhost, 127.0.0.1, ::1, signed by the CA,
#                                   valid 90 days, with an OCSP URI
#   server.ocsp                     a DER OCSP response "good" for server.pem (by the CA)
#   inter.pem inter.key             an intermediate CA, signed by the CA
#   chained.pem chained.key         localhost etc., signed by the intermediate
#   expired.pem expired.key         the same names, signed by the CA, expired in 2020
#   other.pem other.key             other.example only, signed by the CA
#   selfsigned.pem selfsigned.key   localhost etc., self-signed
#   ca2.pem ca2.key                 a second CA
#   alt.pem alt.key                 alt.localhost and *.wild.localhost, signed by the CA (SNI)
#   client.pem client.key           a client certificate (O=Epsilon, CN=epsilon client), by the CA
#   rogue.pem rogue.key             a client certificate signed by ca2
#   wrong.key                       a key that matches no certificate
#   garbage.pem                     not PEM at all
#
# make-certs.sh --ocsp OUTDIR CERT STATUS RESPONSE - write to RESPONSE
# (replacing it with a rename) a DER OCSP response of OUTDIR's CA saying
# CERT (a certificate it signed) is STATUS: good or revoked.
set -eu

# ocsp_response DIR CERT STATUS OUT
ocsp_response() {
  work=$(mktemp -d "$(dirname "$4")/.ocsp.XXXXXX")
  serial=$(openssl x509 -in "$2" -noout -serial | cut -d= -f2)
  end=$(date -u -d "$(openssl x509 -in "$2" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
  case $3 in
    good) printf 'V\t%s\t\t%s\tunknown\t/CN=unused\n' "$end" "$serial" >"$work/index.txt" ;;
    revoked) printf 'R\t%s\t%s\t%s\tunknown\t/CN=unused\n' "$end" \
               "$(date -u +%y%m%d%H%M%SZ)" "$serial" >"$work/index.txt" ;;
    *) echo "make-certs.sh: status good or revoked, not $3" >&2; rm -rf "$work"; exit 2 ;;
  esac
  openssl ocsp -issuer "$1/ca.pem" -cert "$2" -no_nonce -reqout "$work/req.der" >/dev/null
  openssl ocsp -index "$work/index.txt" -CA "$1/ca.pem" -rsigner "$1/ca.pem" -rkey "$1/ca.key" \
    -reqin "$work/req.der" -respout "$work/resp.der" -ndays 90 >/dev/null 2>&1
  mv "$work/resp.der" "$4"
  rm -rf "$work"
}

if [ "${1:-}" = "--ocsp" ]; then
  [ $# -eq 5 ] || { echo "usage: make-certs.sh --ocsp OUTDIR CERT STATUS RESPONSE" >&2; exit 2; }
  ocsp_response "$2" "$3" "$4" "$5"
  exit 0
fi

out=${1:?usage: make-certs.sh OUTDIR}
# The stamp names the set: a directory made by an older version is redone,
# and so is one whose server certificate expires within a day.
stamp=.complete-3
fresh() {
  [ -f "$out/$stamp" ] && openssl x509 -checkend 86400 -noout -in "$out/server.pem" >/dev/null 2>&1
}
fresh && exit 0
mkdir -p "$out"
# Test programs run in parallel and may all ask at once: one makes the set,
# the others wait for it (a CA from one run beside a leaf from another
# would fail verification).
exec 9>"$out/.lock"
flock 9
fresh && exit 0
tmp=$(mktemp -d "$out/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

cat >openssl.cnf <<'CNF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ leaf_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
authorityInfoAccess = OCSP;URI:http://localhost/ocsp
[ inter_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ other_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
authorityKeyIdentifier = keyid
[ alt_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:alt.localhost, DNS:*.wild.localhost
authorityKeyIdentifier = keyid
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:client.localhost, IP:10.1.2.3
authorityKeyIdentifier = keyid
[ self_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
CNF
export OPENSSL_CONF="$tmp/openssl.cnf"

# 16 bytes, the first 0x40: never a leading zero byte to drop nor a sign
# byte to add, so always 128 bits (a scanner wants >= 64 bits of entropy;
# 8 random bytes came out as 7 one time in 256).
serial() { printf '40%s' "$(openssl rand -hex 15)"; }

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # NAME CN
  key "$1.key"
  openssl req -new -x509 -config openssl.cnf -key "$1.key" -subj "/CN=$2" -days 3650 \
    -extensions ca_ext -sha256 -out "$1.pem"
}

leaf() { # NAME SUBJECT EXTENSIONS [CA [DAYS]]
  key "$1.key"
  openssl req -new -config openssl.cnf -key "$1.key" -subj "$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "${4:-ca}.pem" -CAkey "${4:-ca}.key" \
    -set_serial "0x$(serial)" \
    -days "${5:-3650}" -sha256 -extfile openssl.cnf -extensions "$3" -out "$1.pem" 2>/dev/null
}

ca ca "Epsilon Test CA"
ca ca2 "Epsilon Other CA"
# 90 days, as public CAs issue them (a scanner flags longer lifetimes).
leaf server /CN=localhost server_ext ca 90
leaf inter "/CN=Epsilon Test Intermediate" inter_ext
leaf chained /CN=localhost leaf_ext inter
leaf other /CN=other.example other_ext
leaf alt /CN=alt.localhost alt_ext
leaf client "/O=Epsilon/CN=epsilon client" client_ext
leaf rogue "/O=Rogue/CN=rogue client" client_ext ca2

# x509 -req refuses negative -days; `openssl ca` takes explicit dates.
key expired.key
openssl req -new -config openssl.cnf -key expired.key -subj "/CN=localhost" -out expired.csr
: >index.txt
serial >serial
openssl ca -batch -config openssl.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
  -startdate 20200101000000Z -enddate 20200201000000Z -extensions leaf_ext \
  -extfile openssl.cnf -notext -out expired.pem 2>/dev/null

key selfsigned.key
openssl req -new -x509 -config openssl.cnf -key selfsigned.key -subj "/CN=localhost" -days 3650 \
  -extensions self_ext -sha256 -out selfsigned.pem

key wrong.key
printf 'this is not a certificate\n-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n' >garbage.pem

ocsp_response . server.pem good server.ocsp

for f in ca ca2 server other expired selfsigned alt client rogue inter chained; do
  cp "$f.pem" "$f.key" "$out/"
done
cp wrong.key garbage.pem server.ocsp "$out/"
rm -f "$out"/.complete*
touch "$out/$stamp"
