;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - epsilon.hunchentoot: Hunchentoot's HTTPS through epsilon.crypto.

(defpackage #:epsilon.hunchentoot
  (:use #:cl)
  (:documentation
   "Hunchentoot acceptors whose connections are TLS through epsilon.crypto in
the server role: TLS-ACCEPTOR (and EASY-TLS-ACCEPTOR for easy handlers),
made like Hunchentoot's SSL-ACCEPTOR but with epsilon's defaults (TLS 1.2
at least, the library's cipher policy), several certificates chosen by SNI,
ALPN (http/1.1), optional client certificates and a handshake timeout.  A
failed handshake closes that connection only and is logged to the
acceptor's message log.  In a handler, CLIENT-CERTIFICATE,
CLIENT-CERTIFICATE-SUBJECT and the CONNECTION-* readers tell what the
connection's handshake settled.  See docs/bridges.md.")
  (:export #:tls-acceptor
           #:easy-tls-acceptor
           #:acceptor-tls-context
           #:acceptor-handshake-timeout
           #:client-certificate
           #:client-certificate-subject
           #:connection-tls-version
           #:connection-cipher
           #:connection-alpn-protocol
           #:connection-server-name))
