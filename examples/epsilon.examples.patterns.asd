;;;; SPDX-License-Identifier: MIT
;;;; epsilon.examples.patterns.asd - the package documentation's smaller
;;;; examples that need no server: a connection pool, asynchronous
;;;; operations on an epoll loop, monitor-epoll-performance, and a TLS
;;;; client.  (Meant to become a module of epsilon.examples.)

(defsystem "epsilon.examples.patterns"
  :description "The package documentation's connection pool, async operations, epoll monitor and TLS client."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.linux")
  :serial t
  :components ((:module "patterns"
                :serial t
                :components ((:file "package")
                             (:file "pool")
                             (:file "async")
                             (:file "monitor")
                             (:file "tls-client")))))

;;; Its tests join the root suite of epsilon.linux/tests; tests/lisp/run.lisp
;;; loads them.  Kept out of epsilon.linux/tests so that loading that system
;;; alone (as the SIGPIPE child of suite-tls does, with only lisp/ known to
;;; ASDF) needs nothing from examples/.
(defsystem "epsilon.examples.patterns/tests"
  :description "Tests of epsilon.examples.patterns against real peers on loopback."
  :depends-on ("epsilon.examples.patterns" "epsilon.linux/tests")
  :pathname "../tests/lisp/"
  :components ((:file "suite-examples-patterns")))
