;;;; SPDX-License-Identifier: MIT
;;;; info.lisp - what a connection's handshake settled, for its handlers.
;;;;
;;;; Read once after the handshake into plain Lisp data: a handler never
;;;; touches the TLS connection the worker's stream is using.

(in-package #:epsilon.hunchentoot)

(defstruct (connection-info (:constructor make-connection-info
                                (version cipher alpn-protocol server-name certificate))
                            (:copier nil) (:predicate nil))
  (version nil :read-only t)
  (cipher nil :read-only t)
  (alpn-protocol nil :read-only t)
  (server-name nil :read-only t)
  (certificate nil :read-only t))

(defvar *connection-info* nil
  "The CONNECTION-INFO of the connection this worker thread serves, NIL
outside a TLS-ACCEPTOR's connection.  Bound per connection.")

(defun read-connection-info (conn)
  "A CONNECTION-INFO for CONN, whose handshake is complete."
  (make-connection-info (epsilon.crypto:tls-version conn)
                        (epsilon.crypto:tls-cipher conn)
                        (epsilon.crypto:tls-alpn-protocol conn)
                        (epsilon.crypto:tls-server-name conn)
                        (epsilon.crypto:tls-peer-certificate conn)))

(defmacro define-info-reader (name accessor documentation)
  `(defun ,name ()
     ,documentation
     (let ((info *connection-info*))
       (and info (,accessor info)))))

(define-info-reader client-certificate connection-info-certificate
  "The certificate the client of the current connection presented and the
acceptor verified, as an epsilon.crypto:TLS-CERTIFICATE (read it with
CERTIFICATE-SUBJECT, CERTIFICATE-ISSUER, CERTIFICATE-ALT-NAMES,
CERTIFICATE-FINGERPRINT...), or NIL when it presented none (or outside a
TLS-ACCEPTOR's handler).  Only an acceptor made with :CLIENT-CERTIFICATES
:REQUEST or :REQUIRE asks for one, and a certificate that does not verify
against its :CA-FILE fails the handshake, so a certificate here is a
verified one.")

(define-info-reader connection-tls-version connection-info-version
  "The TLS version the current connection negotiated: :TLS-V1.2 or
:TLS-V1.3 (NIL outside a TLS-ACCEPTOR's handler).")

(define-info-reader connection-cipher connection-info-cipher
  "The name of the cipher suite the current connection negotiated, as
OpenSSL spells it (\"TLS_AES_256_GCM_SHA384\"), or NIL outside a
TLS-ACCEPTOR's handler.")

(define-info-reader connection-alpn-protocol connection-info-alpn-protocol
  "The ALPN protocol the current connection agreed (\"http/1.1\"), or NIL
when the client offered none (or outside a TLS-ACCEPTOR's handler).")

(define-info-reader connection-server-name connection-info-server-name
  "The host name the client of the current connection asked for with SNI
(the name that chose the certificate), or NIL when it sent none (or
outside a TLS-ACCEPTOR's handler).")

(defun client-certificate-subject ()
  "The subject of CLIENT-CERTIFICATE, as `openssl x509 -noout -subject`
prints it after \"subject=\" (\"O = Epsilon, CN = epsilon client\"), or NIL
when the client presented no certificate."
  (let ((cert (client-certificate)))
    (and cert (epsilon.crypto:certificate-subject cert))))
