#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# report.sh RAW SUBJECTS OUTDIR SECONDS PARTS - the table and the chart of
# one run of bench/run.sh.
#   RAW       row<TAB>subject<TAB>metric<TAB>value, one line per measurement
#             (metric `pending` or `failed`: value is the reason)
#   SUBJECTS  subject<TAB>label
# Writes OUTDIR/latest.md (also printed) and OUTDIR/latest.png (gnuplot).
set -uo pipefail
raw=$1 subjects=$2 outdir=$3 secs=$4 parts=$5
mkdir -p "$outdir"
md=$outdir/latest.md
dat=$outdir/.chart.dat
png=$outdir/latest.png

awk -F'\t' -v md="$md" -v dat="$dat" -v secs="$secs" -v parts="$parts" \
    -v date="$(date -u '+%Y-%m-%d %H:%M UTC')" -v host="$(nproc) cores, $(uname -r)" \
    -v cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" '
function fmt(v) {
  if (v == "" || v == "-") return "-"
  v += 0
  if (v == int(v)) return sprintf("%d", v)
  if (v >= 1000) return sprintf("%.0f", v)
  if (v >= 100) return sprintf("%.0f", v)
  if (v >= 10) return sprintf("%.1f", v)
  return sprintf("%.2f", v)
}
# stats of the values of key k: sets MED MIN MAX
function stats(k,    n, i, j, t, a) {
  n = split(vals[k], a, " ")
  for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  MIN = a[1]; MAX = a[n]
  MED = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  return n
}
# the median of the per-run ratios of keys k and b (the runs measure the
# baseline and the subject back to back, so load that moves between runs
# hits both); "" when they have no pairs.  Falls back to the ratio of the
# medians when the counts differ.
function paired_ratio(k, b,    n, nb, i, j, t, x, y, q) {
  n = split(vals[k], x, " "); nb = split(vals[b], y, " ")
  if (n != nb) { stats(k); t = MED; stats(b); return (MED + 0 != 0) ? t / MED : "" }
  for (i = 1; i <= n; i++) { if (y[i] + 0 == 0) return ""; q[i] = x[i] / y[i] }
  for (i = 2; i <= n; i++) { t = q[i]; for (j = i - 1; j >= 1 && q[j] > t; j--) q[j + 1] = q[j]; q[j + 1] = t }
  return (n % 2) ? q[(n + 1) / 2] : (q[n / 2] + q[n / 2 + 1]) / 2
}
# does value/ratio meet target spec ("<=1.1", ">=0.95", "abs<4096", "abs=0")?
function meets(spec, ratio, value,    op, x) {
  if (spec ~ /^abs</) return value + 0 < substr(spec, 5) + 0
  if (spec ~ /^abs=/) return value + 0 == substr(spec, 5) + 0
  op = substr(spec, 1, 2); x = substr(spec, 3) + 0
  if (op == "<=") return ratio <= x
  return ratio >= x
}
function spec_text(spec) {
  if (spec ~ /^abs</) return "< " substr(spec, 5)
  if (spec ~ /^abs=/) return "= " substr(spec, 5)
  return substr(spec, 1, 2) " " substr(spec, 3) "x"
}
BEGIN {
  nrows = split("ffi http-c100 http-c1000 http-pipe16 https-c100 tls-hs bulk-tcp bulk-tls bulk-tcp-send bulk-tls-send c10k threads hunchentoot hunchentoot-hs", order, " ")
  title["ffi"] = "1. FFI: one trivial call"
  title["http-c100"] = "2. HTTP keep-alive, wrk -t1 -c100"
  title["http-c1000"] = "2. HTTP keep-alive, wrk -t1 -c1000"
  title["http-pipe16"] = "3. HTTP pipelined (depth 16), wrk -t1 -c100"
  title["https-c100"] = "4. HTTPS keep-alive, wrk -t1 -c100"
  title["tls-hs"] = "5. TLS handshakes/s against openssl s_server"
  title["bulk-tcp"] = "6. Bulk 1 GiB over loopback TCP (receiver)"
  title["bulk-tls"] = "6. Bulk 1 GiB over TLS (receiver)"
  title["bulk-tcp-send"] = "6. Bulk 1 GiB over loopback TCP (sender)"
  title["bulk-tls-send"] = "6. Bulk 1 GiB over TLS (sender)"
  title["c10k"] = "7. C10K: 10,000 keep-alive connections, one request each"
  title["threads"] = "8. Two threads vs one (SO_REUSEPORT), wrk -t2 -c100, unpinned"
  title["hunchentoot"] = "9. Hunchentoot HTTPS keep-alive, wrk -t1 -c50"
  title["hunchentoot-hs"] = "9. Hunchentoot TLS handshakes/s, openssl s_time -new"
  mlabel["ht_hs_cpu_us"] = "server CPU us/handshake"
  short["http-c100"] = "HTTP -c100"; short["http-c1000"] = "HTTP -c1000"
  short["http-pipe16"] = "pipelined x16"; short["https-c100"] = "HTTPS -c100"; short["tls-hs"] = "TLS handshakes"
  mlabel["rps"] = "req/s"; mlabel["cpu_us"] = "server CPU us/req"; mlabel["consed"] = "bytes consed/req, steady state"; mlabel["consed_all"] = "bytes consed/req, whole run"
  mlabel["errors"] = "wrk errors"; mlabel["hs"] = "handshakes/s"; mlabel["hs_cpu_us"] = "s_server CPU us/handshake"
  mlabel["mibps"] = "MiB/s"; mlabel["cpu_ms_gib"] = "receiver CPU ms/GiB (in its loop)";
  mlabel["send_cpu_ms_gib"] = "sender CPU ms/GiB (in its loop)"; mlabel["ok"] = "connections OK"
  mlabel["fail"] = "connections failed"; mlabel["secs"] = "client seconds"
  mlabel["rss_conn"] = "server RSS bytes/conn above idle"; mlabel["ns"] = "ns/call"
  mlabel["consed_cold"] = "bytes consed/req, first pass (per-fd state made)"
  # Targets for the Lisp subjects (issue 10), per row and metric.
  for (r in title) if (r ~ /^http-/) { target[r, "rps"] = ">=0.95"; target[r, "cpu_us"] = "<=1.05" }
  target["https-c100", "cpu_us"] = "<=1.05"
  for (r in title) if (r ~ /^https?-/) target[r, "consed"] = "abs=0"
  target["tls-hs", "hs"] = ">=0.9"
  for (r in title) if (r ~ /^bulk-/) { target[r, "mibps"] = ">=0.95"; target[r, "cpu_ms_gib"] = "<=1.2"; target[r, "send_cpu_ms_gib"] = "<=1.2" }
  target["c10k", "fail"] = "abs=0"; target["c10k", "rss_conn"] = "abs<4096"; target["c10k", "consed"] = "abs=0"
  target["ffi", "defshared", "ns"] = "<=1.1"
  target["ffi", "shared-call (constant site)", "ns"] = "<=15"
  target["ffi", "shared-call (dynamic)", "ns"] = "<=15"
}
FNR == NR { label[$1] = $2; next }
{
  r = $1; s = $2; m = $3; v = $4
  # a subject whose answer differs in bytes from bench/response.txt
  if (m == "differs") { if (!(s in differs)) dorder[++ndiffers] = s; differs[s] = differs[s] (differs[s] ? "; " : "") r ": " v; next }
  if (!((r, s) in seen_s)) { seen_s[r, s] = 1; subj[r, ++nsubj[r]] = s }
  if (m == "pending" || m == "failed") { note[r, s] = (m == "failed" ? "FAILED: " : "") v; next }
  if (!((r, m) in seen_m)) { seen_m[r, m] = 1; met[r, ++nmet[r]] = m }
  if (!((r, s, m) in vals)) nv[r, s, m] = 0
  vals[r, s, m] = vals[r, s, m] " " v
  if (!(r in base)) base[r] = s
}
END {
  print "# Benchmark results" > md
  print "" > md
  print "Run " date ", parts: " parts ", " secs " s in all; " host ", " cpu "." > md
  print "Server pinned to one core, load generator to the other (row 8 unpinned)." > md
  print "Median of the runs, min and max beside it; a ratio is the median of the per-run ratios to the row baseline (its first line)," > md
  print "measured in this same run. Targets apply to the Lisp lines (bench/README.md)." > md
  print "" > md
  print "| Row | Subject | Metric | Median | Min | Max | Ratio | Target |" > md
  print "|---|---|---|---:|---:|---:|---:|---|" > md
  for (i = 1; i <= nrows; i++) {
    r = order[i]
    if (!(r in nsubj)) continue
    first = 1
    # the baseline first, then the others in the order they were met
    for (j = 0; j <= nsubj[r]; j++) {
      if (j == 0) s = base[r]
      else if (subj[r, j] == base[r] || !(r in base)) continue
      else s = subj[r, j]
      if (s == "") continue
      lab = (s in label) ? label[s] : s
      isl = (s ~ /^lisp/)
      if ((r, s) in note) {
        tg = ""
        for (k = 1; k <= nmet[r]; k++) if (isl && ((r, met[r, k]) in target)) tg = tg (tg ? ", " : "") mlabel[met[r, k]] " " spec_text(target[r, met[r, k]])
        printf "| %s | %s | | %s | | | | %s |\n", (first ? title[r] : ""), lab, note[r, s], tg > md
        first = 0
        continue
      }
      for (k = 1; k <= nmet[r]; k++) {
        m = met[r, k]
        if (!((r, s, m) in vals)) continue
        stats(r SUBSEP s SUBSEP m)
        med = MED; mn = MIN; mx = MAX
        ratio = ""; rtxt = ""
        if (((r, base[r], m) in vals) && m != "ok" && m != "fail" && m != "errors") {
          ratio = paired_ratio(r SUBSEP s SUBSEP m, r SUBSEP base[r] SUBSEP m)
          if (ratio != "") rtxt = sprintf("%.2fx", ratio)
        }
        spec = ""
        if (isl && ((r, m) in target)) spec = target[r, m]
        if (r == "ffi" && ((r, s, m) in target)) spec = target[r, s, m]
        tg = ""
        if (spec != "") tg = spec_text(spec) ": " ((meets(spec, ratio, med)) ? "met" : "**MISSED**")
        # row 8: two threads against the same server with one
        one = substr(s, 1, length(s) - 1) "1"
        if (r == "threads" && s ~ /2$/ && m == "rps" && ((r, one, m) in vals)) {
          stats(r SUBSEP one SUBSEP m)
          if (MED + 0 != 0) tg = sprintf("%.2fx its 1 thread", med / MED)
        }
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", (first ? title[r] : ""), lab, mlabel[m] ? mlabel[m] : m, fmt(med), fmt(mn), fmt(mx), rtxt, tg > md
        first = 0
        # chart: throughput and CPU ratios of the HTTP and TLS rows
        if ((r in short) && s != base[r] && ratio != "") {
          col = (s ~ /self$/) ? 1 : (s ~ /^lisp/) ? 2 : (s == "nginx") ? 4 : (s == "hunchentoot") ? 5 : 3
          if (m == "rps" || m == "hs") thr[r, col] = ratio
          if (m == "cpu_us" || m == "hs_cpu_us") cpuv[r, col] = ratio
          charted[r] = 1
        }
      }
    }
  }
  for (i = 1; i <= nrows; i++) if ((order[i] in nsubj) && !(order[i] in base)) {
    # a row with nothing measured: list its notes
    r = order[i]
    for (j = 1; j <= nsubj[r]; j++) printf "| %s | %s | | %s | | | | |\n", (j == 1 ? title[r] : ""), subj[r, j], note[r, subj[r, j]] > md
  }
  print "" > md
  if (ndiffers) {
    print "Responses that differ in bytes from `bench/response.txt` (the C and Lisp servers send exactly those bytes):" > md
    print "" > md
    for (i = 1; i <= ndiffers; i++) {
      s = dorder[i]
      printf "- %s: %s\n", ((s in label) ? label[s] : s), differs[s] > md
    }
    print "" > md
  }
  print "Rows not listed were not run (run one part: `make bench-http`, `bench-tls`, `bench-c10k`, `bench-ffi`)." > md
  n = 0
  for (i = 1; i <= nrows; i++) {
    r = order[i]
    if (!(r in charted)) continue
    printf "\"%s\"", short[r] > dat
    for (c = 1; c <= 5; c++) printf " %s", ((r, c) in thr) ? thr[r, c] : "-" > dat
    for (c = 1; c <= 5; c++) printf " %s", ((r, c) in cpuv) ? cpuv[r, c] : "-" > dat
    printf "\n" > dat
    n++
  }
  close(dat)
  if (n == 0) printf "" > dat
}' "$subjects" "$raw"

