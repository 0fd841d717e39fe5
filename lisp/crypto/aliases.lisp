;;;; SPDX-License-Identifier: MIT
;;;; aliases.lisp - the original epsilon's names for the same operations.
;;;;
;;;; The original took the socket first (tls-connect socket context ...) and
;;;; read into a buffer (tls-read connection buffer); these aliases accept
;;;; that and this package's order alike, so old code runs unchanged.

(in-package #:epsilon.crypto)

(defun context-and-fd (a b operation)
  "A and B are a context and an fd in either order: return them as two
values, context first."
  (cond ((tls-context-p a) (values a b))
        ((tls-context-p b) (values b a))
        (t (error 'type-error :datum a :expected-type 'tls-context
                              :context operation))))

(defun tls-connect (ctx fd &key hostname timeout)
  "Make a client TLS connection over the socket FD with the client context
CTX and run its handshake: MAKE-TLS-CONNECTION then TLS-HANDSHAKE.  The
original epsilon's order, (TLS-CONNECT FD CTX ...), is accepted too.
Returns the connection (free it with TLS-CLOSE).  HOSTNAME is required when
CTX verifies.  On a non-blocking fd, finish the handshake with
TLS-HANDSHAKE."
  (multiple-value-bind (ctx fd) (context-and-fd ctx fd 'tls-connect)
    (let ((conn (make-tls-connection ctx fd :hostname hostname :role :client
                                            :timeout timeout))
          (ok nil))
      (unwind-protect (progn (tls-handshake conn) (setf ok t) conn)
        (unless ok (tls-connection-free conn))))))

(defun tls-accept (ctx fd &key timeout)
  "Make a server TLS connection over FD, an accepted socket, with the server
context CTX and run its handshake: MAKE-TLS-CONNECTION then TLS-HANDSHAKE.
The original epsilon's order, (TLS-ACCEPT FD CTX), is accepted too.
Returns the connection (free it with TLS-CLOSE).  On a non-blocking fd,
finish the handshake with TLS-HANDSHAKE."
  (multiple-value-bind (ctx fd) (context-and-fd ctx fd 'tls-accept)
    (let ((conn (make-tls-connection ctx fd :role :server :timeout timeout))
          (ok nil))
      (unwind-protect (progn (tls-handshake conn) (setf ok t) conn)
        (unless ok (tls-connection-free conn))))))

(defun tls-read (conn size-or-buffer &key (start 0) end (timeout (tls-connection-timeout conn)))
  "With a size, TLS-RECV (START and END are ignored); with an octet buffer
(the original epsilon's form), TLS-RECV-INTO that buffer between START and
END."
  (if (integerp size-or-buffer)
      (tls-recv conn size-or-buffer :timeout timeout)
      (tls-recv-into conn size-or-buffer :start start :end end :timeout timeout)))

(defun tls-write (conn data &key (start 0) end (timeout (tls-connection-timeout conn)))
  "TLS-SEND under the original epsilon's name."
  (tls-send conn data :start start :end end :timeout timeout))

(defun tls-close (conn)
  "Close CONN as WITH-TLS-CONNECTION does on exit: close_notify as a best
effort after a completed handshake, then TLS-CONNECTION-FREE.  Never
signals for the close_notify; the fd stays open.  Returns NIL."
  (check-type conn tls-connection)
  (release-tls-connection conn))

(defun load-cert-file (ctx path)
  "TLS-LOAD-CERT-FILE under the original epsilon's name."
  (tls-load-cert-file ctx path))

(defun load-key-file (ctx path)
  "TLS-LOAD-KEY-FILE under the original epsilon's name."
  (tls-load-key-file ctx path))
