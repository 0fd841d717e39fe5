;;;; SPDX-License-Identifier: MIT
;;;; load.lisp - loads the epsilon.linux system for the bench/lisp/ programs
;;;; (loaded by each with LOAD before its own package), quietly: stdout
;;;; carries the PORT and result lines the harness reads.

(require :asdf)
(let ((root (merge-pathnames "../../" (make-pathname :name nil :type nil
                                                     :defaults *load-truename*))))
  (asdf:initialize-source-registry
   `(:source-registry (:tree ,(merge-pathnames "lisp/" root))
                      :inherit-configuration))
  (let ((*standard-output* (make-broadcast-stream)))
    (handler-bind ((warning #'muffle-warning))
      (asdf:load-system "epsilon.linux"))))

(defpackage #:epsilon.bench.lisp
  (:use #:cl)
  (:export #:arg #:seconds-since))
(in-package #:epsilon.bench.lisp)

(defun arg (name default)
  "The value following NAME on the command line, else DEFAULT."
  (let ((tail (member name sb-ext:*posix-argv* :test #'string=)))
    (if tail (second tail) default)))

(defun seconds-since (start)
  "Seconds of real time since START, a GET-INTERNAL-REAL-TIME value."
  (/ (float (- (get-internal-real-time) start) 1d0) internal-time-units-per-second))
