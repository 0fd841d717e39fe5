#!/usr/bin/env bash
# Generate the Lisp declarations of every public header into OUTDIR.
# usage: scripts/gen-bindings.sh BINDINGS-GEN OUTDIR
# The one list of headers: csrc/include/epsilon/*.h except the umbrella.
set -euo pipefail
gen=$(realpath "$1")
mkdir -p "$2"
out=$(realpath "$2")
cd "$(dirname "$0")/.."
headers=()
for h in csrc/include/epsilon/*.h; do
  [ "$h" = csrc/include/epsilon/epsilon.h ] || headers+=("$h")
done
exec "$gen" --source-root . --out-dir "$out" "${headers[@]}"
