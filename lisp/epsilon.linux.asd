;;;; SPDX-License-Identifier: MIT
;;;; epsilon.linux.asd - epoll, sockets and TLS for SBCL over libepsilon-linux.
;;;; Each package is also a system of its own: epsilon.sys.epoll,
;;;; epsilon.net.core, epsilon.crypto (and epsilon.foreign under them).

(defsystem "epsilon.linux"
  :description "Linux networking for SBCL: epoll, sockets and TLS over libepsilon-linux."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.sys.epoll" "epsilon.net.core" "epsilon.crypto")
  :in-order-to ((test-op (load-op "epsilon.linux/tests")))
  :perform (test-op (o c) (unless (uiop:symbol-call :epsilon.linux.tests :run-suites)
                            (error "Some suites of epsilon.linux failed."))))

;;; The tests are in the source checkout (tests/lisp/), not in an installed
;;; copy (lisp/meson.build installs lisp/ alone): there the test system says
;;; so instead of naming files that are not there.
(if (probe-file (merge-pathnames "../tests/lisp/package.lisp"
                                 (or *load-truename* *load-pathname*)))
    (defsystem "epsilon.linux/tests"
      :description "FiveAM suites of epsilon.linux."
      :depends-on ("epsilon.linux" "fiveam")
      :pathname "../tests/lisp/"
      :serial t
      :components ((:file "package")
                   (:file "suite-core")
                   (:file "suite-foreign")
                   (:file "suite-constants")
                   (:file "suite-epoll")
                   (:file "tls-helpers")
                   (:file "suite-tls")
                   (:file "suite-tls-interop")
                   (:file "suite-net")
                   (:file "suite-tls-extensions")
                   (:file "suite-tls-sessions")
                   (:file "suite-tls-information")
                   (:file "suite-tls-streams")
                   (:file "suite-tls-misuse")
                   (:file "suite-tls-interop-extensions")
                   (:file "suite-tls-policy")
                   (:file "suite-connection-consing")
                   (:file "suite-streams")
                   (:file "suite-docs")
                   (:file "suite-conformance")
                   (:file "suite-misuse")
                   (:file "suite-concurrency")
                   (:file "suite-faults")
                   (:file "suite-waitall")
                   (:file "suite-blocking")
                   (:file "suite-nolose")
                   (:file "suite-interrupt-storm")
                   (:file "suite-handle-gaps")
                   (:file "suite-systems")
                   (:file "suite-leaks"))
      :perform (test-op (o c) (uiop:symbol-call :epsilon.linux.tests :run-suites)))
    (defsystem "epsilon.linux/tests"
      :description "Stands for the FiveAM suites of epsilon.linux, which are not installed."
      :perform (load-op (o c)
                 (error "The tests of epsilon-linux are not installed: run them from ~
                         a source checkout (tests/lisp/, `make test`)."))))
