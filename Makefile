# The project's commands. `make test` and `make run` set everything up on a
# fresh Debian machine (as root) before they build.

.PHONY: all test run bench bench-ffi bench-http bench-tls bench-c10k repl bindings check-valgrind fuzz clean

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

# The programs the benchmarks measure have their defaults in bench/run.sh
# (bench/README.md, "Plugging in"); set them in the environment to change.

# Every benchmark row (bench/README.md): the table goes to
# bench/results/latest.md, the chart to bench/results/latest.png.
bench:
	@bash scripts/install-deps.sh --bench
	@bash scripts/build.sh build
	@bash bench/run.sh ffi http tls c10k

# HTTP keep-alive (-c100, -c1000), pipelined, two threads vs one.
bench-http:
	@bash scripts/install-deps.sh --bench
	@bash scripts/build.sh build
	@bash bench/run.sh http

# HTTPS keep-alive, TLS handshakes/s, bulk 1 GiB over TCP and TLS.
bench-tls:
	@bash scripts/install-deps.sh --bench
	@bash scripts/build.sh build
	@bash bench/run.sh tls

# 10,000 concurrent keep-alive connections, server memory per connection.
bench-c10k:
	@bash scripts/install-deps.sh --bench
	@bash scripts/build.sh build
	@bash bench/run.sh c10k

# ns per call through defshared, define-alien-routine, shared-call, CFFI.
bench-ffi:
	@bash scripts/install-deps.sh --bench
	@bash scripts/build.sh build
	@sbcl --script bench/ffi/bench.lisp

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
