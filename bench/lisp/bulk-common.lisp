;;;; SPDX-License-Identifier: MIT
;;;; bulk-common.lisp - the clocks of the bulk programs (loaded after
;;;; load.lisp): wall and thread CPU time, read as the C programs read
;;;; theirs (bench/c/bulk.c).

(in-package #:epsilon.bench.lisp)

(export '(wall-seconds thread-cpu-seconds))

(defun wall-seconds ()
  "Seconds on CLOCK_MONOTONIC."
  (multiple-value-bind (sec nsec) (sb-unix::clock-gettime 1)
    (+ sec (/ nsec 1d9))))

(defun thread-cpu-seconds ()
  "The calling thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID)."
  (multiple-value-bind (sec nsec) (sb-unix::clock-gettime 3)
    (+ sec (/ nsec 1d9))))
