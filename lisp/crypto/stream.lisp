;;;; SPDX-License-Identifier: MIT
;;;; stream.lisp - the TLS transport of the stream core: bivalent Gray
;;;; streams over a TLS connection.
;;;;
;;;; The transport makes single non-blocking calls into the connection (the
;;;; C side never waits: MAKE-TLS-CONNECTION makes every connection
;;;; non-blocking there); WANT_READ / WANT_WRITE go back to the stream
;;;; core, which waits for the fd.  So the stream waits whatever the fd's
;;;; mode, bounded by the stream's timeout.

(in-package #:epsilon.crypto)

(defconstant +stream-buffer-size+ 16384
  "The size of a TLS stream's input and output buffers (one TLS record).")

(defclass tls-stream (buffered-stream)
  ((connection :initarg :connection :reader tls-stream-connection
               :documentation "The TLS-CONNECTION the stream reads and writes.")
   (close-connection :initarg :close-connection))
  (:documentation
   "A bivalent Gray stream over a TLS connection, made by MAKE-TLS-STREAM:
READ-BYTE, WRITE-BYTE, READ-CHAR, READ-LINE, WRITE-STRING, READ-SEQUENCE,
WRITE-SEQUENCE, LISTEN, FORCE-OUTPUT, FINISH-OUTPUT and CLOSE work on it.
Its failures are TLS-STREAM-ERRORs (a TLS-ERROR and a CL:STREAM-ERROR); use
after CLOSE is a STREAM-CLOSED-ERROR.  Not safe for use by two threads at
once."))

(setf (documentation 'tls-stream-connection 'function)
      "The TLS-CONNECTION under the TLS-STREAM STREAM.")

(defun tls-stream-external-format (stream)
  "The external format of the TLS-STREAM STREAM: :UTF-8 or :LATIN-1 (what
STREAM-EXTERNAL-FORMAT answers too)."
  (check-type stream tls-stream)
  (stream-format stream))

(defun make-tls-stream (conn &key (external-format :utf-8) (element-type 'character)
                               close-connection (timeout (tls-connection-timeout conn)))
  "Make a bivalent Gray stream (a TLS-STREAM) over the TLS connection CONN:
bytes with READ-BYTE / WRITE-BYTE and octet vectors, characters with
READ-CHAR, READ-LINE, FORMAT and strings, mixed freely.  EXTERNAL-FORMAT is
:UTF-8 (the default; each maximal malformed subpart reads as
#\\REPLACEMENT_CHARACTER, the same on a SOCKET-STREAM) or :LATIN-1
(characters above 255 are written as #\\?); STREAM-EXTERNAL-FORMAT answers
it.  ELEMENT-TYPE (CHARACTER, the default, or (UNSIGNED-BYTE 8)) is what
STREAM-ELEMENT-TYPE reports; both kinds of element work either way.
Output is buffered: call FORCE-OUTPUT or FINISH-OUTPUT to send it.  The
first read or write runs the handshake if it has not run.  Reads and
writes wait for the socket whatever the fd's mode, up to TIMEOUT seconds
each (NIL: no limit; default: the connection's), then signal
TLS-STREAM-TIMEOUT.  READ-LINE leaves a carriage return before the
newline in the line.  The end of the input (EOF) is the peer's
close_notify; a peer that closes its socket without it signals
TLS-STREAM-UNEXPECTED-EOF.  CLOSE sends what is buffered, then
close_notify (as a best effort, once, without waiting), and frees CONN
when CLOSE-CONNECTION is true; (CLOSE STREAM :ABORT T) drops the buffered
output and sends no close_notify, so the peer sees the output cut short.
The fd always stays with its owner (the stream never closes it)."
  (check-type conn tls-connection)
  (let ((external-format (parse-external-format external-format))
        (element-type (parse-element-type element-type)))
    (check-type timeout (or null (real 0)))
    (unless (plusp (tls-connection-handle conn))
      (freed-error "connection" 'make-tls-stream))
    (make-instance 'tls-stream :connection conn
                               :external-format external-format
                               :element-type element-type
                               :close-connection (and close-connection t)
                               :timeout timeout
                               :buffer-size +stream-buffer-size+)))

(defmacro with-tls-stream ((stream conn &rest options
                            &key external-format element-type close-connection timeout)
                           &body body)
  "Bind STREAM to a TLS-STREAM over CONN made by MAKE-TLS-STREAM with
OPTIONS, run BODY, and close the stream on every exit (with :ABORT T when
BODY did not return normally).  Closing never closes the fd, and frees
CONN only with :CLOSE-CONNECTION T.  Returns BODY's values."
  (declare (ignore external-format element-type close-connection timeout))
  (let ((ok (gensym "OK")))
    `(let ((,stream (make-tls-stream ,conn ,@options))
           (,ok nil))
       (unwind-protect (multiple-value-prog1 (progn ,@body) (setf ,ok t))
         (close ,stream :abort (not ,ok))))))

;;; The transport

(declaim (inline live-handle))
(defun live-handle (s operation)
  "The handle of S's connection; a TLS-ERROR (+EBADHANDLE+) once it is freed."
  (let ((h (tls-connection-handle (slot-value s 'connection))))
    (if (plusp h) h (freed-error "connection" operation))))

(defun want (conn r operation)
  "The direction a negative result R of a call on CONN waits for; signals
any other failure."
  (cond ((= r (- +etlswantread+)) :read)
        ((= r (- +etlswantwrite+)) :write)
        (t (tls-fail conn r operation))))

(defmethod transport-fd ((s tls-stream))
  (tls-connection-fd (slot-value s 'connection)))

(defmethod transport-error-class ((s tls-stream))
  'tls-error)

(defmethod transport-usable-p ((s tls-stream))
  (plusp (tls-connection-handle (slot-value s 'connection))))

(defmethod transport-start ((s tls-stream))
  (let ((r (with-shim (%eps-tls-connection-handshake (live-handle s 'tls-handshake)))))
    (if (zerop r) t (want (slot-value s 'connection) r 'tls-handshake))))

(defmethod transport-receive ((s tls-stream) buffer start end)
  (declare (type (simple-array (unsigned-byte 8) (*)) buffer) (type fixnum start end))
  (let ((r (with-shim
             (sb-sys:with-pinned-objects (buffer)
               (%eps-tls-connection-read (live-handle s 'stream-read)
                                         (sb-sys:sap+ (sb-sys:vector-sap buffer) start)
                                         (- end start))))))
    (if (>= r 0) r (want (slot-value s 'connection) r 'stream-read))))

(defmethod transport-send ((s tls-stream) buffer start end)
  (declare (type (simple-array (unsigned-byte 8) (*)) buffer) (type fixnum start end))
  (let ((r (with-shim
             (sb-sys:with-pinned-objects (buffer)
               (%eps-tls-connection-write (live-handle s 'stream-write)
                                          (sb-sys:sap+ (sb-sys:vector-sap buffer) start)
                                          (- end start))))))
    (cond ((plusp r) r)
          ((zerop r) :write)
          (t (want (slot-value s 'connection) r 'stream-write)))))

(defun lock-timeout (deadline)
  (and deadline (max 0 (/ (- deadline (monotonic-us)) 1000000))))

(defmethod call-with-transport-lock ((s tls-stream) direction deadline function)
  ;; The connection's direction locks, as TLS-SEND and TLS-RECV take them:
  ;; a retried write never splices into another thread's, and the
  ;; handshake takes both, write first, as TLS-HANDSHAKE does.
  (declare (type function function))
  (let* ((conn (slot-value s 'connection))
         (acquired nil)
         (operation (ecase direction
                      (:read 'stream-read) (:write 'stream-write) (:start 'tls-handshake))))
    (multiple-value-prog1
        (flet ((with-lock (lock thunk)
                 (declare (type function thunk))
                 (sb-thread:with-mutex (lock :timeout (lock-timeout deadline))
                   (setf acquired t)
                   (funcall thunk))))
          (declare (inline with-lock))
          (ecase direction
            (:read (with-lock (tls-connection-read-lock conn) function))
            (:write (with-lock (tls-connection-write-lock conn) function))
            (:start (with-lock (tls-connection-write-lock conn)
                      (lambda ()
                        (setf acquired nil)
                        (with-lock (tls-connection-read-lock conn) function))))))
      (unless acquired
        (error 'tls-timeout :operation operation)))))

(defmethod transport-close ((s tls-stream) abort)
  (let ((conn (slot-value s 'connection)))
    (cond ((slot-value s 'close-connection)
           (if abort
               (tls-connection-free conn)
               (release-tls-connection conn)))
          ((not abort)
           ;; close_notify once, as a best effort: never waits, never signals.
           (handler-case
               (let ((h (tls-connection-handle conn)))
                 (when (and (plusp h)
                            (plusp (with-shim (%eps-tls-connection-version h))))
                   (sb-thread:with-mutex ((tls-connection-write-lock conn) :wait-p nil)
                     (with-shim (%eps-tls-connection-shutdown h)))))
             (error () nil))))))

(defmethod transport-describe ((s tls-stream) out)
  (let ((conn (slot-value s 'connection)))
    (format out "~(~A~) fd ~D~:[ (connection freed)~;~]"
            (tls-connection-role conn) (tls-connection-fd conn)
            (plusp (tls-connection-handle conn)))))
