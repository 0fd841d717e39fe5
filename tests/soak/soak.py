#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""soak.py - `make soak MINUTES=N`: the server of `make run` under mixed load.

Starts examples/main.lisp (PORT=0 TLS_PORT=0) as a child, and the load
driver tests/soak/driver.c (built here into build/soak/) as another: HTTP
and HTTPS, keep-alive and new connections, pipelining, half-close, and
clients that reset, stall, send garbage or TLS records cut short. Every
10 s it samples the server's RSS (/proc/PID/status), its open descriptors
(/proc/PID/fd), and from /stats its live handles, heap in use and bytes
consed, and prints the sample as a progress line.

It fails (exit 1) when
  - after the warm-up, RSS exceeds the first post-warm-up sample by 5%;
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
series checker against synthetic growing series (it must fail each) and a
flat one (it must pass); a stopped server (SIGSTOP) must count as not
answering; a driver run with --wrong must be caught; and after the soak a
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
CONSED_FACTOR = 1.5
CONSED_SLACK = 1024


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- the checks

def check_series(samples, warmup, base_fds, base_handles, threads):
    """Failures (strings) of SAMPLES (dicts with t, rss, fds, handles,
    consed_per_request) against the bounds in the module docstring."""
    failures = []
    bound = 4 * threads + 32
    post = [s for s in samples if s["t"] >= warmup]
    for s in samples:
        if s["fds"] > base_fds + bound:
            failures.append("t=%ds: %d descriptors, more than %d + %d" % (s["t"], s["fds"], base_fds, bound))
        if s["handles"] > base_handles + bound:
            failures.append("t=%ds: %d handles, more than %d + %d" % (s["t"], s["handles"], base_handles, bound))
    if post:
        base_rss = post[0]["rss"]
        limit = base_rss * (1 + RSS_GROWTH)
        for s in post[1:]:
            if s["rss"] > limit:
                failures.append("t=%ds: RSS %d kB, more than %d kB + 5%%" % (s["t"], s["rss"], base_rss))
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
    """The checker must fail on growing series and pass a flat one."""
    def series(rss=lambda i: 100000, fds=lambda i: 10, handles=lambda i: 3, cpr=lambda i: 300.0):
        return [{"t": 10 * i, "rss": rss(i), "fds": fds(i), "handles": handles(i),
                 "consed_per_request": cpr(i)} for i in range(1, 13)]
    cases = [
        ("flat", series(), (10, 3), False),
        ("RSS +1%/sample", series(rss=lambda i: int(100000 * (1.01 ** i))), (10, 3), True),
        ("descriptors growing", series(fds=lambda i: 10 + 8 * i), (10, 3), True),
        ("handles growing", series(handles=lambda i: 3 + 8 * i), (10, 3), True),
        ("consing per request growing", series(cpr=lambda i: 300.0 * i), (10, 3), True),
        ("RSS growing in the warm-up only", series(rss=lambda i: 100000 if i > 3 else 50000 * i), (10, 3), False),
    ]
    problems = []
    for name, s, (bf, bh), should_fail in cases:
        failed = bool(check_series(s, 30, bf, bh, 6))
        if failed != should_fail:
            problems.append("checker %s on the synthetic series '%s'" % ("failed" if failed else "passed", name))
    if not check_settled(11, 3, 10, 3) or not check_settled(10, 4, 10, 3) or check_settled(10, 3, 10, 3):
        problems.append("check_settled does not tell a leak from none")
    return problems


# ---------------------------------------------------------------- the server

class Server:
    def __init__(self):
        env = dict(os.environ, PORT="0", TLS_PORT="0")
        self.proc = subprocess.Popen(["timeout", "-s", "KILL", "7200", "sbcl", "--script",
                                      os.path.join(ROOT, "examples", "main.lisp")],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = []
        self.port = self.tls_port = None
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("PORT "):
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
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    a = ap.parse_args()
    seconds = int(a.minutes * 60)
    failures = []
    counts = {}
    log("soak: %g minute(s), warm-up %d s, sample every %d s, %d driver threads, seed %d "
        "(--seed %d reproduces the driver's choices)" % (a.minutes, a.warmup, a.interval, a.threads, a.seed, a.seed))

    problems = self_test_checker()
    failures += ["self-test: " + p for p in problems]
    log("soak: checker self-test on synthetic series: %s" % ("ok" if not problems else "FAILED"))

    build_driver()
    server = Server()
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
        driver = run_driver(server, seconds, a.threads, a.seed, wait=False)
        t0 = time.monotonic()
        prev = server.stats()
        prev_t = t0
        hdr = "%6s %10s %5s %7s %9s %12s %8s %10s" % ("t(s)", "RSS(kB)", "fds", "handles", "heap(MB)",
                                                     "consed(MB)", "req/s", "consed/req")
        log("soak: " + hdr)
        while True:
            next_t = t0 + (len(samples) + 1) * a.interval
            while time.monotonic() < next_t and driver.poll() is None:
                time.sleep(0.2)
            if driver.poll() is not None:
                break
            fds = server.fd_count()
            rss = server.rss_kb()
            st = server.stats()
            now = time.monotonic()
            if st is None:
                failures.append("t=%ds: /stats did not answer within 15 s" % (now - t0))
                break
            dreq = st["requests"] - prev["requests"]
            dcons = st["bytes-consed"] - prev["bytes-consed"]
            cpr = (dcons / dreq) if dreq > 0 else None
            s = {"t": int(round(next_t - t0)), "rss": rss, "fds": fds, "handles": st["open-handles"],
                 "heap": st["dynamic-usage"], "consed": st["bytes-consed"], "rps": dreq / (now - prev_t),
                 "consed_per_request": cpr}
            samples.append(s)
            prev, prev_t = st, now
            log("soak: %6d %10d %5d %7d %9.1f %12.1f %8.0f %10s%s"
                % (s["t"], rss, fds, s["handles"], s["heap"] / 1e6, s["consed"] / 1e6, s["rps"],
                   "-" if cpr is None else "%.0f" % cpr, "  (warm-up)" if s["t"] < a.warmup else ""))
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
        failures += check_series(samples, a.warmup, base_fds, base_handles, a.threads)
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
    if post:
        b = post[0]
        mr = max(s["rss"] for s in post)
        log("  %-22s %14d %14d %14d   %s" % ("RSS (kB)", b["rss"], mr, int(b["rss"] * 1.05),
                                            "yes" if mr <= b["rss"] * 1.05 else "NO"))
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
