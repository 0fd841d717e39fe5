#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# childcpu.sh CMD [ARGS...]: run CMD, then print `CHILDTICKS <n>`, the CPU
# time (utime + stime, clock ticks) CMD and its children used, from this
# shell's cutime + cstime; exit with CMD's status. For a process that exits
# before the harness could read its /proc/PID/stat (the bulk receiver).
"$@"
rc=$?
read -r s </proc/$$/stat
s=${s##*) }
# shellcheck disable=SC2086
set -- $s
echo "CHILDTICKS $((${14} + ${15}))"
exit $rc
