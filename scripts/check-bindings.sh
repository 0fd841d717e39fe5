#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fail when the checked-in lisp/generated/, docs/c-api.md or
# docs/error-codes.md differ from a fresh generation.
# usage: scripts/check-bindings.sh [BUILD-DIR]   (default: build)
set -uo pipefail
cd "$(dirname "$0")/.."
gen=${1:-build}/bindings-gen/bindings-gen
if [ ! -x "$gen" ]; then
  echo "check-bindings: $gen not built (run scripts/build.sh first)" >&2
  exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash scripts/gen-bindings.sh "$gen" "$tmp/generated" "$tmp/docs" || {
  echo "check-bindings: the generator refused the public headers (see above)" >&2
  exit 1
}
if ! diff -ru lisp/generated "$tmp/generated"; then
  echo "lisp/generated is stale: run make bindings" >&2
  exit 1
fi
for f in c-api.md error-codes.md; do
  if ! diff -u "docs/$f" "$tmp/docs/$f"; then
    echo "docs/$f is stale: run make bindings" >&2
    exit 1
  fi
done
echo "lisp/generated, docs/c-api.md and docs/error-codes.md are fresh"
