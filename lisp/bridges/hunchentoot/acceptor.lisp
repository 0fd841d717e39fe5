;;;; SPDX-License-Identifier: MIT
;;;; acceptor.lisp - TLS-ACCEPTOR: Hunchentoot's accept loop and request
;;;; handling, with each accepted connection's stream replaced by a TLS
;;;; stream of epsilon.crypto after a bounded handshake.
;;;;
;;;; Hunchentoot keeps the listener, the taskmaster's worker threads and
;;;; the fd (it closes the usocket stream when the connection ends); this
;;;; file only runs the handshake on that fd in INITIALIZE-CONNECTION-STREAM
;;;; and hands back the TLS stream, which frees its connection when
;;;; Hunchentoot closes it.

(in-package #:epsilon.hunchentoot)

(defclass tls-acceptor (hunchentoot:acceptor)
  ((certificate-file :initarg :certificate-file :initform nil
                     :reader acceptor-certificate-file)
   (key-file :initarg :key-file :initform nil :reader acceptor-key-file)
   (chain-file :initarg :chain-file :initform nil :reader acceptor-chain-file)
   (sni-certificates :initarg :sni-certificates :initform '()
                     :reader acceptor-sni-certificates)
   (client-certificates :initarg :client-certificates :initform nil
                        :reader acceptor-client-certificates)
   (ca-file :initarg :ca-file :initform nil :reader acceptor-ca-file)
   (ca-path :initarg :ca-path :initform nil :reader acceptor-ca-path)
   (alpn :initarg :alpn :initform '("http/1.1") :reader acceptor-alpn)
   (handshake-timeout :initarg :handshake-timeout :initform 10
                      :reader acceptor-handshake-timeout)
   (context :initform nil :reader acceptor-tls-context)
   ;; Set by STOP, whose wake-up connection to the listener must not be
   ;; logged as a failed handshake.
   (stopping :initform nil)
   (context-lock :initform (sb-thread:make-mutex :name "tls-acceptor context")))
  (:default-initargs :port 443)
  (:documentation
   "A Hunchentoot acceptor (make it, then HUNCHENTOOT:START it, as an
SSL-ACCEPTOR) whose connections are TLS through epsilon.crypto.  Initargs,
besides ACCEPTOR's own (:PORT, default 443, 0 for one the kernel picks;
:ADDRESS; :READ-TIMEOUT, which also bounds each read of the TLS stream;
:MESSAGE-LOG-DESTINATION...):
  :CERTIFICATE-FILE, :KEY-FILE  the server's certificate (PEM, the leaf
      first, intermediates may follow) and its unencrypted private key;
  :CHAIN-FILE        intermediate certificates (PEM, the issuer of the
      leaf first) sent after the leaf, replacing any that follow it in
      :CERTIFICATE-FILE (epsilon.crypto:TLS-LOAD-CHAIN-FILE; a file whose
      first certificate did not issue the leaf signals a TLS-ERROR);
  :SNI-CERTIFICATES  a list of (CERT-FILE KEY-FILE &KEY NAME) for the
      clients that ask for another name with SNI (see
      epsilon.crypto:TLS-CONTEXT-ADD-CERTIFICATE); a client that sends no
      name, or one nothing matches, gets :CERTIFICATE-FILE (or the first
      entry when that is NIL);
  :CLIENT-CERTIFICATES  NIL (the default: none asked for), :REQUEST (ask;
      a client may send none) or :REQUIRE (a client without a certificate
      that verifies is refused in the handshake); verified against
      :CA-FILE or :CA-PATH (else the system's CAs).  Handlers read it with
      CLIENT-CERTIFICATE and CLIENT-CERTIFICATE-SUBJECT;
  :ALPN              the protocols to agree by ALPN, default (\"http/1.1\");
      a client that offers only others is refused; NIL for no ALPN;
  :HANDSHAKE-TIMEOUT  seconds a client may take to finish the handshake
      (default 10): a client that connects and sends nothing holds a worker
      thread that long, then is dropped.
Protocol versions and ciphers are epsilon.crypto's defaults (TLS 1.2 or
newer, OpenSSL's default suites).  The files are loaded when the acceptor
is made (a missing file or a key that does not match signals a TLS-ERROR
then); STOP frees the context and a later START loads them again.  A failed handshake
closes that connection only and is logged at :WARNING through
HUNCHENTOOT:ACCEPTOR-LOG-MESSAGE."))

(defclass easy-tls-acceptor (tls-acceptor hunchentoot:easy-acceptor)
  ()
  (:documentation
   "A TLS-ACCEPTOR that dispatches to Hunchentoot's easy handlers
(HUNCHENTOOT:DEFINE-EASY-HANDLER) and *DISPATCH-TABLE*, as
HUNCHENTOOT:EASY-SSL-ACCEPTOR does over cl+ssl."))

(setf (documentation 'acceptor-tls-context 'function)
      "The server epsilon.crypto:TLS-CONTEXT of the TLS-ACCEPTOR ACCEPTOR
(NIL after STOP until the next START)."
      (documentation 'acceptor-handshake-timeout 'function)
      "The seconds a client of the TLS-ACCEPTOR ACCEPTOR has to complete
its TLS handshake.")

;;; The context

(defun make-acceptor-context (acceptor)
  "A new server TLS-CONTEXT with ACCEPTOR's certificates and options."
  (epsilon.crypto:make-tls-context
   :role :server
   :cert-file (acceptor-certificate-file acceptor)
   :key-file (acceptor-key-file acceptor)
   :chain-file (acceptor-chain-file acceptor)
   :sni-certificates (acceptor-sni-certificates acceptor)
   :verify (acceptor-client-certificates acceptor)
   :ca-file (acceptor-ca-file acceptor)
   :ca-path (acceptor-ca-path acceptor)
   :alpn (acceptor-alpn acceptor)))

(defmethod initialize-instance :after ((acceptor tls-acceptor) &key)
  (check-type (slot-value acceptor 'client-certificates) (member nil :request :require))
  (check-type (slot-value acceptor 'handshake-timeout) (real (0)))
  (check-type (slot-value acceptor 'chain-file) (or null string pathname))
  (with-slots (certificate-file key-file sni-certificates chain-file) acceptor
    (when (and (null certificate-file) (null sni-certificates))
      (error "A TLS-ACCEPTOR needs a :CERTIFICATE-FILE and :KEY-FILE (or :SNI-CERTIFICATES)."))
    (when (and certificate-file (null key-file))
      (error "A TLS-ACCEPTOR with a :CERTIFICATE-FILE needs its :KEY-FILE."))
    (when (and chain-file (null certificate-file))
      (error "A TLS-ACCEPTOR's :CHAIN-FILE follows its :CERTIFICATE-FILE; give that too.")))
  ;; Bad files are reported now, not at the first connection.
  (setf (slot-value acceptor 'context) (make-acceptor-context acceptor)))

(defmethod hunchentoot:start :before ((acceptor tls-acceptor))
  (sb-thread:with-mutex ((slot-value acceptor 'context-lock))
    (setf (slot-value acceptor 'stopping) nil)
    (unless (slot-value acceptor 'context)
      (setf (slot-value acceptor 'context) (make-acceptor-context acceptor)))))

(defmethod hunchentoot:stop :before ((acceptor tls-acceptor) &key soft)
  (declare (ignore soft))
  (setf (slot-value acceptor 'stopping) t))

(defmethod hunchentoot:stop :after ((acceptor tls-acceptor) &key soft)
  (declare (ignore soft))
  (sb-thread:with-mutex ((slot-value acceptor 'context-lock))
    (let ((ctx (slot-value acceptor 'context)))
      (setf (slot-value acceptor 'context) nil)
      ;; A connection still being served holds the OpenSSL context alive.
      (when ctx (epsilon.crypto:tls-context-free ctx)))))

(defmethod hunchentoot:acceptor-ssl-p ((acceptor tls-acceptor))
  t)

;;; Connections

(defun stream-fd (stream)
  "The socket fd under the usocket stream Hunchentoot made for a connection."
  (sb-sys:fd-stream-fd stream))

(defun peer-string (fd)
  "The peer of socket FD as text, for a log line; \"?\" when it is gone."
  (handler-case (epsilon.net.core:address-string (epsilon.net.core:socket-peer-address fd))
    (error () "?")))

(defun closed-connection-stream ()
  "A stream at its end, with nowhere to write: Hunchentoot reads no request
from it and closes the connection."
  (make-two-way-stream (make-concatenated-stream) (make-broadcast-stream)))

(defmethod hunchentoot:process-connection ((acceptor tls-acceptor) socket)
  (declare (ignore socket))
  ;; Hunchentoot treats the end of input or a timeout before a request as
  ;; the normal end of a keep-alive connection; on TLS these are a peer
  ;; that closed without close_notify or went idle past :READ-TIMEOUT.
  ;; Hunchentoot's reads map every error into a usocket condition, and its
  ;; :AROUND method would log them as errors: this handler runs first.
  (let ((*connection-info* nil))
    (block connection
      (flet ((end-quietly (c)
               (when (and (not (boundp 'hunchentoot:*request*)) (connection-end-p c))
                 (return-from connection))))
        (handler-bind ((error #'end-quietly))
          (call-next-method))))))

(defun connection-end-p (condition)
  "True when CONDITION (or the error a usocket condition maps) is a TLS
peer's end without close_notify or a read timeout."
  ;; USOCKET-REAL-ERROR, the reader of UNKNOWN-ERROR's REAL-ERROR slot, is
  ;; not exported (usocket 0.8).
  (let ((real (if (typep condition 'usocket:unknown-error)
                  (usocket::usocket-real-error condition)
                  condition)))
    (typep real '(or epsilon.crypto:tls-unexpected-eof epsilon.crypto:tls-timeout))))

(defmethod hunchentoot:initialize-connection-stream ((acceptor tls-acceptor) stream)
  (let* ((fd (stream-fd stream))
         (read-timeout (hunchentoot:acceptor-read-timeout acceptor))
         (peer (peer-string fd))
         (conn nil)
         (tls-stream nil))
    (flet ((refuse (format-control &rest arguments)
             (when conn (ignore-errors (epsilon.crypto:tls-connection-free conn)))
             (unless (slot-value acceptor 'stopping)
               (hunchentoot:acceptor-log-message acceptor :warning "TLS handshake with ~A failed: ~?"
                                                 peer format-control arguments))
             (return-from hunchentoot:initialize-connection-stream
               (call-next-method acceptor (closed-connection-stream)))))
      (let ((ctx (acceptor-tls-context acceptor)))
        (unless ctx (refuse "the acceptor is stopped"))
        (handler-case
            (progn
              (setf conn (epsilon.crypto:make-tls-connection ctx fd :role :server
                                                                    :timeout read-timeout))
              (epsilon.crypto:tls-handshake conn :timeout (acceptor-handshake-timeout acceptor))
              (setf *connection-info* (read-connection-info conn))
              (setf tls-stream (epsilon.crypto:make-tls-stream conn :element-type '(unsigned-byte 8)
                                                                    :external-format :latin-1
                                                                    :close-connection t
                                                                    :timeout read-timeout)))
          (epsilon.crypto:epsilon-error (e) (refuse "~A" e)))))
    (call-next-method acceptor tls-stream)))

(defun last-request-p ()
  "True in RESET-CONNECTION-STREAM after a connection's last request
(Connection: close, HTTP/1.0), when Hunchentoot will close the stream.
Hunchentoot keeps that in two specials it does not export."
  (and (boundp 'hunchentoot::*finish-processing-socket*)
       hunchentoot::*finish-processing-socket*
       (boundp 'hunchentoot::*close-hunchentoot-stream*)
       hunchentoot::*close-hunchentoot-stream*))

(defmethod hunchentoot:reset-connection-stream ((acceptor tls-acceptor) stream)
  ;; Hunchentoot closes a connection with (CLOSE STREAM :ABORT T), which
  ;; sends no close_notify.  After the last request, send it here (as
  ;; cl+ssl does), after the reply's last bytes (a chunked reply's last
  ;; chunk is written by the unwrapping above): a client that reads the
  ;; reply to the end of the connection can then tell that end from a cut.
  (let ((stream (call-next-method)))
    (when (and (typep stream 'epsilon.crypto:tls-stream) (last-request-p))
      (ignore-errors
       (finish-output stream)
       (epsilon.crypto:tls-shutdown (epsilon.crypto:tls-stream-connection stream) :timeout 1)))
    stream))
