;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - epsilon.crypto: TLS over OpenSSL 3.

(epsilon.linux.runtime:define-public-package #:epsilon.crypto
  (:import-from #:epsilon.linux.runtime
                #:signal-epsilon-error #:last-error-detail #:deadline
                #:wait-until-ready #:monotonic-us #:+pollin+ #:+pollout+
                #:with-retry #:retry-failed-call)
  (:import-from #:epsilon.linux.bindings
                #:%eps-tls-context-new #:%eps-tls-context-free
                #:%eps-tls-context-use-certificate-file
                #:%eps-tls-context-use-private-key-file
                #:%eps-tls-context-use-default-verify-paths
                #:%eps-tls-context-load-ca-file #:%eps-tls-context-load-ca-dir
                #:%eps-tls-context-set-verify #:%eps-tls-context-set-cipher-list
                #:%eps-tls-context-set-ciphersuites
                #:%eps-tls-connection-new #:%eps-tls-connection-free
                #:%eps-tls-connection-set-nonblocking
                #:%eps-tls-connection-set-hostname
                #:%eps-tls-connection-handshake #:%eps-tls-connection-read
                #:%eps-tls-connection-write #:%eps-tls-connection-pending
                #:%eps-tls-connection-shutdown
                #:%eps-tls-connection-verify-result
                #:%eps-tls-connection-verify-result-string
                #:%eps-tls-connection-version
                #:%eps-tls-context-set-alpn-protocols #:%eps-tls-context-set-alpn-mismatch
                #:%eps-tls-context-add-server-certificate-file
                #:%eps-tls-context-set-keylog-file #:%eps-tls-context-set-session-cache
                #:%eps-tls-context-set-session-tickets
                #:%eps-tls-context-set-policy #:%eps-tls-context-use-chain-file
                #:%eps-tls-context-set-ocsp-response-file
                #:+tls-policy-intermediate+ #:+tls-policy-compatible+
                #:%eps-tls-connection-cipher #:%eps-tls-connection-alpn-protocol
                #:%eps-tls-connection-server-name #:%eps-tls-connection-session-reused
                #:%eps-tls-connection-peer-subject #:%eps-tls-connection-peer-issuer
                #:%eps-tls-connection-peer-alt-names #:%eps-tls-connection-peer-fingerprint
                #:%eps-tls-connection-peer-certificate-pem
                #:%eps-tls-connection-peer-validity
                #:%eps-tls-connection-get-session #:%eps-tls-connection-set-session
                #:%eps-tls-session-free #:%eps-tls-session-to-bytes
                #:%eps-tls-session-from-bytes
                #:%eps-fd-nonblocking-p
                #:+tls-role-client+ #:+tls-role-server+
                #:+tls-version-default+ #:+tls-version-1-2+ #:+tls-version-1-3+
                #:+tls-verify-none+ #:+tls-verify-peer+
                #:+tls-verify-fail-if-no-peer-cert+
                #:+tls-alpn-mismatch-fail+ #:+tls-alpn-mismatch-proceed+)
  (:documentation
   "TLS over OpenSSL 3 on the sockets of epsilon.net.core (or any connected
stream socket fd).  A TLS-CONTEXT holds the settings shared by many
connections (role, protocol versions, certificate and key, trust,
verification, ciphers); a TLS-CONNECTION runs TLS over one socket fd, which
stays with its owner.  Secure by default: TLS 1.2 at least, and clients
verify the server's certificate and name (:VERIFY NIL turns that off and
lets anyone impersonate the server).  On a blocking fd every operation waits
for readiness in Lisp, bounded by its :TIMEOUT; on a non-blocking fd it
returns NIL when it would block.  Failures are conditions under TLS-ERROR.
Beyond that: ALPN, several certificates chosen by SNI, mutual TLS, session
resumption (TLS-SESSION), what a connection negotiated and the peer's
certificate (TLS-VERSION, TLS-PEER-CERTIFICATE), bivalent Gray streams
(MAKE-TLS-STREAM) and a key log for debugging (:KEYLOG-FILE).")
  ;; Contexts
  (:export #:tls-context
           #:tls-context-p
           #:make-tls-context
           #:with-tls-context
           #:tls-context-free
           #:tls-load-cert-file
           #:tls-load-key-file
           #:tls-load-chain-file
           #:tls-context-add-certificate)
  ;; Connections
  (:export #:tls-connection
           #:tls-connection-p
           #:tls-connection-fd
           #:make-tls-connection
           #:with-tls-connection
           #:tls-connection-free
           #:tls-handshake
           #:tls-send
           #:tls-recv
           #:tls-recv-into
           #:tls-pending
           #:tls-shutdown)
  ;; Sessions (resumption)
  (:export #:tls-session
           #:tls-session-p
           #:tls-session-reused-p
           #:tls-session-free
           #:tls-session-to-octets
           #:octets-to-tls-session)
  ;; What a connection negotiated, and the peer's certificate
  (:export #:tls-version
           #:tls-cipher
           #:tls-alpn-protocol
           #:tls-server-name
           #:tls-verify-result
           #:tls-peer-certificate
           #:tls-certificate
           #:tls-certificate-p
           #:certificate-subject
           #:certificate-issuer
           #:certificate-alt-names
           #:certificate-fingerprint
           #:certificate-not-before
           #:certificate-not-after
           #:certificate-pem)
  ;; Streams
  (:export #:tls-stream
           #:make-tls-stream
           #:with-tls-stream
           #:tls-stream-connection
           #:tls-stream-external-format)
  ;; Stream conditions (from the shared stream core)
  (:import-from #:epsilon.linux.stream
                #:stream-closed-error #:tls-stream-error #:tls-stream-timeout
                #:tls-stream-unexpected-eof #:tls-stream-handshake-error
                #:tls-stream-verification-error #:tls-stream-hostname-mismatch
                #:buffered-stream #:stream-format #:transport-receive #:transport-send
                #:transport-start #:transport-fd #:transport-error-class
                #:transport-close #:transport-usable-p #:transport-describe
                #:call-with-transport-lock #:parse-external-format #:parse-element-type)
  (:export #:stream-closed-error
           #:tls-stream-error
           #:tls-stream-timeout
           #:tls-stream-unexpected-eof
           #:tls-stream-handshake-error
           #:tls-stream-verification-error
           #:tls-stream-hostname-mismatch)
  ;; The original epsilon's names
  (:export #:tls-connect
           #:tls-accept
           #:tls-read
           #:tls-write
           #:tls-close
           #:load-cert-file
           #:load-key-file))
