#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""soak.py - `make soak MINUTES=N`: the server of `make run` under mixed load.

Starts examples/main.lisp (PORT=0 TLS_PORT=0) as a child, and the load
driver tests/soak/driver.c (built here into build/soak/) as another: HTTP
and HTTPS, keep-alive and new connections, pipelining, half-close, and
clients that reset, stall, send garbage or TLS records cut short. The
server runs through tests/soak/server.lisp (the same code as `make run`),
which turns SBCL's GC log on and scales SBCL's GC policy down to a 4 MB
nursery (--nursery-mb; 0 keeps SBCL's 53 MB, see below). Every 10 s it samples the
server's RSS, split into the Lisp dynamic space's resident pages and the
rest (malloc, OpenSSL, stacks, libraries; /proc/PID/smaps), its open
descriptors (/proc/PID/fd), from /stats its live handles, heap in use and
bytes consed, and from the GC log the collections of each generation since
the load began and the heap left after the last one; it prints the sample
as a progress line.

Why two RSS bounds: SBCL returns free heap pages to the kernel only after
a collection of generation 1 or older, and a collection copies survivors
into pages that may never have been touched, so the dynamic space's RSS
steps up at the first collections under load (the nursery is 5% of the
dynamic space, 53 MB by default) while the heap left after each GC stays
flat. The RSS plateau is reached only once a full cycle (generation 0
collected twice, so that it is promoted, and generation 1 once) has run
under load; a baseline taken before that measures the warm-up, not a
leak. With SBCL's 53 MB nursery and this server's ~150 bytes consed per
request, a collection comes every ~10 minutes at the soak's ~600
requests/s on a shared machine (measured: 53 MB / ~90 KB consed per s),
and by gencgc's age rule (average age > 0.75) generation 1 is first
collected on generation 0's third promotion, i.e. the sixth collection:
past a 30-minute run. Hence the 4 MB nursery (collections every ~50 s);
the generations' own triggers are scaled with it as SBCL sets them (a
fifth of the nursery).

