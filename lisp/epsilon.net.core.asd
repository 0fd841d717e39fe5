;;;; SPDX-License-Identifier: MIT
;;;; epsilon.net.core.asd - the package epsilon.net.core alone.

(defsystem "epsilon.net.core"
  :description "Sockets for SBCL over libepsilon-linux: TCP, UDP and Unix,
IPv4 and IPv6, name resolution and bivalent streams."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.linux.stream")
  :pathname "net/"
  :serial t
  :components ((:file "package")
               (:file "base")
               (:file "address")
               (:file "socket")
               (:file "io")
               (:file "ownership")
               (:file "macros")
               (:file "stream"))
  :in-order-to ((test-op (load-op "epsilon.linux/tests")))
  :perform (test-op (o c) (uiop:symbol-call :epsilon.linux.tests :run-package-suites
                                            :net :streams :waitall :blocking)))
