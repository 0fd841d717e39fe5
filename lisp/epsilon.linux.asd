;;;; epsilon.linux.asd - epoll, sockets and TLS for SBCL over libepsilon-linux.

(defsystem "epsilon.linux"
  :description "Linux networking for SBCL: epoll, sockets and TLS over libepsilon-linux."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.foreign")
  :serial t
  :components ((:module "core"
                :serial t
                :components ((:file "package")
                             (:file "conditions")
                             (:file "runtime")
                             (:file "version")))
               (:module "sys"
                :serial t
                :components ((:file "package")
                             (:file "events")
                             (:file "epoll")
                             (:file "timers")))
               (:module "net"
                :serial t
                :components ((:file "package")
                             (:file "base")
                             (:file "address")
                             (:file "socket")
                             (:file "io")
                             (:file "macros")
                             (:file "stream")))
               (:module "crypto"
                :serial t
                :components ((:file "package")
                             (:file "context")
                             (:file "options")
                             (:file "connection")
                             (:file "session")
                             (:file "info")
                             (:file "stream")
                             (:file "aliases"))))
  :in-order-to ((test-op (test-op "epsilon.linux/tests"))))

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
               (:file "suite-docs")
               (:file "suite-conformance")
               (:file "suite-misuse")
               (:file "suite-concurrency")
               (:file "suite-faults")
               (:file "suite-leaks"))
  :perform (test-op (o c) (uiop:symbol-call :epsilon.linux.tests :run-suites)))