It fails (exit 1) when
  - after the warm-up (--warmup seconds AND, under load, 2 collections of
    generation 0 and 1 of generation 1: one full cycle), the RSS exceeds
    by 5% the plateau (the highest RSS up to the warm-up's end); a run of
    10 minutes or more in which that warm-up does not end fails too (the
    bound could not be judged); a shorter one (make test's 2 minutes, where
    no collection may happen at all) says "not judged" for it and relies on
    the next bound;
  - after --warmup seconds, the RSS outside the Lisp dynamic space (malloc
    and OpenSSL arenas, stacks, libraries: no GC moves it) exceeds that of
    the first sample after those seconds by 5%;
  - after the warm-up, the bytes consed per request of an interval exceed
    1.5 x that of the first post-warm-up interval + 1 KiB;
  - during the load, descriptors or handles exceed the idle baseline by
    more than the driver's threads can hold (4 per thread + 32);
  - once the driver is gone, descriptors or handles do not come back to the
    idle baseline within 30 s;
  - the driver saw a well-formed request answered wrongly (status or body
    bytes) or not at all, or an abusive client hang the server;
  - /stats does not answer within 15 s (the server stopped answering);
  - the server does not exit 0 with every library descriptor closed on
    SIGINT.

So that it cannot pass vacuously it first checks its own checks: the
series checker against synthetic growing series (it must fail each, among
them a slow linear RSS growth that starts after the GC warm-up), and flat
ones and ones with GC warm-up steps and sawteeth (it must pass each), and
the GC log reader against a synthetic log; a stopped server (SIGSTOP) must
count as not answering; a driver run with --wrong must be caught; and after the soak a
driver run with --leak must be seen as descriptors above the baseline
(then released, back to it).

Everything is bounded: the driver stops by itself after the soak's minutes,
every wait has a timeout, every child is killed on the way out.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build", "soak")
DRIVER = os.path.join(BUILD, "soak-driver")
CA = os.path.join(ROOT, "build", "run-certs", "ca.pem")

RSS_GROWTH = 0.05
# Collections of generations 0 and 1 under load before the RSS baseline: one
# full cycle (generation 0 is promoted on its second collection).
WARMUP_GCS = (2, 1)
# The server's nursery (tests/soak/server.lisp): SBCL's policy scaled down so
# that full GC cycles come every few minutes under the soak's load.
NURSERY_MB = 4
# A run this long must get through the GC warm-up to pass.
RSS_JUDGED_MINUTES = 10
CONSED_FACTOR = 1.5
CONSED_SLACK = 1024


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- the checks

def gc_warmup_end(samples, warmup, warmup_gcs=WARMUP_GCS):
    """Index of the sample that ends the warm-up: the first at or after
    WARMUP seconds by which each generation g < len(WARMUP_GCS) has been
    collected WARMUP_GCS[g] times under load; None when none does."""
    for i, s in enumerate(samples):
        if s["t"] >= warmup and all(s["gcs"][g] >= n for g, n in enumerate(warmup_gcs)):
            return i
    return None


def check_series(samples, warmup, base_fds, base_handles, threads, warmup_gcs=WARMUP_GCS,
                 require_rss=False):
    """Failures (strings) of SAMPLES (dicts with t, rss, rss_other, gcs,
    fds, handles, consed_per_request) against the bounds in the module
    docstring.  REQUIRE_RSS: a warm-up that never ends is a failure."""
    failures = []
    bound = 4 * threads + 32
    post = [s for s in samples if s["t"] >= warmup]
    for s in samples:
        if s["fds"] > base_fds + bound:
            failures.append("t=%ds: %d descriptors, more than %d + %d" % (s["t"], s["fds"], base_fds, bound))
        if s["handles"] > base_handles + bound:
            failures.append("t=%ds: %d handles, more than %d + %d" % (s["t"], s["handles"], base_handles, bound))
    end = gc_warmup_end(samples, warmup, warmup_gcs)
    if end is not None:
        plateau = max(s["rss"] for s in samples[:end + 1])
        limit = plateau * (1 + RSS_GROWTH)
        for s in samples[end + 1:]:
            if s["rss"] > limit:
                failures.append("t=%ds: RSS %d kB, more than the plateau %d kB (t<=%ds) + 5%%"
                                % (s["t"], s["rss"], plateau, samples[end]["t"]))
    elif require_rss:
        last = samples[-1]["gcs"] if samples else (0, 0)
        failures.append("RSS not judged: the GC warm-up (%s collections of generations 0, 1 under load) "
                        "did not end; seen %s" % (list(warmup_gcs), list(last[:len(warmup_gcs)])))
    if post:
        base_other = post[0]["rss_other"]
        olimit = base_other * (1 + RSS_GROWTH)
        for s in post[1:]:
            if s["rss_other"] > olimit:
                failures.append("t=%ds: RSS outside the Lisp heap %d kB, more than %d kB + 5%%"
                                % (s["t"], s["rss_other"], base_other))
        rated = [s for s in post if s.get("consed_per_request") is not None]
        if rated:
            base_c = rated[0]["consed_per_request"]
            climit = base_c * CONSED_FACTOR + CONSED_SLACK
            for s in rated[1:]:
                if s["consed_per_request"] > climit:
                    failures.append("t=%ds: %.0f bytes consed per request, more than 1.5 x %.0f + 1 KiB"
                                    % (s["t"], s["consed_per_request"], base_c))
    return failures


def check_settled(fds, handles, base_fds, base_handles):
    failures = []
    if fds > base_fds:
        failures.append("after the load: %d descriptors, %d before it" % (fds, base_fds))
    if handles > base_handles:
        failures.append("after the load: %d handles, %d before it" % (handles, base_handles))
    return failures


def self_test_checker():
    """The checker must fail on growing series and pass flat ones, and ones
    whose RSS steps up only until the GC warm-up ends."""
    def gcs_every(k):
        # generation 0 collected every K samples, generation 1 every 2K
        return lambda i: (i // k, i // (2 * k), 0)

    def series(rss=lambda i: 100000, other=lambda i: 30000, fds=lambda i: 10, handles=lambda i: 3,
               cpr=lambda i: 300.0, gcs=gcs_every(2), n=12):
        return [{"t": 10 * i, "rss": rss(i), "rss_other": other(i), "gcs": gcs(i), "fds": fds(i),
                 "handles": handles(i), "consed_per_request": cpr(i)} for i in range(1, n + 1)]

    def steps_then(after):
        # +6% at each of the first two collections of generation 0 (samples
        # 2 and 4; the second, with generation 1's first, ends the warm-up at
        # t=40), then AFTER(i - 4) from there
        return lambda i: int(100000 * 1.06 ** min(i // 2, 2) * (after(i - 4) if i > 4 else 1))

    def sawtooth(i):
        # the release after each generation-1 collection, refilled by the nursery
        return int(112000 - 15000 * (i % 4 == 0))

    never = lambda i: (0, 0, 0)
    cases = [
        # name, series, require_rss, should fail
        ("flat", series(), False, False),
        ("flat, no collection at all (short run)", series(gcs=never), False, False),
        ("RSS +1%/sample", series(rss=lambda i: int(100000 * (1.01 ** i))), False, True),
        ("RSS outside the Lisp heap +1%/sample, no collection at all",
         series(other=lambda i: int(30000 * (1.01 ** i)), gcs=never), False, True),
        ("RSS steps at the first collections, flat after the warm-up",
         series(rss=steps_then(lambda j: 1), n=40), True, False),
        ("RSS sawtooth under the plateau after the warm-up",
         series(rss=lambda i: steps_then(lambda j: 1)(i) if i <= 4 else sawtooth(i), n=40), True, False),
        ("RSS slow linear growth (+0.25%/sample) after the GC warm-up",
         series(rss=steps_then(lambda j: 1 + 0.0025 * j), n=40), True, True),
        ("RSS stepping up at every collection (never a plateau)",
         series(rss=lambda i: int(100000 * 1.03 ** (i // 2)), n=40), True, True),
        ("GC warm-up never ends in a long run", series(gcs=never, n=40), True, True),
        ("descriptors growing", series(fds=lambda i: 10 + 8 * i), False, True),
        ("handles growing", series(handles=lambda i: 3 + 8 * i), False, True),
        ("consing per request growing", series(cpr=lambda i: 300.0 * i), False, True),
        ("RSS growing in the warm-up only", series(rss=lambda i: 100000 if i > 3 else 50000 * i),
         False, False),
    ]
    problems = []
    for name, s, require, should_fail in cases:
        failed = bool(check_series(s, 30, 10, 3, 6, require_rss=require))
        if failed != should_fail:
            problems.append("checker %s on the synthetic series '%s'" % ("failed" if failed else "passed", name))
    if not check_settled(11, 3, 10, 3) or not check_settled(10, 4, 10, 3) or check_settled(10, 3, 10, 3):
        problems.append("check_settled does not tell a leak from none")
    problems += self_test_gc_log()
    return problems


def self_test_gc_log():
    """read_gc_log on a log in SBCL 2.2's format: a collection of
    generation 0 alone (kept there), one promoting 0 into 1, one collecting
    1 (promoted into 2), and one whose end is not written yet."""
    def table(rows, tot):
        head = ("        Immobile Object Counts\n Gen layout fdefn symbol   code  Boxed   Cons    Raw   Code"
                "  SmMix  Mixed  LgRaw LgCode  LgMix Waste%       Alloc        Trig   Dirty GCs Mem-age\n")
        body = "".join("  %d      0      0      0      0      1      1      0      0      0      1      0      0"
                       "      0    0.5 %11d     2000000       - %3d  0.0000\n" % (g, alloc, n)
                       for g, alloc, n in rows)
        return head + body + ("Tot      0      0      0      0      1      1      0      0      0      1      0"
                              "      0      0    0.5 %11d [1.0%% of 1073741824 max]\n" % tot)
    text = ("=== GC Start ===\n" + table([(0, 5000000, 0), (1, 100000, 0), (2, 0, 0)], 5100000)
            + "=== GC End ===\n" + table([(0, 400000, 1), (1, 100000, 0), (2, 0, 0)], 500000)
            + "=== GC Start ===\n" + table([(0, 4400000, 1), (1, 100000, 0), (2, 0, 0)], 4500000)
            + "=== GC End ===\n" + table([(1, 600000, 0), (2, 0, 0)], 600000)
            + "=== GC Start ===\n" + table([(0, 4000000, 0), (1, 600000, 0), (2, 0, 0)], 4600000)
            + "=== GC End ===\n" + table([(0, 300000, 1), (2, 700000, 0)], 1000000)
            + "=== GC Start ===\n" + table([(0, 4000000, 1), (2, 700000, 0)], 4700000))
    path = os.path.join(BUILD, "gc-selftest-%d.log" % os.getpid())
    os.makedirs(BUILD, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    try:
        got = read_gc_log(path)
    finally:
        os.unlink(path)
    want = [(0, 500000), (0, 600000), (1, 1000000)]
    problems = []
    if got != want:
        problems.append("read_gc_log read %s from a synthetic GC log, not %s" % (got, want))
    elif gc_counts(got, 0) != (3, 1, 0) or gc_counts(got, 1) != (2, 1, 0):
        problems.append("gc_counts miscounts %s" % got)
    return problems


# ---------------------------------------------------------------- the server

def read_gc_log(path):
    """The collections recorded in SBCL's GC log at PATH (see server.lisp),
    oldest first, each as (the oldest generation collected, heap bytes in
    use after it).  A generation g >= 1 was collected when its GC count
    changed (SBCL counts up when it keeps a generation's survivors there
    and resets the count to 0 when it promotes them, and it promotes a
    generation only once it has been collected) or it was emptied;
    generation 0 is collected every time.  A collection whose end is not
    in the log yet is left out."""
    gcs = []
    start = end = None
    which = None
    try:
        with open(path, errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return gcs

    def done():
        if start is not None and end is not None and "tot" in end:
            top = 0
            for g in range(1, 6):
                a, b = start.get(g), end.get(g)
                if a and ((b and a[1] != b[1]) or (a[0] > 0 and (not b or b[0] == 0))):
                    top = g
            gcs.append((top, end["tot"]))
    for line in lines:
        if line.startswith("=== GC Start"):
            done()
            start, end, which = {}, None, "start"
        elif line.startswith("=== GC End"):
            end, which = {}, "end"
        elif which:
            p = line.split()
            table = start if which == "start" else end
            if len(p) >= 20 and p[0].isdigit():
                table[int(p[0])] = (int(p[15]), p[18])
            elif len(p) >= 16 and p[0] == "Tot":
                table["tot"] = int(p[15])
    done()
    return gcs


def gc_counts(gcs, first):
    """Collections of generations 0, 1, 2 among GCS[FIRST:] (a collection
    of generation g collects every younger one too)."""
    return tuple(sum(1 for top, _ in gcs[first:] if top >= g) for g in range(3))


class Server:
    def __init__(self, nursery_mb=0):
        os.makedirs(BUILD, exist_ok=True)
        self.gc_log = os.path.join(BUILD, "gc-%d.log" % os.getpid())
        if os.path.exists(self.gc_log):
            os.unlink(self.gc_log)
        self.dynamic_space = None
        env = dict(os.environ, PORT="0", TLS_PORT="0", SOAK_GC_LOG=self.gc_log,
                   SOAK_NURSERY_BYTES=str(int(nursery_mb * 1024 * 1024)))
        self.proc = subprocess.Popen(["timeout", "-s", "KILL", "7200", "sbcl", "--script",
                                      os.path.join(ROOT, "tests", "soak", "server.lisp")],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = []
        self.port = self.tls_port = None
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("SOAK_DYNAMIC_SPACE "):
                start, size = (int(x) for x in line.split()[1:3])
                self.dynamic_space = (start, start + size)
            elif line.startswith("PORT "):
                self.port = int(line.split()[1])
            elif line.startswith("TLS_PORT "):
                self.tls_port = int(line.split()[1])
                self.ready.set()
        self.ready.set()

    def pid(self):
        """The SBCL's pid (the child of timeout(1))."""
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else self.proc.pid

    def rss_kb(self):
        with open("/proc/%d/status" % self.spid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def rss_split_kb(self):
        """(RSS, RSS of the Lisp dynamic space) in kB from /proc/PID/smaps."""
        total = dyn = 0
        lo, hi = self.dynamic_space or (0, 0)
        inside = False
        with open("/proc/%d/smaps" % self.spid) as f:
            for line in f:
                head = line.split(None, 1)[0]
                if not head.endswith(":"):
                    a, b = (int(x, 16) for x in head.split("-"))
                    inside = a < hi and b > lo
                elif head == "Rss:":
                    kb = int(line.split()[1])
                    total += kb
                    if inside:
                        dyn += kb
        return total, dyn

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.spid))

    def stats(self, timeout=15):
        """/stats as a dict of ints/floats, or None when it does not answer."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(b"GET /stats HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                data = b""
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200 "):
            return None
        out = {}
        for line in body.decode("latin-1").splitlines():
            k, _, v = line.partition(" ")
            try:
                out[k] = float(v) if "." in v else int(v)
            except ValueError:
                pass
        return out

    def stop(self):
        """SIGINT; (exit code or None, output)."""
        if self.proc.poll() is None:
            try:
                os.kill(self.spid, signal.SIGINT)
            except ProcessLookupError:
                pass
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = None
        return code, "\n".join(self.lines)


def run_driver(server, seconds, threads, seed, extra=(), wait=True):
    args = [DRIVER, "--port", str(server.port), "--tls-port", str(server.tls_port), "--ca", CA,
            "--seconds", str(seconds), "--threads", str(threads), "--seed", str(seed)] + list(extra)
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return p
    try:
        out, err = p.communicate(timeout=seconds + 90)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return p.returncode, out, err


def driver_counts(out):
    for line in out.splitlines():
        if line.startswith("DRIVER "):
            return dict(kv.split("=") for kv in line.split()[1:])
    return {}


def settle(server, base_fds, base_handles, seconds=30):
    """Poll until descriptors and handles are back to the baseline (or the
    time is up); the last (fds, handles)."""
    deadline = time.monotonic() + seconds
    while True:
        fds = server.fd_count()
        st = server.stats() or {}
        handles = st.get("open-handles", -1)
        fds_after = server.fd_count()
        fds = min(fds, fds_after)
        if (fds <= base_fds and handles <= base_handles) or time.monotonic() > deadline:
            return fds, handles
        time.sleep(0.5)


def build_driver():
    os.makedirs(BUILD, exist_ok=True)
    src = os.path.join(ROOT, "tests", "soak", "driver.c")
    if not os.path.exists(DRIVER) or os.path.getmtime(DRIVER) < os.path.getmtime(src):
        subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", DRIVER, src,
                        "-lssl", "-lcrypto", "-lpthread"], check=True)


# ---------------------------------------------------------------- the soak

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("MINUTES") or 2))
    ap.add_argument("--warmup", type=int, default=30, help="seconds (default 30)")
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--threads", type=int, default=6)
    ap.add_argument("--nursery-mb", type=float, default=NURSERY_MB,
                    help="SBCL's nursery for the server, MB (default %(default)g; 0: SBCL's own, "
                    "5%% of the dynamic space)")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    a = ap.parse_args()
    seconds = int(a.minutes * 60)
    failures = []
    counts = {}
    log("soak: %g minute(s), warm-up %d s + %s GCs of generations 0, 1, sample every %d s, %d driver threads, "
        "server nursery %s, seed %d (--seed %d reproduces the driver's choices)"
        % (a.minutes, a.warmup, list(WARMUP_GCS), a.interval, a.threads,
           "%g MB" % a.nursery_mb if a.nursery_mb else "SBCL's default", a.seed, a.seed))

    problems = self_test_checker()
    failures += ["self-test: " + p for p in problems]
    log("soak: checker self-test on synthetic series: %s" % ("ok" if not problems else "FAILED"))

    build_driver()
    server = Server(a.nursery_mb)
    if not server.ready.wait(300) or server.port is None or server.tls_port is None:
        log("soak: FAILED: the server did not start:\n" + "\n".join(server.lines))
        server.proc.kill()
        return 1
    server.spid = server.pid()
    samples = []
    try:
        # Idle baseline: one /stats round first (its first call makes what it keeps).
        server.stats()
        time.sleep(1)
        base_fds, base_handles = server.fd_count(), (server.stats() or {}).get("open-handles", -1)
        time.sleep(0.5)
        base_fds = min(base_fds, server.fd_count())
        log("soak: server pid %d, http %d, https %d; idle: %d descriptors, %d handles, RSS %d kB"
            % (server.spid, server.port, server.tls_port, base_fds, base_handles, server.rss_kb()))

        # Self-tests against the live server.
        os.kill(server.spid, signal.SIGSTOP)
        stopped = server.stats(timeout=2)
        os.kill(server.spid, signal.SIGCONT)
        if stopped is not None or server.stats() is None:
            failures.append("self-test: a stopped server was not seen as not answering")
        rc, out, _ = run_driver(server, 2, 2, a.seed, ["--wrong"])
        wrong = int(driver_counts(out).get("wrong", 0))
        if rc != 1 or wrong == 0:
            failures.append("self-test: the driver's --wrong run was not caught (rc %s, wrong %d)" % (rc, wrong))
        log("soak: live self-tests (stopped server, wrong answers): %s"
            % ("ok" if not [f for f in failures if "self-test" in f] else "FAILED"))
        fds, handles = settle(server, base_fds, base_handles)

        # The soak.
        gcs_before = len(read_gc_log(server.gc_log))
        driver = run_driver(server, seconds, a.threads, a.seed, wait=False)
        t0 = time.monotonic()
        prev = server.stats()
        prev_t = t0
        warm_end = None
        log("soak: RSS = lisp (the dynamic space's resident pages) + other; gc0/1/2: collections of "
            "generations 0, 1, 2 since the load began (%d before it); heap after GC: after the last one"
            % gcs_before)
        hdr = "%6s %10s %9s %9s %5s %7s %9s %9s %8s %12s %8s %10s" % (
            "t(s)", "RSS(kB)", "lisp(kB)", "other(kB)", "fds", "handles", "heap(MB)", "afterGC",
            "gc0/1/2", "consed(MB)", "req/s", "consed/req")
        log("soak: " + hdr)
        while True:
            next_t = t0 + (len(samples) + 1) * a.interval
            while time.monotonic() < next_t and driver.poll() is None:
                time.sleep(0.2)
            if driver.poll() is not None:
                break
            fds = server.fd_count()
            rss, rss_lisp = server.rss_split_kb()
            gcs = read_gc_log(server.gc_log)
            st = server.stats()
            now = time.monotonic()
            if st is None:
                failures.append("t=%ds: /stats did not answer within 15 s" % (now - t0))
                break
            dreq = st["requests"] - prev["requests"]
            dcons = st["bytes-consed"] - prev["bytes-consed"]
            cpr = (dcons / dreq) if dreq > 0 else None
            s = {"t": int(round(next_t - t0)), "rss": rss, "rss_lisp": rss_lisp, "rss_other": rss - rss_lisp,
                 "gcs": gc_counts(gcs, gcs_before), "heap_after_gc": gcs[-1][1] if gcs else 0,
                 "fds": fds, "handles": st["open-handles"],
                 "heap": st["dynamic-usage"], "consed": st["bytes-consed"], "rps": dreq / (now - prev_t),
                 "consed_per_request": cpr}
            samples.append(s)
            prev, prev_t = st, now
            if warm_end is None:
                warm_end = gc_warmup_end(samples, a.warmup)
                note = "  (warm-up)" if warm_end is None else "  (warm-up ends: the RSS plateau is %d kB)" % max(
                    x["rss"] for x in samples)
            else:
                note = ""
            log("soak: %6d %10d %9d %9d %5d %7d %9.1f %9.1f %8s %12.1f %8.0f %10s%s"
                % (s["t"], rss, rss_lisp, rss - rss_lisp, fds, s["handles"], s["heap"] / 1e6,
                   s["heap_after_gc"] / 1e6, "%d/%d/%d" % s["gcs"], s["consed"] / 1e6, s["rps"],
                   "-" if cpr is None else "%.0f" % cpr, note))
        try:
            out, err = driver.communicate(timeout=seconds + 90)
        except subprocess.TimeoutExpired:
            driver.kill()
            out, err = driver.communicate()
            failures.append("the driver did not stop by itself")
        counts = driver_counts(out)
        log("soak: driver: rc %s, %s" % (driver.returncode, " ".join("%s=%s" % kv for kv in counts.items())))
        if err.strip():
            log("soak: driver said:\n" + err.rstrip())
        if driver.returncode != 0:
            failures.append("driver: wrong=%s failed=%s abuse_hung=%s (exit %s)"
                            % (counts.get("wrong"), counts.get("failed"), counts.get("abuse_hung"),
                               driver.returncode))
        if int(counts.get("requests", 0)) == 0:
            failures.append("driver: no request was made")
        failures += check_series(samples, a.warmup, base_fds, base_handles, a.threads,
                                 require_rss=a.minutes >= RSS_JUDGED_MINUTES)
        if len([s for s in samples if s["t"] >= a.warmup]) < 2:
            failures.append("fewer than 2 samples after the warm-up: run longer")
        fds, handles = settle(server, base_fds, base_handles)
        log("soak: after the load: %d descriptors, %d handles (idle baseline %d, %d)"
            % (fds, handles, base_fds, base_handles))
        failures += check_settled(fds, handles, base_fds, base_handles)

        # The live leak self-test: connections held past the driver's end.
        rc, out, _ = run_driver(server, 0, 1, a.seed, ["--leak", "5", "--leak-hold", "60"])
        leak_pid = next((int(l.split()[1]) for l in out.splitlines() if l.startswith("LEAK_PID ")), None)
        lfds, lhandles = settle(server, base_fds, base_handles, seconds=3)
        caught = bool(check_settled(lfds, lhandles, base_fds, base_handles))
        if leak_pid:
            try:
                os.kill(leak_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        rfds, rhandles = settle(server, base_fds, base_handles)
        if not caught or check_settled(rfds, rhandles, base_fds, base_handles):
            failures.append("self-test: 5 leaked connections were not seen (%d descriptors, baseline %d) "
                            "or not released (%d after)" % (lfds, base_fds, rfds))
        log("soak: live self-test (5 connections held): %d descriptors while held, %d after: %s"
            % (lfds, rfds, "ok" if caught and rfds <= base_fds else "FAILED"))
    finally:
        code, output = server.stop()
    if code != 0 or "library descriptors open: 0" not in output:
        failures.append("the server's exit: code %s, %s" % (code, output.splitlines()[-1:] if output else ""))

    post = [s for s in samples if s["t"] >= a.warmup]
    log("")
    log("soak summary (%g min, seed %d)" % (a.minutes, a.seed))
    log("  %-22s %14s %14s %14s   %s" % ("metric", "baseline", "max after", "bound", "ok"))
    end = gc_warmup_end(samples, a.warmup)
    if end is not None:
        plateau = max(s["rss"] for s in samples[:end + 1])
        after = samples[end + 1:]
        mr = max(s["rss"] for s in after) if after else plateau
        log("  %-22s %14d %14d %14d   %s   (plateau up to t=%ds, %d samples after)"
            % ("RSS (kB)", plateau, mr, int(plateau * 1.05), "yes" if mr <= plateau * 1.05 else "NO",
               samples[end]["t"], len(after)))
    else:
        last = samples[-1]["gcs"] if samples else (0, 0, 0)
        log("  %-22s %14s   (the GC warm-up, %s collections of generations 0, 1 under load, did not end: "
            "%d/%d seen)%s" % ("RSS (kB)", "not judged", list(WARMUP_GCS), last[0], last[1],
                               "" if a.minutes >= RSS_JUDGED_MINUTES else "; the next line bounds it"))
    if post:
        b = post[0]
        mo = max(s["rss_other"] for s in post)
        log("  %-22s %14d %14d %14d   %s" % ("RSS other (kB)", b["rss_other"], mo, int(b["rss_other"] * 1.05),
                                            "yes" if mo <= b["rss_other"] * 1.05 else "NO"))
        hg = [s["heap_after_gc"] for s in post if s["gcs"][0] > 0]
        if hg:
            log("  %-22s %14.1f %14.1f %14s   (not bounded; shown)" % ("heap after GC (MB)", hg[0] / 1e6,
                                                                      max(hg) / 1e6, "-"))
        rated = [s["consed_per_request"] for s in post if s["consed_per_request"] is not None]
        if rated:
            cl = rated[0] * CONSED_FACTOR + CONSED_SLACK
            log("  %-22s %14.0f %14.0f %14.0f   %s" % ("consed/request (B)", rated[0], max(rated), cl,
                                                    "yes" if max(rated) <= cl else "NO"))
    if samples:
        bound = 4 * a.threads + 32
        mf, mh = max(s["fds"] for s in samples), max(s["handles"] for s in samples)
        log("  %-22s %14d %14d %14d   %s" % ("fds under load", base_fds, mf, base_fds + bound,
                                            "yes" if mf <= base_fds + bound else "NO"))
        log("  %-22s %14d %14d %14d   %s" % ("handles under load", base_handles, mh, base_handles + bound,
                                            "yes" if mh <= base_handles + bound else "NO"))
    log("  %-22s %14s" % ("requests checked", counts.get("requests", "?")))
    log("  %-22s %14s" % ("wrong / failed / hung", "%s / %s / %s" % (counts.get("wrong"), counts.get("failed"),
                                                                   counts.get("abuse_hung"))))
    if failures:
        log("soak: FAILED")
        for f in failures:
            log("  - " + f)
        return 1
    log("soak: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
