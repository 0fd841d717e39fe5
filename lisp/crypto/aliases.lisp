;;;; aliases.lisp - the original epsilon's names for the same operations.

(in-package #:epsilon.crypto)

(defun tls-connect (ctx fd &key hostname timeout)
  "Make a client TLS connection over FD with the client context CTX and run
its handshake: MAKE-TLS-CONNECTION then TLS-HANDSHAKE.  Returns the
connection (free it with TLS-CLOSE).  HOSTNAME is required when CTX
verifies.  On a non-blocking fd, finish the handshake with TLS-HANDSHAKE."
  (let ((conn (make-tls-connection ctx fd :hostname hostname :role :client
                                          :timeout timeout))
        (ok nil))
    (unwind-protect (progn (tls-handshake conn) (setf ok t) conn)
      (unless ok (tls-connection-free conn)))))

(defun tls-accept (ctx fd &key timeout)
  "Make a server TLS connection over FD, an accepted socket, with the server
context CTX and run its handshake: MAKE-TLS-CONNECTION then TLS-HANDSHAKE.
Returns the connection (free it with TLS-CLOSE).  On a non-blocking fd,
finish the handshake with TLS-HANDSHAKE."
  (let ((conn (make-tls-connection ctx fd :role :server :timeout timeout))
        (ok nil))
    (unwind-protect (progn (tls-handshake conn) (setf ok t) conn)
      (unless ok (tls-connection-free conn)))))

(defun tls-read (conn size &key (timeout (tls-connection-timeout conn)))
  "TLS-RECV under the original epsilon's name."
  (tls-recv conn size :timeout timeout))

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
