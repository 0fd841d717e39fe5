;;;; SPDX-License-Identifier: MIT
;;;; epsilon.hunchentoot.asd - Hunchentoot serving HTTPS through epsilon.crypto.

(defsystem "epsilon.hunchentoot"
  :description "A Hunchentoot acceptor whose connections are TLS through epsilon.crypto
(SNI, ALPN, client certificates, a handshake timeout).  Not loaded by epsilon.linux."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.linux" "hunchentoot" "usocket")
  :pathname "hunchentoot/"
  :serial t
  :components ((:file "package")
               (:file "info")
               (:file "acceptor")))
