#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make repl`: SBCL with the systems registered and the library found.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build
exec sbcl --eval '(require :asdf)' \
  --eval "(asdf:initialize-source-registry '(:source-registry (:tree \"$PWD/lisp/\") (:tree \"$PWD/examples/\") :inherit-configuration))" \
  --eval '(asdf:load-system "epsilon.linux")'