cat "$md"

if [ -s "$dat" ] && command -v gnuplot >/dev/null; then
  gnuplot 2> >(grep -v -e 'Skipping data file' -e '^ *$' >&2) <<EOF
set terminal pngcairo size 1100,800 noenhanced font "sans,10"
set output "$png"
set datafile missing "-"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key outside right top
set lmargin 10
$(grep -q '^"[^"]*" [^ ]* [0-9]' "$dat" || echo 'set label 1 "Lisp (epsilon): pending (issue 8)" at screen 0.78, screen 0.86 tc rgb "#2b7bba"')
set multiplot layout 2,1 title "epsilon-linux benchmarks: ratio to the C baseline measured in the same run ($(date -u '+%Y-%m-%d'))"
set title "Throughput (requests or handshakes per second): higher is better, 1.0 = C"
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 2 lc rgb "black" front
plot "$dat" using 2:xtic(1) title "C against itself (noise)" lc rgb "#888888", \
     "" using 3 title "Lisp (epsilon)" lc rgb "#2b7bba", \
     "" using 4 title "peer (sb-bsd-sockets / cl+ssl)" lc rgb "#d9822b", \
     "" using 5 title "nginx (one process)" lc rgb "#3a9a3a", \
     "" using 6 title "Hunchentoot" lc rgb "#9b59b6"
set title "Server CPU time per request or handshake: lower is better, 1.0 = C"
plot "$dat" using 7:xtic(1) title "C against itself (noise)" lc rgb "#888888", \
     "" using 8 title "Lisp (epsilon)" lc rgb "#2b7bba", \
     "" using 9 title "peer (sb-bsd-sockets / cl+ssl)" lc rgb "#d9822b", \
     "" using 10 title "nginx (one process)" lc rgb "#3a9a3a", \
     "" using 11 title "Hunchentoot" lc rgb "#9b59b6"
unset multiplot
EOF
  echo "bench: wrote $md and $png"
else
  echo "bench: wrote $md (no HTTP/TLS rows: no chart)"
fi
rm -f "$dat"
