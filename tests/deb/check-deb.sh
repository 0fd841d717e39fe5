#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages of `make deb`, unpacked (dpkg -x) into a throwaway
# root: each holds what it should, and a fresh SBCL that knows nothing of
# the checkout (no init files, HOME and XDG directories of its own) loads the
# systems through ASDF's default configuration pointed at that root
# (XDG_DATA_DIRS=<root>/usr/share, i.e. <root>/usr/share/common-lisp/systems/)
# and runs tests/deb/roundtrip.lisp, with the library found on the loader
# path (LD_LIBRARY_PATH=<root>/usr/lib/<triplet>); then the TLS example
# "Fetching a page" of the installed docs/tls.md (tests/deb/docs-block.lisp).
# usage: tests/deb/check-deb.sh [DEB-DIR]   (default build-deb, from make deb)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
debs=$(cd "${1:-$here/../../build-deb}" && pwd)
# The systems the test loads, one word each (roundtrip.lisp needs the
# packages epsilon.net.core and epsilon.sys.epoll).
systems="epsilon.sys.epoll epsilon.net.core"
fail() { echo "check-deb: $*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root" "$tmp/home" "$tmp/config"
for p in libepsilon-linux1 libepsilon-linux-dev cl-epsilon-linux; do
  deb=$(ls "$debs"/${p}_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || fail "no ${p}_*.deb in $debs (run make deb)"
  dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\./||' >"$tmp/$p.list"
  dpkg -x "$deb" "$root"
done

# What each package holds (and that the library is in no other package).
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
has() { grep -qx "$2" "$tmp/$1.list" || fail "$1 lacks $2"; }
has libepsilon-linux1 "usr/lib/$triplet/libepsilon-linux.so.1.0.0"
has libepsilon-linux1 "usr/lib/$triplet/libepsilon-linux.so.1"
has libepsilon-linux-dev "usr/lib/$triplet/libepsilon-linux.so"
has libepsilon-linux-dev "usr/lib/$triplet/pkgconfig/epsilon-linux.pc"
has libepsilon-linux-dev "usr/include/epsilon/epsilon.h"
has cl-epsilon-linux "usr/share/doc/cl-epsilon-linux/docs/index.md"
# Every lisp/*.asd of the tree is a system of the package, linked from
# systems/ to a copy among the sources.
for asd in "$here"/../../lisp/*.asd; do
  a=$(basename "$asd")
  has cl-epsilon-linux "usr/share/common-lisp/systems/$a"
  target=$(readlink -f "$root/usr/share/common-lisp/systems/$a")
  case "$target" in
    "$root/usr/share/common-lisp/source/epsilon-linux/"*) ;;
    *) fail "systems/$a does not point into source/epsilon-linux/: $target" ;;
  esac
  cmp -s "$asd" "$target" || fail "systems/$a is not the tree's lisp/$a"
done
for p in libepsilon-linux-dev cl-epsilon-linux; do
  ! grep -q 'libepsilon-linux\.so\.1' "$tmp/$p.list" || fail "$p also ships the shared library"
done

# The C side of the -dev package: pkg-config inside the root.
PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/$triplet/pkgconfig:/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig \
  pkg-config --cflags --libs epsilon-linux | grep -- "-I$root/usr/include" >/dev/null ||
  fail "pkg-config of the -dev package does not point into the root"

cp "$here/roundtrip.lisp" "$here/docs-block.lisp" "$tmp/"
cd "$tmp"
# fresh-sbcl SYSTEMS SCRIPT: a fresh SBCL (no init files, its own HOME and
# XDG directories, ASDF's default configuration) loads SYSTEMS and SCRIPT.
fresh_sbcl() {
  local loads=() s
  for s in $1; do loads+=(--eval "(asdf:load-system \"$s\")"); done
  env -i PATH=/usr/bin:/bin HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" \
    XDG_CONFIG_DIRS="$tmp/config" XDG_DATA_HOME="$tmp/home/.local/share" \
    XDG_DATA_DIRS="$root/usr/share" XDG_CACHE_HOME="$tmp/home/.cache" \
    LD_LIBRARY_PATH="$root/usr/lib/$triplet" EPS_DEB_ROOT="$root" \
    EPS_DEB_TLS_PAGE="$root/usr/share/doc/cl-epsilon-linux/docs/tls.md" \
    sbcl --noinform --non-interactive --no-sysinit --no-userinit \
      --eval '(require :asdf)' "${loads[@]}" --load "$2" >"$tmp/sbcl.log" 2>&1 ||
    { cat "$tmp/sbcl.log"; fail "$2 failed in a fresh SBCL with $1 loaded from the unpacked packages"; }
  grep -E '^(roundtrip|docs-block): ' "$tmp/sbcl.log"
}
fresh_sbcl "$systems" roundtrip.lisp
# The installed docs' TLS example runs against the installed packages.
fresh_sbcl epsilon.linux docs-block.lisp
echo "check-deb: packages unpacked, systems ($systems) loaded from them, round trip and installed docs example ok"
