# The project's commands. `make test` and `make run` set everything up on a
# fresh Debian machine (as root) before they build.

.PHONY: all test run bench bench-ffi repl bindings check-valgrind clean

all:
	@bash scripts/install-deps.sh
	@bash scripts/build.sh build

test:
	@bash scripts/test.sh

# make run [PORT=8080] [TLS_PORT=8443] [HOST=127.0.0.1]: port 0 picks one.
run:
	@PORT="$(PORT)" TLS_PORT="$(TLS_PORT)" HOST="$(HOST)" bash scripts/run.sh

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
	@sbcl --script bench/ffi/bench.lisp

# ns per call through defshared, define-alien-routine, shared-call, CFFI.
bench-ffi:
	@bash scripts/install-deps.sh --bench
	@bash scripts/build.sh build
	@sbcl --script bench/ffi/bench.lisp

check-valgrind:
	@bash scripts/install-deps.sh
	@bash scripts/build.sh build
	meson test -C build --suite c --setup valgrind --print-errorlogs

clean:
	rm -rf build build-asan build-fuzz
