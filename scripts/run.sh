#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make run`: install what is missing, build, run the main job from SBCL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build
exec sbcl --script examples/main.lisp "$@"
