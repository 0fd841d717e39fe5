#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-calls.sh OBJDIR [NM] - no two files of csrc/ call each other's
# functions.  From the object files in OBJDIR (one per csrc/*.c), `nm`
# gives what each defines and what it uses; a use of a symbol another
# object defines is an edge A -> B.  Prints every edge, then fails on any
# pair with both A -> B and B -> A (and on longer cycles).
set -euo pipefail
objdir=${1:?usage: check-calls.sh OBJDIR [NM]}
nm=${2:-nm}
defs=$(mktemp) uses=$(mktemp)
trap 'rm -f "$defs" "$uses"' EXIT
for o in "$objdir"/*.c.o; do
  f=$(basename "$o" .o)
  "$nm" -g --defined-only "$o" | awk -v f="$f" '$2 ~ /^[TDBR]$/ { print $3, f }' >>"$defs"
  "$nm" -u "$o" | awk -v f="$f" '{ print $2, f }' >>"$uses"
done
# Edges "user definer", once each.
edges=$(sort "$defs" | join -o 2.2,1.2 - <(sort "$uses") | awk '$1 != $2' | sort -u)
echo "cross-file calls (caller -> callee):"
echo "$edges" | awk '{ printf "  %-14s -> %s\n", $1, $2 }'
# A cycle: repeatedly drop files that call nobody left; what remains loops.
remaining=$edges
while :; do
  callers=$(echo "$remaining" | awk 'NF { print $1 }' | sort -u)
  next=$(echo "$remaining" | awk -v c="$callers" 'BEGIN { n = split(c, a, "\n"); for (i = 1; i <= n; i++) k[a[i]] = 1 }
                                                  NF && ($2 in k)')
  [ "$next" = "$remaining" ] && break
  remaining=$next
done
if [ -n "$(echo "$remaining" | awk 'NF')" ]; then
  echo "check-calls: files call each other (a cycle among these edges):"
  echo "$remaining" | awk 'NF { printf "  %s -> %s\n", $1, $2 }'
  exit 1
fi
echo "check-calls: no cycle"
