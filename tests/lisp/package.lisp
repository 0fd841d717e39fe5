;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - the test package and the root suite.

(defpackage #:epsilon.linux.tests
  (:use #:cl #:fiveam)
  (:export #:run-suites #:settled-counts #:collect-garbage))

(in-package #:epsilon.linux.tests)

(def-suite epsilon-linux :description "Every Lisp suite of epsilon.linux.")

(defun run-suites ()
  "Run every suite, print the summary line `Lisp: N passed, N failed` and
return true when nothing failed."
  (unless (symbol-value (find-symbol "*BASELINE*" '#:epsilon.linux.tests))
    (funcall (find-symbol "RECORD-BASELINE" '#:epsilon.linux.tests)))
  (let* ((results (let ((*print-names* t))
                    ;; The leak suite last: it checks what all others left.
                    (append (run 'epsilon-linux) (run (find-symbol "LEAKS" '#:epsilon.linux.tests)))))
         (passed (count-if (lambda (r) (typep r 'fiveam::test-passed)) results))
         (failed (count-if (lambda (r) (typep r '(or fiveam::test-failure
                                                    fiveam::unexpected-test-failure)))
                           results))
         (skipped (count-if (lambda (r) (typep r 'fiveam::test-skipped)) results)))
    (explain! results)
    (format t "~&Lisp: ~D passed, ~D failed~@[, ~D skipped~]~%"
            passed failed (and (plusp skipped) skipped))
    (zerop failed)))

(defun run-package-suites (&rest prefixes)
  "Run the suites whose names start with one of PREFIXES (keywords: :TLS
runs TLS, TLS2, TLS-INTEROP...), for ASDF:TEST-SYSTEM on one package's
system; signal an error when none matches or one fails."
  (let ((suites (sort (loop for name in (test-names)
                            when (and (typep (get-test name) 'fiveam::test-suite)
                                      (some (lambda (p) (eql 0 (search (symbol-name p)
                                                                       (symbol-name name))))
                                            prefixes))
                              collect name)
                      #'string< :key #'symbol-name)))
    (unless suites (error "No test suite named ~{~A~^ or ~}..." prefixes))
    (dolist (suite suites)
      (unless (run! suite)
        (error "The suite ~A failed." suite)))))

(defun least-consing (measure)
  "Call MEASURE (returning bytes and a count) up to five times, stopping at
a run that consed nothing; return the least bytes and that run's count.
SB-EXT:GET-BYTES-CONSED counts every thread, and a GC in the window runs the
finalizer thread: the least of five runs is the code under test.  Consing in
that code itself shows in all five."
  (let ((best nil) (best-count nil))
    (loop repeat 5
          do (multiple-value-bind (bytes count) (funcall measure)
               (when (or (null best) (< bytes best))
                 (setf best bytes best-count count)))
          until (zerop best))
    (values best best-count)))

(defun collect-garbage ()
  "A full GC, then the finalizers it queued, run here and now: an object a
test dropped is freed by its finalizer, which is no leak, and must not be
freed by the finalizer thread in the middle of a later count."
  (sb-ext:gc :full t)
  (let ((run (find-symbol "RUN-PENDING-FINALIZERS" "SB-KERNEL")))
    (when (and run (fboundp run)) (funcall run))))

(defun settled-counts ()
  "The library's open descriptors and live handles, after COLLECT-GARBAGE."
  (collect-garbage)
  (list (epsilon.linux:open-fd-count) (epsilon.linux:open-handle-count)))
