;;;; SPDX-License-Identifier: MIT
;;;; stream.lisp - OPEN-TLS-STREAM.
;;;;
;;;; Drakma reuses a stream it is given only when it is a flexi-stream over
;;;; a chunga chunked stream (it switches their chunking, element type and
;;;; external format per request), so the TLS stream is wrapped in those
;;;; two.  The chunked stream is this file's subclass: closing it, as Drakma
;;;; does when the server ends the connection, closes the socket too.

(in-package #:epsilon.drakma)

(defclass socket-owning-chunked-stream (chunga:chunked-io-stream)
  ((fd :initarg :fd)
   (context :initarg :context :initform nil))
  (:documentation "A chunked stream over a TLS stream that owns the socket
fd (and the TLS context, when OPEN-TLS-STREAM made it): both are released
after the TLS stream is closed."))

(defmethod close :after ((stream socket-owning-chunked-stream) &key abort)
  (declare (ignore abort))
  (with-slots (fd context) stream
    (let ((real (chunga:chunked-stream-stream stream)))
      ;; Closed through a flexi-stream whose OPEN-STREAM-P was already
      ;; false, the TLS stream may still be open: its connection first.
      (when (open-stream-p real) (ignore-errors (close real :abort t))))
    (when fd
      (let ((f fd))
        (setf fd nil)
        (ignore-errors (epsilon.net.core:socket-close f))))
    (when context
      (let ((c context))
        (setf context nil)
        (ignore-errors (epsilon.crypto:tls-context-free c))))))

(defun url-host-and-port (url)
  "The host (without brackets) and port of URL, a string or PURI:URI."
  (let* ((uri (puri:uri url))
         (host (puri:uri-host uri))
         (scheme (puri:uri-scheme uri)))
    (unless (and host (plusp (length host)))
      (error "~S has no host." url))
    ;; An http URL would get TLS on port 443 or on its plain port: refuse.
    (unless (eq scheme :https)
      (error "~S is not an https URL: OPEN-TLS-STREAM speaks TLS." url))
    (values (string-trim "[]" host)
            (or (puri:uri-port uri) 443))))

(defun connect-socket (host port timeout)
  "A blocking TCP socket connected to HOST:PORT: each address HOST
resolves to in turn, each for up to TIMEOUT seconds; the last
SOCKET-ERROR when none connects."
  (let ((last-error nil))
    (dolist (address (epsilon.net.core:resolve-host host :port port)
                     (error (or last-error (format nil "~A resolves to no address." host))))
      (let ((fd (epsilon.net.core:socket-create (epsilon.net.core:address-family address)
                                                epsilon.net.core:+sock-stream+ 0))
            (ok nil))
        (unwind-protect
             (handler-case (progn (epsilon.net.core:socket-connect fd address :timeout timeout)
                                  (setf ok t))
               (epsilon.net.core:socket-error (e) (setf last-error e)))
          (unless ok (epsilon.net.core:socket-close fd)))
        (when ok (return fd))))))

(defun open-tls-stream (url &key (verify t) ca-file ca-path cert-file key-file
                                 hostname context (timeout 30))
  "Connect to the host and port of URL (a string or PURI:URI; the port
defaults to 443), run a TLS handshake through epsilon.crypto and return a
stream for Drakma's HTTP-REQUEST :STREAM argument:

  (let ((s (open-tls-stream \"https://example.org/\" :ca-file \"ca.pem\")))
    (drakma:http-request \"https://example.org/\" :stream s))

The defaults are those of epsilon.crypto:WITH-TLS-CONNECTION: the server's
certificate must lead to a trusted CA (CA-FILE, CA-PATH, else the system's
CAs) and name HOSTNAME (default: URL's host, also sent as SNI), and TLS 1.2
at least; VERIFY NIL turns all checking off (anyone can then impersonate
the server).  CERT-FILE and KEY-FILE are a client certificate for servers
that ask.  CONTEXT, a client TLS-CONTEXT, is used instead of making one
(and the options above are then its own).  TIMEOUT (seconds, NIL for none)
bounds the connect, the handshake and each later read.
The handshake runs here: a certificate that does not verify signals
TLS-VERIFICATION-ERROR (TLS-HOSTNAME-MISMATCH for a wrong name), an
unreachable server SOCKET-ERROR, and nothing is left open.
The stream is a flexi-stream over a chunked stream over a TLS stream, as
Drakma makes them; it owns the socket.  Drakma closes it when the reply
ends the connection (always, unless HTTP-REQUEST is given :CLOSE NIL);
with :CLOSE NIL, pass the fifth value of HTTP-REQUEST (this stream) as
:STREAM to the next request to the same server, and CLOSE it when done."
  (multiple-value-bind (host port) (url-host-and-port url)
    (let ((own-context nil) (fd nil) (conn nil) (tls nil) (ok nil))
      (unwind-protect
           (progn
             (unless context
               (setf context (epsilon.crypto:make-tls-context
                              :role :client :verify verify :ca-file ca-file :ca-path ca-path
                              :cert-file cert-file :key-file key-file)
                     own-context context))
             (setf fd (connect-socket host port timeout))
             (setf conn (epsilon.crypto:make-tls-connection context fd
                                                            :hostname (or hostname host)
                                                            :timeout timeout))
             (epsilon.crypto:tls-handshake conn)
             (setf tls (epsilon.crypto:make-tls-stream conn :element-type '(unsigned-byte 8)
                                                            :external-format :latin-1
                                                            :close-connection t
                                                            :timeout timeout))
             (prog1 (flexi-streams:make-flexi-stream
                     (make-instance 'socket-owning-chunked-stream
                                    :real-stream tls :fd fd :context own-context)
                     :external-format :latin-1)
               (setf ok t)))
        (unless ok
          (cond (tls (ignore-errors (close tls :abort t)))
                (conn (ignore-errors (epsilon.crypto:tls-connection-free conn))))
          (when fd (ignore-errors (epsilon.net.core:socket-close fd)))
          (when own-context (ignore-errors (epsilon.crypto:tls-context-free own-context))))))))
