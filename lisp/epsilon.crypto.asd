;;;; SPDX-License-Identifier: MIT
;;;; epsilon.crypto.asd - the package epsilon.crypto alone.

(defsystem "epsilon.crypto"
  :description "TLS over OpenSSL 3 for SBCL over libepsilon-linux: contexts,
connections, sessions, ALPN and SNI, and bivalent streams."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.linux.stream")
  :pathname "crypto/"
  :serial t
  :components ((:file "package")
               (:file "context")
               (:file "options")
               (:file "connection")
               (:file "session")
               (:file "info")
               (:file "stream")
               (:file "aliases"))
  :in-order-to ((test-op (load-op "epsilon.linux/tests")))
  :perform (test-op (o c) (uiop:symbol-call :epsilon.linux.tests :run-package-suites
                                            :tls)))
