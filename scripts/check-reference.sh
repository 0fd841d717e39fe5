#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fail when docs/reference.md differs from a fresh generation from the
# docstrings (scripts/gen-reference.lisp): run make reference and commit.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sbcl --script scripts/gen-reference.lisp "$tmp/reference.md" >/dev/null || {
  echo "check-reference: scripts/gen-reference.lisp failed" >&2; exit 1; }
if ! diff -u docs/reference.md "$tmp/reference.md"; then
  echo "docs/reference.md is stale: run make reference" >&2
  exit 1
fi
echo "docs/reference.md is fresh"
