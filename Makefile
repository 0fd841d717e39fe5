# The project's commands. `make test` and `make run` set everything up on a
# fresh Debian machine (as root) before they build.

.PHONY: all test run bench repl bindings check-valgrind fuzz clean

all:
	@bash scripts/install-deps.sh
	@bash scripts/build.sh build

test:
	@bash scripts/test.sh

run:
	@bash scripts/run.sh

repl:
	@bash scripts/repl.sh

# Regenerate lisp/generated/ from the public headers (commit the result).
bindings:
	@bash scripts/install-deps.sh
	@bash scripts/build.sh build
	ninja -C build regen-bindings

bench:
	@bash scripts/install-deps.sh --bench
	@bash scripts/build.sh build
	@echo "bench: no benchmarks yet"

check-valgrind:
	@bash scripts/install-deps.sh
	@bash scripts/build.sh build
	meson test -C build --suite c --setup valgrind --print-errorlogs

# libFuzzer targets in build-fuzz/ (clang), each run SECONDS (default 60).
SECONDS ?= 60
fuzz:
	@bash scripts/install-deps.sh
	@bash scripts/fuzz.sh $(SECONDS)

clean:
	rm -rf build build-asan build-fuzz
