#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Generate the Lisp declarations of every public header into OUTDIR, and,
# when DOCSDIR is given, the generated references DOCSDIR/c-api.md and
# DOCSDIR/error-codes.md.
# usage: scripts/gen-bindings.sh BINDINGS-GEN OUTDIR [DOCSDIR]
# The one list of headers: csrc/include/epsilon/*.h except the umbrella.
# OUTDIR holds generated files only: a .lisp left from a header that no
# longer exists is removed.
set -euo pipefail
gen=$(realpath "$1")
mkdir -p "$2"
out=$(realpath "$2")
cd "$(dirname "$0")/.."
headers=()
keep=(package.lisp)
for h in csrc/include/epsilon/*.h; do
  [ "$h" = csrc/include/epsilon/epsilon.h ] && continue
  headers+=("$h")
  keep+=("$(basename "$h" .h).lisp")
done
docs=()
if [ -n "${3:-}" ]; then
  mkdir -p "$3"
  d=$(realpath "$3")
  docs=(--docs-out "$d/c-api.md" --errors-out "$d/error-codes.md")
fi
"$gen" --source-root . --out-dir "$out" "${docs[@]}" "${headers[@]}"
for f in "$out"/*.lisp; do
  [ -e "$f" ] || continue
  case " ${keep[*]} " in
    *" $(basename "$f") "*) ;;
    *) echo "gen-bindings: removing $(basename "$f") (no such header)"; rm -f "$f" ;;
  esac
done
