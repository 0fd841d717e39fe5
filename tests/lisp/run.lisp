;;;; SPDX-License-Identifier: MIT
;;;; run.lisp - run every Lisp suite: sbcl --script tests/lisp/run.lisp
;;;; Prints `Lisp: N passed, N failed` and exits non-zero on any failure.

(require :asdf)
(let ((root (merge-pathnames "../../" (make-pathname :name nil :type nil
                                                     :defaults *load-truename*))))
  (asdf:initialize-source-registry
   `(:source-registry (:tree ,(merge-pathnames "lisp/" root))
                      (:tree ,(merge-pathnames "examples/" root))
                      :inherit-configuration)))
(handler-bind ((warning #'muffle-warning))
  ;; epsilon.linux/tests, and the suites of examples/ with it.
  (asdf:load-system "epsilon.examples/tests")
  (asdf:load-system "epsilon.examples.patterns/tests")
  ;; The bridges' suite needs Debian's Hunchentoot, Drakma and usocket;
  ;; without them the rest runs and one failing test says why.
  (if (every (lambda (s) (asdf:find-system s nil)) '("hunchentoot" "drakma" "usocket"))
      (asdf:load-system "epsilon.bridges/tests")
      (eval (read-from-string "(fiveam:test (epsilon.linux.tests::bridges-not-run
                                :suite epsilon.linux.tests::epsilon-linux)
        (fiveam:fail \"cl-hunchentoot, cl-drakma or cl-usocket is missing (scripts/install-deps.sh)\"))"))))
(uiop:symbol-call :epsilon.linux.tests :record-baseline) ; before any suite
(sb-ext:exit :code (if (uiop:symbol-call :epsilon.linux.tests :run-suites) 0 1)
             :abort nil)
