#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cross-file-calls.sh OBJDIR - list which object file calls which other
# object file's functions (from nm: a file's undefined symbols against the
# others' defined ones), then fail if two files call each other, directly
# or round a longer circle.  Run it on a build's object directory, e.g.
#   bash scripts/cross-file-calls.sh build/bindings-gen/bindings-gen.p
#   bash scripts/cross-file-calls.sh build/csrc/libepsilon-linux-internal.a.p
set -euo pipefail
dir=${1:?usage: cross-file-calls.sh OBJDIR}
shopt -s nullglob
objs=("$dir"/*.o)
if [ ${#objs[@]} -eq 0 ]; then
	echo "cross-file-calls: no .o files in $dir" >&2
	exit 2
fi
defs=$(mktemp) uses=$(mktemp)
trap 'rm -f "$defs" "$uses"' EXIT
for o in "${objs[@]}"; do
	f=$(basename "$o" .o)
	nm --defined-only "$o" | awk -v f="$f" '$2 ~ /^[TDRB]$/ {print $3, f}' >>"$defs"
	nm --undefined-only "$o" | awk -v f="$f" '{print $2, f}' >>"$uses"
done
# caller callee symbol, for symbols defined in one of the files
edges=$(awk 'NR == FNR {def[$1] = $2; next}
	($1 in def) && def[$1] != $2 {print $2, def[$1], $1}' "$defs" "$uses" | sort -u)
echo "$edges" | awk 'NF {printf "%-24s -> %-24s %s\n", $1, $2, $3}'
# tsort fails, naming the files, when the file graph has a circle.
pairs=$(echo "$edges" | awk 'NF {print $1, $2}' | sort -u)
if ! loops=$(echo "$pairs" | tsort 2>&1 >/dev/null); then
	echo "cross-file-calls: circle between files:" >&2
	echo "$loops" | sed 's/^/  /' >&2
	exit 1
fi
echo "cross-file-calls: no circles between the files of $dir"
