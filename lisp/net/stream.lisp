;;;; SPDX-License-Identifier: MIT
;;;; stream.lisp - the socket transport of the stream core: bivalent
;;;; buffered streams over a connected socket fd.

(in-package #:epsilon.net.core.internal)

(defclass socket-stream (buffered-stream)
  ((fd :initarg :fd :reader socket-stream-fd)
   (claim :initarg :claim :initform nil))
  (:documentation "A bivalent (characters and octets) buffered stream over a
connected socket; made by MAKE-SOCKET-STREAM or WITH-SOCKET-STREAM.  Its
failures are SOCKET-STREAM-ERRORs (a SOCKET-ERROR and a CL:STREAM-ERROR);
use after CLOSE is a STREAM-CLOSED-ERROR."))

(setf (documentation 'socket-stream-fd 'function)
      "The socket descriptor of a SOCKET-STREAM.")

(defun make-socket-stream (fd &key (external-format :utf-8) (element-type 'character)
                                   (close-fd t) timeout)
  "A bivalent buffered stream over connected socket FD: READ-CHAR, READ-LINE,
READ-BYTE, READ-SEQUENCE (into strings or octet vectors), WRITE-CHAR,
WRITE-STRING, WRITE-BYTE, WRITE-SEQUENCE, LISTEN, FORCE-OUTPUT and
FINISH-OUTPUT work on it whatever ELEMENT-TYPE (CHARACTER, the default, or
(UNSIGNED-BYTE 8): what STREAM-ELEMENT-TYPE answers) says.
EXTERNAL-FORMAT is :UTF-8 (the default; each maximal malformed subpart
reads as #\\REPLACEMENT_CHARACTER, the same on a TLS-STREAM) or :LATIN-1
(characters above 255 are written as #\\?); STREAM-EXTERNAL-FORMAT answers
it.  Output is buffered: FORCE-OUTPUT sends it.  Reads and writes always
wait for the socket (even if FD is non-blocking), each operation up to
TIMEOUT seconds (NIL: no limit), then SOCKET-STREAM-TIMEOUT.
Ownership: with CLOSE-FD true (the default) the stream owns FD and CLOSE
closes it, exactly once: when FD came from WITH-CLIENT-SOCKET,
WITH-SERVER-SOCKET or WITH-SOCKET, the macro then leaves it alone.  With
CLOSE-FD NIL the fd stays with its owner.  Do not also SOCKET-CLOSE an fd
a stream owns."
  (check-type fd fd)
  (check-type timeout (or null (real 0)))
  (let ((encoding (parse-external-format external-format))
        (element-type (parse-element-type element-type)))
    (make-instance 'socket-stream :fd fd :external-format encoding
                                  :element-type element-type :timeout timeout
                                  :claim (and close-fd (fd-claim fd)))))

(defmacro with-socket-stream ((stream fd &rest options
                               &key external-format element-type close-fd timeout)
                              &body body)
  "Bind STREAM to a SOCKET-STREAM over FD made by MAKE-SOCKET-STREAM with
OPTIONS, run BODY, and close the stream on every exit (with :ABORT T when
BODY did not return normally); with CLOSE-FD true (the default) that
closes FD too, once, also inside WITH-CLIENT-SOCKET and the other WITH-
macros.  Returns BODY's values."
  (declare (ignore external-format element-type close-fd timeout))
  (let ((ok (gensym "OK")))
    `(let ((,stream (make-socket-stream ,fd ,@options))
           (,ok nil))
       (unwind-protect (multiple-value-prog1 (progn ,@body) (setf ,ok t))
         (close ,stream :abort (not ,ok))))))

;;; The transport

(defmethod transport-fd ((s socket-stream))
  (slot-value s 'fd))

(defmethod transport-error-class ((s socket-stream))
  'socket-error)

(defmethod transport-receive ((s socket-stream) buffer start end)
  (declare (type octets buffer) (type size start end))
  (let ((fd (slot-value s 'fd)))
    (loop
      (let ((r (shim (sb-sys:with-pinned-objects (buffer)
                       (%eps-recv fd (sb-sys:sap+ (sb-sys:vector-sap buffer) start)
                                  (- end start) +msg-dontwait+)))))
        (cond ((>= r 0) (return r))
              ((= r (- +eagain+)) (return :read))
              ((= r (- +eintr+)))
              (t (signal-epsilon-error r 'stream-read 'socket-error)))))))

(defmethod transport-send ((s socket-stream) buffer start end)
  (declare (type octets buffer) (type size start end))
  (let ((fd (slot-value s 'fd)))
    (loop
      (let ((r (shim (sb-sys:with-pinned-objects (buffer)
                       (%eps-send fd (sb-sys:sap+ (sb-sys:vector-sap buffer) start)
                                  (- end start) +msg-dontwait+)))))
        (cond ((> r 0) (return r))
              ((or (= r 0) (= r (- +eagain+))) (return :write))
              ((= r (- +eintr+)))
              (t (signal-epsilon-error r 'stream-write 'socket-error)))))))

(defmethod transport-close ((s socket-stream) abort)
  (declare (ignore abort))
  (let ((claim (slot-value s 'claim)))
    (when claim
      (close-claimed claim))))

(defmethod transport-describe ((s socket-stream) out)
  (format out "fd ~D" (slot-value s 'fd)))
