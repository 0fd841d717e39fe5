# SPDX-License-Identifier: MIT
# bench/lib.sh - helpers of bench/run.sh (sourced; bash).

CLK_TCK=$(getconf CLK_TCK)
PAGE_SIZE=$(getconf PAGESIZE)

log() { printf '%s\n' "$*" >&2; }

# tree_pids PID: PID and all its descendants, one per line.
tree_pids() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
    { pid = $1; s = $0; sub(/^[0-9]+ \(.*\) /, "", s); split(s, f, " "); parent[pid] = f[2] }
    END {
      in_tree[root] = 1; changed = 1
      while (changed) {
        changed = 0
        for (p in parent) if (!(p in in_tree) && (parent[p] in in_tree)) { in_tree[p] = 1; changed = 1 }
      }
      for (p in in_tree) print p
    }'
}

# cpu_ticks PID: utime + stime (clock ticks) of PID and its descendants,
# from /proc/PID/stat (fields 14 and 15).
cpu_ticks() {
  local total=0 p s
  for p in $(tree_pids "$1"); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}

# rss_kib PID: resident memory (KiB) of PID and its descendants (VmRSS).
rss_kib() {
  local total=0 p kb
  for p in $(tree_pids "$1"); do
    kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# wait_line FILE REGEX SECONDS: wait until a line of FILE matches REGEX
# (a process writing it has no other way to tell us); print that line.
wait_line() {
  local file=$1 re=$2 limit=$3 i line
  for ((i = 0; i < limit * 50; i++)); do
    line=$(grep -E -m1 "$re" "$file" 2>/dev/null) && { echo "$line"; return 0; }
    sleep 0.02
  done
  return 1
}

# wait_nth_line FILE REGEX N SECONDS: wait for the N-th matching line; print it.
wait_nth_line() {
  local file=$1 re=$2 n=$3 limit=$4 i line
  for ((i = 0; i < limit * 50; i++)); do
    line=$(grep -E "$re" "$file" 2>/dev/null | sed -n "${n}p")
    [ -n "$line" ] && { echo "$line"; return 0; }
    sleep 0.02
  done
  return 1
}

# start_server CORE CMD [ARGS...]: start CMD (a shell word list, e.g.
# "sbcl --script x.lisp") with ARGS pinned to CORE ("" = not pinned), its
# stdout in $WORK/server.out; wait for `PORT <n>`. Sets SERVER_PID, PORT.
start_server() {
  local core=$1 cmd=$2
  shift 2
  : >"$WORK/server.out"
  if [ -n "$core" ]; then
    taskset -c "$core" bash -c "exec $cmd \"\$@\"" bash "$@" >"$WORK/server.out" 2>"$WORK/server.err" &
  else
    bash -c "exec $cmd \"\$@\"" bash "$@" >"$WORK/server.out" 2>"$WORK/server.err" &
  fi
  SERVER_PID=$!
  local line
  if ! line=$(wait_line "$WORK/server.out" '^PORT [0-9]+' 60); then
    log "bench: the server did not print PORT <n> within 60 s: $cmd $*"
    sed 's/^/  server: /' "$WORK/server.err" >&2
    stop_server
    return 1
  fi
  PORT=${line#PORT }
}

# stop_server: SIGINT, wait (bounded), SIGKILL if it ignored us.
stop_server() {
  [ -n "${SERVER_PID:-}" ] || return 0
  kill -INT "$SERVER_PID" 2>/dev/null
  local i
  for ((i = 0; i < 500; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.02
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "bench: server $SERVER_PID ignored SIGINT for 10 s; killing it"
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  local rc=0
  wait "$SERVER_PID" 2>/dev/null || rc=$?
  [ "$rc" -eq 0 ] || log "bench: server exited with status $rc on SIGINT"
  SERVER_PID=
}

# consed_bytes: the server's `CONSED <n>` line after a SIGUSR1 (the hook for
# Lisp servers that report sb-ext:get-bytes-consed), or nothing.
consed_bytes() {
  local n
  n=$(grep -c '^CONSED ' "$WORK/server.out")
  kill -USR1 "$SERVER_PID" 2>/dev/null || return 0
  local line
  line=$(wait_nth_line "$WORK/server.out" '^CONSED [0-9]+' $((n + 1)) 10) || return 0
  set -- $line
  echo "$2"
}

# consed_sample: "BYTES REQUESTS" from the server's `CONSED <n> REQUESTS <r>`
# line after a SIGUSR1, or nothing (no such hook, or no REQUESTS in it).
consed_sample() {
  local n line
  n=$(grep -c '^CONSED ' "$WORK/server.out")
  kill -USR1 "$SERVER_PID" 2>/dev/null || return 0
  line=$(wait_nth_line "$WORK/server.out" '^CONSED [0-9]+' $((n + 1)) 10) || return 0
  set -- $line
  [ "${3:-}" = REQUESTS ] && [ -n "${4:-}" ] && echo "$2 $4"
  return 0
}

# median/min/max of numbers on stdin: prints "median min max".
stats() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - -"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    print m, v[1], v[NR] }'
}

# record ROW SUBJECT METRIC VALUE: one measurement into the raw table.
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }
