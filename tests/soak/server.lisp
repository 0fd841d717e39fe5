;;;; SPDX-License-Identifier: MIT
;;;; server.lisp - the server of `make run` (examples/main.lisp, the same
;;;; code) as tests/soak/soak.py starts it, with SBCL's own GC log on: the
;;;; runtime appends the generation table to $SOAK_GC_LOG at the start and
;;;; the end of every collection, which is how the soak counts the
;;;; collections of each generation and the heap left after each one
;;;; without asking the server.  The first line on stdout gives the dynamic
;;;; space's bounds, so that the soak can tell the Lisp heap's resident
;;;; pages from the rest of the RSS in /proc/PID/smaps.
;;;;
;;;; $SOAK_NURSERY_BYTES, when set, scales SBCL's GC policy down: the
;;;; nursery (bytes consed between GCs) and each generation's own trigger
;;;; set as SBCL sets them from the nursery at start-up (a fifth of it), so
;;;; the same policy runs its full cycles (generation 0 promoted, generation
;;;; 1 collected) in minutes instead of the ~45 the default 53 MB nursery
;;;; takes at the server's ~150 bytes consed per request.

(let ((log (sb-ext:posix-getenv "SOAK_GC_LOG")))
  (when (and log (plusp (length log)))
    (setf (sb-ext:gc-logfile) log)))
(let ((n (ignore-errors (parse-integer (or (sb-ext:posix-getenv "SOAK_NURSERY_BYTES") "")))))
  (when (and n (plusp n))
    (setf (sb-ext:bytes-consed-between-gcs) n)
    (dotimes (g 6)
      (setf (sb-ext:generation-bytes-consed-between-gcs g) (floor n 5)))))
(format t "SOAK_DYNAMIC_SPACE ~D ~D~%" sb-vm:dynamic-space-start (sb-ext:dynamic-space-size))
(finish-output)
(load (merge-pathnames "../../examples/main.lisp" *load-truename*))
