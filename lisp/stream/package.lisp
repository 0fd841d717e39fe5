;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - the stream core shared by epsilon.net.core and epsilon.crypto.

(defpackage #:epsilon.linux.stream
  (:use #:cl #:epsilon.linux.errors)
  (:import-from #:epsilon.linux.runtime
                #:deadline #:wait-until-ready #:+pollin+ #:+pollout+)
  (:documentation
   "The one buffered bivalent Gray stream of epsilon-linux, its UTF-8 codec
and its conditions.  SOCKET-STREAM (epsilon.net.core) and TLS-STREAM
(epsilon.crypto) are this stream over two transports; a transport is a
subclass that defines the TRANSPORT-... generic functions.  Internal: the
public packages re-export the condition names.")
  ;; The class and its transport protocol
  (:export #:buffered-stream
           #:stream-timeout
           #:stream-format
           #:transport-receive
           #:transport-send
           #:transport-start
           #:transport-fd
           #:transport-error-class
           #:transport-close
           #:transport-usable-p
           #:transport-describe
           #:call-with-transport-lock
           #:parse-external-format
           #:parse-element-type)
  ;; Conditions (re-exported by epsilon.net.core and epsilon.crypto)
  (:export #:stream-closed-error
           #:socket-stream-error
           #:socket-stream-timeout
           #:tls-stream-error
           #:tls-stream-timeout
           #:tls-stream-unexpected-eof
           #:tls-stream-handshake-error
           #:tls-stream-verification-error
           #:tls-stream-hostname-mismatch)
  ;; The codec
  (:export #:utf-8-decode
           #:utf-8-encode))
