#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make deb`: build the Debian packages (libepsilon-linux1,
# libepsilon-linux-dev, cl-epsilon-linux) with dpkg-buildpackage from a
# copy of the source tree, so the checkout stays clean; put the .deb files,
# the .changes and lintian's report in build-deb/; fail on a lintian error.
# usage: scripts/deb.sh [OUTDIR]   (DEB_BUILD_OPTIONS defaults to nocheck:
# make test runs the suites; DEB_BUILD_OPTIONS= runs them in the build too)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-build-deb}" && cd "${1:-build-deb}" && pwd)
version=$(dpkg-parsechangelog -S Version)
# One release number: meson.build's, debian/changelog's and NEWS's newest.
upstream=$(sed -n "s/^ *version : '\([^']*\)'.*/\1/p" meson.build | head -1)
[ "$version" = "$upstream" ] || { echo "deb: debian/changelog says $version, meson.build $upstream" >&2; exit 1; }
grep -q "^$upstream " NEWS || { echo "deb: NEWS has no entry for $upstream" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/epsilon-linux-$version
mkdir "$src"
# The files of the checkout as it is (committed or not), none of its build
# trees; outside git, everything but the build trees.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar -c --null -T - | tar -x -C "$src"
else
  tar -c --exclude='./build*' --exclude=./.git . | tar -x -C "$src"
fi
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck}
export DEB_BUILD_OPTIONS="$DEB_BUILD_OPTIONS parallel=$(nproc)"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 ||
  { tail -60 "$tmp/build.log"; echo "deb: dpkg-buildpackage failed" >&2; exit 1; }
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mv "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo "$out"/
cp "$tmp/build.log" "$out/build.log"
changes=$(ls "$out"/*.changes)
# Every tag, info included, goes to the report; only errors fail.
rc=0
lintian --display-info --fail-on error "$changes" >"$out/lintian.txt" 2>&1 || rc=$?
for deb in "$out"/*.deb; do
  printf "%8d bytes  %s\n" "$(stat -c %s "$deb")" "$(basename "$deb")"
done
if [ -s "$out/lintian.txt" ]; then
  echo "lintian:"; sed 's/^/  /' "$out/lintian.txt"
else
  echo "lintian: no tags"
fi
[ $rc -eq 0 ] || { echo "deb: lintian reports errors (above)" >&2; exit 1; }
echo "deb: packages in ${out#$PWD/}/"
