#!/bin/sh
# SPDX-License-Identifier: MIT
# The library exports exactly the functions its public headers declare.
# usage: check-exports.sh LIBRARY HEADER_DIR NM
set -eu
lib=$1 dir=$2 nm=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nm" -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" || $2 == "W" { print $3 }' \
    | grep -v '^_' | sort -u >"$tmp/exported"
# Prototypes: an eps_ identifier followed by "(" at the start of a declarator.
cat "$dir"/*.h | tr '\n' ' ' | grep -o '[ *]eps_[a-z0-9_]*(' | tr -d ' *(' | sort -u >"$tmp/declared"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "exports: exported symbols differ from the header prototypes (- declared, + exported)"
    exit 1
fi
echo "exports: $(wc -l <"$tmp/declared") functions declared and exported, nothing else"
