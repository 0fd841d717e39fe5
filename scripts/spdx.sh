#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# spdx.sh [--add]: every tracked source file names its licence with an
# SPDX-License-Identifier line in its first three lines (generated files
# excepted: they come from headers that carry one).  Without --add: list
# the files that lack it and fail if any does (make test runs this); with
# --add: insert the line (after a #! line) in each.
set -euo pipefail
cd "$(dirname "$0")/.."
add=${1:-}
missing=$(mktemp)
trap 'rm -f "$missing"' EXIT
git ls-files -- '*.c' '*.h' '*.cpp' '*.lisp' '*.asd' '*.sh' '*.py' '*.awk' \
  'meson.build' '*/meson.build' 'meson_options.txt' 'Makefile' 'debian/rules' '.ci/run' |
  grep -v -e '^lisp/generated/' -e '^tests/gen/' -e '^tests/fuzz/corpus/' |
while read -r f; do
  head -3 "$f" | grep 'SPDX-License-Identifier:' >/dev/null && continue
  if [ "$add" != "--add" ]; then echo "$f" >>"$missing"; continue; fi
  case $f in
    *.c|*.h|*.cpp) line='/* SPDX-License-Identifier: MIT */' ;;
    *.lisp|*.asd) line=';;;; SPDX-License-Identifier: MIT' ;;
    *) line='# SPDX-License-Identifier: MIT' ;;
  esac
  if head -1 "$f" | grep '^#!' >/dev/null; then
    { head -1 "$f"; echo "$line"; tail -n +2 "$f"; } > "$f.spdx"
  else
    { echo "$line"; cat "$f"; } > "$f.spdx"
  fi
  chmod --reference="$f" "$f.spdx"; mv "$f.spdx" "$f"
done
if [ -s "$missing" ]; then
  echo "spdx: no SPDX-License-Identifier line in:" >&2
  sed 's/^/  /' "$missing" >&2
  echo "spdx: run bash scripts/spdx.sh --add" >&2
  exit 1
fi
[ "$add" = "--add" ] || echo "spdx: every source file names its licence"
