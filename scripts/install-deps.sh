#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian packages the project needs, only those missing.
# Idempotent: when everything is present it runs no apt-get at all.
set -euo pipefail

PACKAGES=(
  gcc g++ make sbcl meson ninja-build pkg-config check libffi-dev libssl-dev
  openssl libclang-dev clang libclang-rt-14-dev cl-fiveam curl valgrind
  cl-hunchentoot cl-drakma cl-usocket cl-plus-ssl testssl.sh
)
# usage: scripts/install-deps.sh [--bench] [--deb]
for flag in "$@"; do
  case "$flag" in
    --bench) PACKAGES+=(wrk cl-cffi cl-plus-ssl cl-usocket gnuplot-nox nginx-light) ;;
    # make deb: Debian's packaging tools and the package checker.
    --deb) PACKAGES+=(build-essential debhelper dpkg-dev lintian) ;;
    *) echo "install-deps: unknown flag $flag" >&2; exit 2 ;;
  esac
done

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
