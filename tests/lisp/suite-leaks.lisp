;;;; SPDX-License-Identifier: MIT
;;;; suite-leaks.lisp - leak accounting over the whole run: after every
;;;; other suite, the library's handle table and descriptor table, and the
;;;; process's /proc/self/fd, are back where they were before the first.
;;;;
;;;; RECORD-BASELINE runs at the start of tests/lisp/run.lisp (RUN-SUITES
;;;; records it too when nobody did); the suite LEAKS is not part of the
;;;; root suite: RUN-SUITES runs it after the root suite, so it is last.
;;;; shared-call caches a libffi call interface per signature for the life
;;;; of the image (kind +HANDLE-FFI-CIF+): that kind alone may grow.

(in-package #:epsilon.linux.tests)

(defvar *baseline* nil
  "The counts before any suite ran, from RECORD-BASELINE.")

(defun handle-kinds ()
  (list (cons :tls-context epsilon.linux.bindings:+handle-tls-context+)
        (cons :tls-connection epsilon.linux.bindings:+handle-tls-connection+)
        (cons :tls-session epsilon.linux.bindings:+handle-tls-session+)
        (cons :addrinfo epsilon.linux.bindings:+handle-addrinfo+)
        (cons :ffi-cif epsilon.linux.bindings:+handle-ffi-cif+)
        (cons :ffi-closure epsilon.linux.bindings:+handle-ffi-closure+)))

(defun process-fd-count ()
  "How many descriptors the process has open (entries of /proc/self/fd,
less the one the listing itself uses)."
  (1- (length (directory "/proc/self/fd/*" :resolve-symlinks nil))))

(defun leak-snapshot ()
  (list :handles (epsilon.linux:open-handle-count)
        :by-kind (loop for (name . kind) in (handle-kinds)
                       collect (cons name (epsilon.linux.bindings:%eps-handles-live kind)))
        :library-fds (epsilon.linux:open-fd-count)
        :process-fds (process-fd-count)))

(defun record-baseline ()
  "Record the counts the leak suite compares with.  Call before any suite."
  (setf *baseline* (leak-snapshot)))

(defun same-counts-p (now base)
  (and (= (getf now :library-fds) (getf base :library-fds))
       (= (getf now :process-fds) (getf base :process-fds))
       (loop for (name . n) in (getf now :by-kind)
             for b = (cdr (assoc name (getf base :by-kind)))
             always (if (eq name :ffi-cif) (>= n b) (= n b)))))

(def-suite leaks :description "Run after every other suite: nothing leaked.")

(in-suite leaks)

(test nothing-leaked-after-every-suite
  (is (not (null *baseline*)) "no baseline was recorded")
  (when *baseline*
    (let ((first-look (leak-snapshot)))
      ;; Finalizers and threads of the last tests may still be finishing:
      ;; look again (bounded) after a GC.
      (let ((now (loop repeat 50
                       for s = (progn (collect-garbage) (leak-snapshot))
                       until (same-counts-p s *baseline*)
                       do (sleep 0.1)
                       finally (return s))))
        (is (same-counts-p now *baseline*)
            "before the suites ~S~%after them ~S~%(before GC ~S)" *baseline* now first-look)
        (let ((live (loop for (name . n) in (getf now :by-kind)
                          unless (eq name :ffi-cif) sum n)))
          (is (zerop live) "~D handles live besides libffi call interfaces: ~S"
              live (getf now :by-kind)))))))
