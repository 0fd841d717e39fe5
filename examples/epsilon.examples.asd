;;;; SPDX-License-Identifier: MIT
;;;; epsilon.examples.asd - the examples of epsilon-linux, as a library the
;;;; example programs (examples/*.lisp) load and reuse.

(defsystem "epsilon.examples"
  :description "Example programs over epsilon.linux: the epoll HTTP/HTTPS server of `make run`."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.linux")
  :serial t
  :components ((:module "server"
                :serial t
                :components ((:file "package")
                             (:file "http")
                             (:file "loop")
                             (:file "http-conn")
                             (:file "patterns")
                             (:file "websocket")
                             (:file "main")))))

(defsystem "epsilon.examples/tests"
  :description "The server's FiveAM suite, a child of the root suite of epsilon.linux/tests
(tests/lisp/run.lisp loads this system, so `make test` runs it with the others)."
  :depends-on ("epsilon.examples" "epsilon.linux/tests" "fiveam")
  :pathname "../tests/lisp/"
  :components ((:file "suite-server")
               (:file "suite-server-faults")
               (:file "suite-server-fuzz")
               (:file "suite-examples"))
  :perform (test-op (o c) (uiop:symbol-call :epsilon.linux.tests :run-suites)))
