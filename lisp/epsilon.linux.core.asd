;;;; SPDX-License-Identifier: MIT
;;;; epsilon.linux.core.asd - what the three packages share.

(defsystem "epsilon.linux.core"
  :description "The runtime shared by epsilon.sys.epoll, epsilon.net.core and
epsilon.crypto: the error conditions (epsilon.linux.errors), blocking waits
and deadlines (epsilon.linux.runtime), and the library's version and
accounting (epsilon.linux)."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.foreign")
  :pathname "core/"
  :serial t
  :components ((:file "package")
               (:file "conditions")
               (:file "runtime")
               (:file "version"))
  :in-order-to ((test-op (load-op "epsilon.linux/tests")))
  :perform (test-op (o c) (uiop:symbol-call :epsilon.linux.tests :run-package-suites
                                            :core :constants)))
