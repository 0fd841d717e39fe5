;;;; SPDX-License-Identifier: MIT
;;;; conditions.lisp - a failure on a stream is a CL:STREAM-ERROR too.
;;;;
;;;; The transports signal the library's conditions (SOCKET-ERROR,
;;;; TLS-ERROR and their subclasses).  The stream core turns each into the
;;;; class below that inherits both that condition's class and
;;;; CL:STREAM-ERROR, so a handler for either catches it and
;;;; STREAM-ERROR-STREAM answers the stream.

(in-package #:epsilon.linux.stream)

(define-condition stream-closed-error (stream-error)
  ()
  (:report (lambda (c s)
             (format s "~S is closed" (stream-error-stream c))))
  (:documentation "An operation other than CLOSE (and the queries
OPEN-STREAM-P, STREAM-ELEMENT-TYPE, ...) on a closed SOCKET-STREAM or
TLS-STREAM.  STREAM-ERROR-STREAM is the stream."))

(define-condition socket-stream-error (socket-error stream-error) ()
  (:documentation "A socket failure in an operation on a SOCKET-STREAM: both
a SOCKET-ERROR (code, operation, detail) and a CL:STREAM-ERROR
(STREAM-ERROR-STREAM is the stream)."))

(define-condition socket-stream-timeout (socket-stream-error socket-timeout) ()
  (:documentation "A SOCKET-STREAM operation waited longer than the stream's
:TIMEOUT: a SOCKET-TIMEOUT and a CL:STREAM-ERROR."))

(define-condition tls-stream-error (tls-error stream-error) ()
  (:documentation "A TLS failure in an operation on a TLS-STREAM: both a
TLS-ERROR (code, operation, detail) and a CL:STREAM-ERROR
(STREAM-ERROR-STREAM is the stream)."))

(define-condition tls-stream-timeout (tls-stream-error tls-timeout) ()
  (:documentation "A TLS-STREAM operation waited longer than the stream's
:TIMEOUT: a TLS-TIMEOUT and a CL:STREAM-ERROR."))

(define-condition tls-stream-unexpected-eof (tls-stream-error tls-unexpected-eof) ()
  (:documentation "The peer of a TLS-STREAM closed its socket without
close_notify: a TLS-UNEXPECTED-EOF and a CL:STREAM-ERROR."))

(define-condition tls-stream-handshake-error (tls-stream-error tls-handshake-error) ()
  (:documentation "The handshake a TLS-STREAM ran before its first I/O
failed: a TLS-HANDSHAKE-ERROR and a CL:STREAM-ERROR."))

(define-condition tls-stream-verification-error
    (tls-stream-handshake-error tls-verification-error) ()
  (:documentation "The peer's certificate failed verification in a
TLS-STREAM's handshake: a TLS-VERIFICATION-ERROR and a CL:STREAM-ERROR."))

(define-condition tls-stream-hostname-mismatch
    (tls-stream-verification-error tls-hostname-mismatch) ()
  (:documentation "The peer's certificate does not name the host in a
TLS-STREAM's handshake: a TLS-HOSTNAME-MISMATCH and a CL:STREAM-ERROR."))

(defparameter *stream-classes*
  ;; Most specific first: the first class the condition is of decides.
  '((tls-hostname-mismatch . tls-stream-hostname-mismatch)
    (tls-verification-error . tls-stream-verification-error)
    (tls-handshake-error . tls-stream-handshake-error)
    (tls-unexpected-eof . tls-stream-unexpected-eof)
    (tls-timeout . tls-stream-timeout)
    (tls-error . tls-stream-error)
    (socket-timeout . socket-stream-timeout)
    (socket-error . socket-stream-error)))

(defun stream-condition (stream condition)
  "The stream error for CONDITION, a library error raised by an operation on
STREAM, or NIL when it has none (it already is a stream error, or is no
socket or TLS error)."
  (unless (typep condition 'stream-error)
    (let ((class (cdr (assoc-if (lambda (c) (typep condition c)) *stream-classes*))))
      (when class
        (make-condition class :stream stream
                              :code (epsilon-error-code condition)
                              :operation (epsilon-error-operation condition)
                              :detail (epsilon-error-detail condition))))))

(defmacro with-stream-errors ((stream) &body body)
  "Run BODY; a library error it signals is re-signalled as the matching
stream error of STREAM (see STREAM-CONDITION).  Costs one handler binding
per use, so it wraps transport calls (per buffer), not per-byte paths."
  (let ((s (gensym "STREAM")))
    `(let ((,s ,stream))
       (handler-bind ((epsilon-error
                        (lambda (c)
                          (let ((new (stream-condition ,s c)))
                            (when new (error new))))))
         ,@body))))
