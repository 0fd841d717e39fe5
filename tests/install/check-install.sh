#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A user's build: configure a scratch tree with the generator disabled (no
# libclang needed) and the default warning settings, build, install to a
# temporary prefix, check what was installed, then compile the C program of
# docs/c.md against that prefix with pkg-config and run it.
# usage: tests/install/check-install.sh   (from anywhere; about 15 s)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "check-install: $*" >&2; exit 1; }

export CC=${CC:-gcc}
meson setup "$tmp/build" "$src" -Dbindings_gen=disabled -Dtests=false \
  --prefix="$prefix" >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; fail "meson setup failed"; }
grep -q 'bindings-gen' <(meson introspect --targets "$tmp/build") &&
  fail "bindings-gen is a target although -Dbindings_gen=disabled"
# A user's tree does not turn warnings into errors (scripts/build.sh does).
option() { meson introspect --buildoptions "$tmp/build" |
  python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]][0])' "$1"; }
[ "$(option werror)" = False ] || fail "werror is on by default: a newer compiler's warning would stop a user's build"
ninja -C "$tmp/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build failed"; }
meson install -C "$tmp/build" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "meson install failed"; }

libdir=$prefix/$(option libdir)
doc=$prefix/share/doc/epsilon-linux
for f in "$libdir/libepsilon-linux.so.1" "$libdir/libepsilon-linux.so" \
         "$libdir/pkgconfig/epsilon-linux.pc" "$prefix/include/epsilon/epsilon.h" \
         "$doc/LICENSE" "$doc/NEWS" "$doc/README.md" "$doc/docs/index.md" "$doc/docs/c.md" \
         "$prefix/share/common-lisp/systems/epsilon.linux.asd" \
         "$prefix/share/common-lisp/source/epsilon-linux/tests/data/make-certs.sh"; do
  [ -e "$f" ] || fail "not installed: ${f#$prefix/}"
done
for h in "$src"/csrc/include/epsilon/*.h; do
  cmp -s "$h" "$prefix/include/epsilon/$(basename "$h")" || fail "header $(basename "$h") not installed"
done
for d in "$src"/docs/*.md; do
  cmp -s "$d" "$doc/docs/$(basename "$d")" || fail "docs/$(basename "$d") not installed"
done

# The one ```c block of docs/c.md, byte for byte.
n=$(grep -c '^```c$' "$src/docs/c.md") || true
[ "$n" = 1 ] || fail "docs/c.md must hold exactly one \`\`\`c block (found $n)"
awk '/^```c$/ { on = 1; next } on && /^```$/ { on = 0 } on' "$src/docs/c.md" >"$tmp/roundtrip.c"

export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion epsilon-linux)" = "$(meson introspect --projectinfo "$tmp/build" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" ] || fail "pkg-config version differs"
flags=$(pkg-config --cflags --libs epsilon-linux)
case " $flags " in
  *" -I$prefix/include "*) ;;
  *) fail "pkg-config --cflags does not name $prefix/include: $flags" ;;
esac
# Strict: a warning in the documented program is a failure.
$CC -std=c99 -Wall -Wextra -Werror -o "$tmp/roundtrip" "$tmp/roundtrip.c" $flags ||
  fail "the program of docs/c.md does not compile against the installed library"
out=$(LD_LIBRARY_PATH=$libdir "$tmp/roundtrip") || fail "the program of docs/c.md failed: $out"
echo "$out"
[[ $out =~ ^hello\ back\ from\ 127\.0\.0\.1:[0-9]+\ \(libepsilon-linux\ [0-9.]+\)$ ]] ||
  fail "unexpected output of docs/c.md's program: $out"
# It ran against the installed copy, not a build tree's.
LD_LIBRARY_PATH=$libdir ldd "$tmp/roundtrip" | grep "$libdir/libepsilon-linux.so.1" >/dev/null || fail "not linked with the installed library"
echo "check-install: built without the generator, installed, docs/c.md program ok"
