# SPDX-License-Identifier: MIT
# The project's commands. `make test` and `make run` set everything up on a
# fresh Debian machine (as root) before they build.

.PHONY: all deps build test run bench bench-ffi bench-http bench-tls bench-c10k bench-bulk bench-hunchentoot repl bindings check-valgrind fuzz fuzz-long deb test-deb reference clean

all: build

# The one place that installs what is missing (deps) and builds build/
# (build): every target that needs them names them as prerequisites. A
# target that needs more packages sets DEPS_FLAGS (a target-specific
# variable, which make passes on to the prerequisites).
deps:
	@bash scripts/install-deps.sh $(DEPS_FLAGS)

build: deps
	@bash scripts/build.sh build

test:
	@bash scripts/test.sh

# make run [PORT=8080] [TLS_PORT=8443] [HOST=127.0.0.1]: port 0 picks one.
run:
	@PORT="$(PORT)" TLS_PORT="$(TLS_PORT)" HOST="$(HOST)" bash scripts/run.sh

repl:
	@bash scripts/repl.sh

# Regenerate lisp/generated/ from the public headers (commit the result).
bindings: build
	ninja -C build regen-bindings

# Regenerate docs/reference.md from the docstrings of the public packages
# (commit the result; make test fails while it is stale).
reference: build
	@sbcl --script scripts/gen-reference.lisp

# The benchmarks need wrk, gnuplot and the Lisp libraries they compare with.
bench bench-http bench-tls bench-c10k bench-bulk bench-hunchentoot bench-ffi: DEPS_FLAGS = --bench

# The programs the benchmarks measure have their defaults in bench/run.sh
# (bench/README.md, "Plugging in"); set them in the environment to change.

# Every benchmark row (bench/README.md): the table goes to
# bench/results/latest.md, the chart to bench/results/latest.png.
bench: build
	@bash bench/run.sh ffi http tls c10k hunchentoot

# HTTP keep-alive (-c100, -c1000), pipelined, two threads vs one.
bench-http: build
	@bash bench/run.sh http

# HTTPS keep-alive, TLS handshakes/s, bulk 1 GiB over TCP and TLS.
bench-tls: build
	@bash bench/run.sh tls

# Only the bulk rows: 1 GiB over TCP and TLS, Lisp receiver and sender.
bench-bulk: build
	@bash bench/run.sh bulk

# Hunchentoot over cl+ssl vs over epsilon.crypto: HTTPS keep-alive, handshakes/s.
bench-hunchentoot: build
	@bash bench/run.sh hunchentoot

# 10,000 concurrent keep-alive connections, server memory per connection.
bench-c10k: build
	@bash bench/run.sh c10k

# ns per call through defshared, define-alien-routine, shared-call, CFFI.
bench-ffi: build
	@sbcl --script bench/ffi/bench.lisp

check-valgrind: build
	meson test -C build --suite c --setup valgrind --print-errorlogs

# libFuzzer targets in build-fuzz/ (clang), each run SECONDS (default 60).
SECONDS ?= 60
fuzz: deps
	@bash scripts/fuzz.sh $(SECONDS)

# Debian packages (libepsilon-linux1, libepsilon-linux-dev, cl-epsilon-linux)
# in build-deb/, built from a copy of the tree; lintian's report beside them.
# make test builds them too, and loads them (test-deb).
deb: DEPS_FLAGS = --deb
deb: deps
	@bash scripts/deb.sh

test-deb: deb
	@bash tests/deb/check-deb.sh

# Each libFuzzer target until 10^7 executions or FUZZ_SECONDS (default
# 7200) each, FUZZ_JOBS (default 1) at a time; writes the table to
# build-fuzz/fuzz-long/table.md.
FUZZ_SECONDS ?= 7200
FUZZ_JOBS ?= 1
fuzz-long: deps
	@FUZZ_JOBS=$(FUZZ_JOBS) bash tests/fuzz/fuzz-long.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-fuzz build-deb

# make soak [MINUTES=2]: the server of `make run` under mixed load from a
# separate driver process for MINUTES minutes (tests/soak/soak.py): fails on
# RSS, descriptor, handle or consing growth, a wrong answer or a hang.  The
# RSS bound starts after one full GC cycle under load (the plateau); at the
# server's consing rate that takes minutes, so runs of 10 minutes or more
# must reach it (make soak MINUTES=30), shorter ones bound the RSS outside
# the Lisp heap only.
.PHONY: soak
MINUTES ?= 2
soak: build
	@python3 tests/soak/soak.py --minutes $(MINUTES)
