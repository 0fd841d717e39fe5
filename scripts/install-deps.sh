#!/usr/bin/env bash
# Install the Debian packages the project needs, only those missing.
# Idempotent: when everything is present it runs no apt-get at all.
set -euo pipefail

PACKAGES=(
  gcc make sbcl meson ninja-build pkg-config check libffi-dev libssl-dev
  openssl libclang-dev clang libclang-rt-14-dev cl-fiveam curl valgrind
)
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(wrk cl-cffi cl-plus-ssl cl-usocket gnuplot-nox nginx-light cl-hunchentoot)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
