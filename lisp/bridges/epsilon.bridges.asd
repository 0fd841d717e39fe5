;;;; SPDX-License-Identifier: MIT
;;;; epsilon.bridges.asd - the bridges to the Lisp software people already run
;;;; (Hunchentoot, Drakma, usocket side by side), and their test suite.

(defsystem "epsilon.bridges"
  :description "epsilon.hunchentoot and epsilon.drakma together."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.hunchentoot" "epsilon.drakma"))

;;; The suites are in the source checkout (tests/lisp/), not in an installed
;;; copy: there the test system says so instead of naming missing files.
(if (probe-file (merge-pathnames "../../tests/lisp/suite-bridges.lisp"
                                 (or *load-truename* *load-pathname*)))
    (defsystem "epsilon.bridges/tests"
      :description "The bridges' FiveAM suite, a child of the root suite of epsilon.linux/tests
(tests/lisp/run.lisp loads it when Debian's cl-hunchentoot, cl-drakma and cl-usocket are
installed).  It starts the `make run` server, so it needs epsilon.examples/tests."
      :depends-on ("epsilon.bridges" "usocket" "epsilon.examples/tests" "fiveam")
      :pathname "../../tests/lisp/"
      :serial t
      :components ((:file "suite-bridges")
                   (:file "suite-bridges-drakma"))
      :perform (test-op (o c) (uiop:symbol-call :epsilon.linux.tests :run-suites)))
    (defsystem "epsilon.bridges/tests"
      :description "Stands for the bridges' FiveAM suite, which is not installed."
      :perform (load-op (o c)
                 (error "The tests of epsilon-linux are not installed: run them from ~
                         a source checkout (tests/lisp/, `make test`)."))))
