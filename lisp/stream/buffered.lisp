;;;; SPDX-License-Identifier: MIT
;;;; buffered.lisp - the buffered bivalent Gray stream over a transport.
;;;;
;;;; One input and one output buffer of octets; characters are decoded and
;;;; encoded at the boundary (UTF-8 by utf-8.lisp, or Latin-1), so bytes
;;;; and characters mix freely.  A transport is a subclass that moves
;;;; bytes without ever waiting: TRANSPORT-RECEIVE and TRANSPORT-SEND
;;;; answer a count, or :READ / :WRITE for "would block until the fd is
;;;; readable / writable".  All waiting is here, in poll, bounded by the
;;;; stream's timeout.  The transport is called once per buffer, never per
;;;; byte: the per-byte paths touch only the buffer structure and cons
;;;; nothing.  A closed stream has empty buffers with no room, so its
;;;; per-byte paths fall into the slow path, which says it is closed.

(in-package #:epsilon.linux.stream)

(defstruct (stream-buffer (:constructor make-stream-buffer (ibuf obuf latin-1))
                          (:conc-name sb-)
                          (:copier nil) (:predicate nil))
  (ibuf nil :type octets)
  (ipos 0 :type fixnum)
  (ilimit 0 :type fixnum)
  ;; Bytes the last READ-CHAR took, for UNREAD-CHAR (0: nothing to unread).
  (last 0 :type fixnum)
  (obuf nil :type octets)
  (opos 0 :type fixnum)
  ;; The usable length of OBUF: its length while open, 0 once closed.
  (olimit (length obuf) :type fixnum)
  (latin-1 nil :type boolean)
  (column 0 :type fixnum)
  (line (make-string 128) :type (simple-array character (*)))
  (started nil :type boolean)
  (open t :type boolean))

(defclass buffered-stream (sb-gray:fundamental-binary-input-stream
                           sb-gray:fundamental-binary-output-stream
                           sb-gray:fundamental-character-input-stream
                           sb-gray:fundamental-character-output-stream)
  ((buffer :reader stream-buffer)
   (external-format :initarg :external-format :reader stream-format)
   (element-type :initarg :element-type)
   (timeout :initarg :timeout :initform nil :reader stream-timeout))
  (:documentation "The buffered bivalent stream over a transport; see the
TRANSPORT-... generic functions.  Not safe for use by two threads at once."))

(defmethod initialize-instance :after ((s buffered-stream) &key (buffer-size 65536))
  (setf (slot-value s 'buffer)
        (make-stream-buffer (make-array buffer-size :element-type '(unsigned-byte 8))
                            (make-array buffer-size :element-type '(unsigned-byte 8))
                            (eq (slot-value s 'external-format) :latin-1))))

;;; The transport protocol

(defgeneric transport-receive (stream buffer start end)
  (:documentation "Receive into BUFFER[START,END) without waiting: the count
(> 0), 0 at the end of the input, or :READ / :WRITE when the transport must
wait for its fd to be readable / writable first.  Signals the library's
condition on failure."))

(defgeneric transport-send (stream buffer start end)
  (:documentation "Send from BUFFER[START,END) without waiting: the count
sent (> 0), or :READ / :WRITE as for TRANSPORT-RECEIVE.  A retry after
:READ / :WRITE offers the same bytes again."))

(defgeneric transport-start (stream)
  (:documentation "Make progress on what the transport needs before its
first byte (a TLS handshake) without waiting: T when done, else :READ or
:WRITE.  Called until it answers T.")
  (:method ((s buffered-stream)) t))

(defgeneric transport-fd (stream)
  (:documentation "The fd the stream waits on."))

(defgeneric transport-error-class (stream)
  (:documentation "The root condition class of the transport's failures
(SOCKET-ERROR, TLS-ERROR): a wait that times out signals its timeout."))

(defgeneric transport-close (stream abort)
  (:documentation "Release what the transport owns, after the output was
sent (unless ABORT)."))

(defgeneric transport-usable-p (stream)
  (:documentation "False when the transport can move no more bytes (a
freed TLS connection): CLOSE then drops the buffered output instead of
signalling.")
  (:method ((s buffered-stream)) t))

(defgeneric transport-describe (stream out)
  (:documentation "Print what the stream runs over to OUT, for PRINT-OBJECT."))

(defgeneric call-with-transport-lock (stream direction deadline function)
  (:documentation "Call FUNCTION holding what the transport locks for one
DIRECTION of I/O (:READ or :WRITE, waits included; :START for one attempt
of TRANSPORT-START), acquired no later than DEADLINE.")
  (:method ((s buffered-stream) direction deadline function)
    (declare (ignore direction deadline))
    (funcall (the function function))))

;;; Arguments

(defun parse-external-format (designator)
  "The encoding named by DESIGNATOR: :UTF-8 or :LATIN-1; a TYPE-ERROR for
anything else."
  (case designator
    ((:utf-8 :utf8) :utf-8)
    ((:latin-1 :latin1 :iso-8859-1) :latin-1)
    (t (error 'type-error :datum designator
                          :expected-type '(member :utf-8 :utf8 :latin-1 :latin1 :iso-8859-1)))))

(defun parse-element-type (type)
  "What STREAM-ELEMENT-TYPE answers for TYPE: CHARACTER for :DEFAULT or a
character type, (UNSIGNED-BYTE 8) for itself; a TYPE-ERROR otherwise."
  (cond ((equal type '(unsigned-byte 8)) '(unsigned-byte 8))
        ((or (eq type :default)
             (and (symbolp type) (subtypep type 'character)))
         'character)
        (t (error 'type-error :datum type
                              :expected-type '(member character (unsigned-byte 8) :default)))))

(defun check-bounds (sequence start end)
  "END (NIL: the length of SEQUENCE) after checking START and END."
  (let ((length (length sequence)))
    (unless (typep end `(or null (integer 0 ,length)))
      (error 'type-error :datum end :expected-type `(integer 0 ,length)))
    (let ((end (or end length)))
      (unless (typep start `(integer 0 ,end))
        (error 'type-error :datum start :expected-type `(integer 0 ,end)))
      end)))

;;; Moving bytes: the slow paths, once per buffer

(defun closed (s)
  (error 'stream-closed-error :stream s))

(defun await (s want deadline operation)
  (wait-until-ready (transport-fd s) (if (eq want :write) +pollout+ +pollin+)
                    deadline operation (transport-error-class s)))

(defun start (s b deadline operation no-hang)
  "Run the transport's start (handshake) to its end; NIL when NO-HANG and
it must wait."
  (declare (type stream-buffer b))
  (flet ((attempt () (transport-start s)))
    (declare (dynamic-extent #'attempt))
    (loop for r = (call-with-transport-lock s :start deadline #'attempt)
          until (eq r t)
          do (if no-hang
                 (return-from start nil)
                 (await s r deadline operation))))
  (setf (sb-started b) t))

(defun receive (s buffer start end no-hang operation)
  "Receive into BUFFER[START,END): the count (> 0), 0 at the end of the
input, :WOULD-BLOCK when NO-HANG and nothing is there now."
  (declare (type octets buffer) (type fixnum start end))
  (let ((b (stream-buffer s)))
    (unless (sb-open b) (closed s))
    (with-stream-errors (s)
      (let ((deadline (deadline (stream-timeout s))))
        (if (and (not (sb-started b)) (not (start s b deadline operation no-hang)))
            :would-block
            (flet ((attempt ()
                     (loop
                       (let ((r (transport-receive s buffer start end)))
                         (cond ((integerp r) (return r))
                               (no-hang (return :would-block))
                               (t (await s r deadline operation)))))))
              (declare (dynamic-extent #'attempt))
              (call-with-transport-lock s :read deadline #'attempt)))))))

(defun fill-input (s no-hang)
  "Read more bytes into the input buffer after the unread ones (moved to
the front): T when some came, NIL at the end of the input, :WOULD-BLOCK
when NO-HANG and nothing is there now."
  (let* ((b (stream-buffer s))
         (ibuf (sb-ibuf b))
         (ipos (sb-ipos b)))
    (when (plusp ipos)
      (let ((ilimit (sb-ilimit b)))
        (replace ibuf ibuf :start2 ipos :end2 ilimit)
        (setf (sb-ilimit b) (- ilimit ipos) (sb-ipos b) 0)))
    (let ((r (receive s ibuf (sb-ilimit b) (length ibuf) no-hang 'stream-read)))
      (cond ((eq r :would-block) :would-block)
            ((zerop r) nil)
            (t (incf (sb-ilimit b) r) t)))))

(defun send-all (s buffer start end operation)
  "Send BUFFER[START,END), waiting as needed.  When BUFFER is the output
buffer, what was not sent stays in it (at its front) even when a failure
interrupts: nothing is sent twice or dropped unsaid."
  (declare (type octets buffer) (type fixnum start end))
  (let* ((b (stream-buffer s))
         (pos start))
    (declare (type fixnum pos))
    (unless (sb-open b) (closed s))
    (unwind-protect
         (with-stream-errors (s)
           (let ((deadline (deadline (stream-timeout s))))
             (unless (sb-started b) (start s b deadline operation nil))
             (flet ((attempt ()
                      (loop while (< pos end)
                            do (let ((r (transport-send s buffer pos end)))
                                 (if (integerp r)
                                     (incf pos r)
                                     (await s r deadline operation))))))
               (declare (dynamic-extent #'attempt))
               (call-with-transport-lock s :write deadline #'attempt))))
      (when (eq buffer (sb-obuf b))
        (replace buffer buffer :start2 pos :end2 end)
        (setf (sb-opos b) (- end pos)))))
  nil)

(defun flush (s)
  "Send the buffered output.  Signals STREAM-CLOSED-ERROR on a closed stream."
  (let ((b (stream-buffer s)))
    (unless (sb-open b) (closed s))
    (when (plusp (sb-opos b))
      (send-all s (sb-obuf b) 0 (sb-opos b) 'stream-write))))

;;; Input

(defmethod sb-gray:stream-read-byte ((s buffered-stream))
  (let ((b (stream-buffer s)))
    (setf (sb-last b) 0)
    (loop
      (let ((pos (sb-ipos b)))
        (when (< pos (sb-ilimit b))
          (setf (sb-ipos b) (1+ pos))
          (return (aref (sb-ibuf b) pos)))
        (unless (fill-input s nil)
          (return :eof))))))

(defun decode-char (s b no-hang)
  "Decode the next character: a character, :EOF, or NIL when NO-HANG and
it is not all there yet (nothing is consumed then)."
  (declare (type stream-buffer b))
  (loop
    (when (>= (sb-ipos b) (sb-ilimit b))
      (let ((r (fill-input s no-hang)))
        (case r
          ((nil) (return :eof))
          (:would-block (return nil)))))
    (let* ((ibuf (sb-ibuf b))
           (pos (sb-ipos b))
           (limit (sb-ilimit b)))
      (if (sb-latin-1 b)
          (progn (setf (sb-ipos b) (1+ pos) (sb-last b) 1)
                 (return (code-char (aref ibuf pos))))
          (multiple-value-bind (code size) (utf-8-decode ibuf pos limit)
            (declare (type fixnum size))
            (if code
                (progn (setf (sb-ipos b) (+ pos size) (sb-last b) size)
                       (return (code-char code)))
                (case (fill-input s no-hang)
                  ;; A sequence cut short by the end of the input: one
                  ;; replacement for its well-formed prefix.
                  ((nil) (let ((pos (sb-ipos b)) (limit (sb-ilimit b)))
                           (setf (sb-ipos b) limit (sb-last b) (- limit pos)))
                   (return (code-char +replacement+)))
                  (:would-block (return nil)))))))))

(defmethod sb-gray:stream-read-char ((s buffered-stream))
  (let* ((b (stream-buffer s))
         (pos (sb-ipos b)))
    (if (< pos (sb-ilimit b))
        (let ((byte (aref (sb-ibuf b) pos)))
          (if (or (< byte #x80) (sb-latin-1 b))
              (progn (setf (sb-ipos b) (1+ pos) (sb-last b) 1)
                     (code-char byte))
              (decode-char s b nil)))
        (decode-char s b nil))))

(defmethod sb-gray:stream-unread-char ((s buffered-stream) character)
  (declare (ignore character))
  (let ((b (stream-buffer s)))
    (decf (sb-ipos b) (sb-last b))
    (setf (sb-last b) 0))
  nil)

(defmethod sb-gray:stream-read-char-no-hang ((s buffered-stream))
  (decode-char s (stream-buffer s) t))

(defmethod sb-gray:stream-listen ((s buffered-stream))
  (let ((b (stream-buffer s)))
    (or (< (sb-ipos b) (sb-ilimit b))
        (eq t (fill-input s t)))))

(defmethod sb-gray:stream-clear-input ((s buffered-stream))
  (let ((b (stream-buffer s)))
    (setf (sb-ipos b) 0 (sb-ilimit b) 0 (sb-last b) 0))
  nil)

(defmethod sb-gray:stream-read-line ((s buffered-stream))
  (let ((b (stream-buffer s))
        (n 0))
    (declare (type fixnum n))
    (setf (sb-last b) 0)
    (flet ((put (char)
             (let ((line (sb-line b)))
               (when (= n (length line))
                 (setf line (replace (make-string (* 2 n)) line)
                       (sb-line b) line))
               (setf (schar line n) char)
               (incf n)))
           (done (missing-newline-p)
             (return-from sb-gray:stream-read-line
               (values (subseq (sb-line b) 0 n) missing-newline-p))))
      (declare (inline put))
      (loop
        ;; Single-byte characters straight from the buffer.
        (let ((ibuf (sb-ibuf b))
              (pos (sb-ipos b))
              (limit (sb-ilimit b))
              (latin-1 (sb-latin-1 b)))
          (declare (type fixnum pos limit))
          (loop while (< pos limit)
                do (let ((byte (aref ibuf pos)))
                     (cond ((= byte 10)
                            (setf (sb-ipos b) (1+ pos))
                            (done nil))
                           ((or (< byte #x80) latin-1)
                            (put (code-char byte))
                            (incf pos))
                           (t (return)))))
          (setf (sb-ipos b) pos))
        (let ((c (decode-char s b nil)))
          (cond ((eq c :eof) (done t))
                ((char= c #\Newline) (done nil))
                (t (put c))))))))

(defmethod sb-gray:stream-read-sequence ((s buffered-stream) seq &optional (start 0) end)
  (let ((end (check-bounds seq start end))
        (b (stream-buffer s)))
    (declare (type fixnum end))
    (setf (sb-last b) 0)
    (typecase seq
      ((vector (unsigned-byte 8))
       (let ((i start))
         (declare (type fixnum i))
         (loop while (< i end)
               do (let ((buffered (- (sb-ilimit b) (sb-ipos b))))
                    (cond ((plusp buffered)
                           (let ((n (min buffered (- end i))))
                             (replace seq (sb-ibuf b) :start1 i :start2 (sb-ipos b)
                                                      :end2 (+ (sb-ipos b) n))
                             (incf (sb-ipos b) n)
                             (incf i n)))
                          ((and (typep seq 'octets) (>= (- end i) (length (sb-ibuf b))))
                           ;; A large read goes straight into the caller's vector.
                           (let ((n (receive s seq i end nil 'stream-read)))
                             (if (zerop n) (return) (incf i n))))
                          ((not (fill-input s nil)) (return)))))
         i))
      (string
       (loop for i from start below end
             for c = (sb-gray:stream-read-char s)
             when (eq c :eof) return i
               do (setf (char seq i) c)
             finally (return end)))
      (t
       (loop for i from start below end
             for item = (if (characterp (elt seq i))
                            (sb-gray:stream-read-char s)
                            (sb-gray:stream-read-byte s))
             when (eq item :eof) return i
               do (setf (elt seq i) item)
             finally (return end))))))

;;; Output

(defmethod sb-gray:stream-write-byte ((s buffered-stream) integer)
  (check-type integer (unsigned-byte 8))
  (let* ((b (stream-buffer s))
         (pos (sb-opos b)))
    (when (>= pos (sb-olimit b))
      (flush s)
      (setf pos (sb-opos b)))
    (setf (aref (sb-obuf b) pos) integer
          (sb-opos b) (1+ pos)))
  integer)

(declaim (inline put-char))
(defun put-char (s b char)
  (declare (type stream-buffer b) (type character char))
  (let* ((code (char-code char))
         (one (or (< code #x80) (sb-latin-1 b)))
         (pos (sb-opos b)))
    (declare (type fixnum pos))
    (when (> (+ pos (if one 1 4)) (sb-olimit b))
      (flush s)
      (setf pos (sb-opos b)))
    (let ((obuf (sb-obuf b)))
      (setf (sb-opos b)
            (if one
                (progn (setf (aref obuf pos) (if (< code 256) code 63))
                       (1+ pos))
                (utf-8-encode code obuf pos))))
    (setf (sb-column b) (if (eql code 10) 0 (1+ (sb-column b))))))

(defmethod sb-gray:stream-write-char ((s buffered-stream) character)
  (put-char s (stream-buffer s) character)
  character)

(defmethod sb-gray:stream-write-string ((s buffered-stream) string &optional (start 0) end)
  (let ((end (check-bounds string start end))
        (b (stream-buffer s)))
    (unless (sb-open b) (closed s))
    (loop for i from start below end
          do (put-char s b (char string i))))
  string)

(defmethod sb-gray:stream-write-sequence ((s buffered-stream) seq &optional (start 0) end)
  (let ((end (check-bounds seq start end))
        (b (stream-buffer s)))
    (declare (type fixnum end))
    (unless (sb-open b) (closed s))
    (typecase seq
      (string (sb-gray:stream-write-string s seq start end))
      ((vector (unsigned-byte 8))
       (if (and (typep seq 'octets) (>= (- end start) (length (sb-obuf b))))
           ;; A large write goes straight from the caller's vector.
           (progn (flush s)
                  (send-all s seq start end 'stream-write))
           (loop with i of-type fixnum = start
                 while (< i end)
                 do (when (>= (sb-opos b) (sb-olimit b))
                      (flush s))
                    (let* ((pos (sb-opos b))
                           (n (min (- end i) (- (sb-olimit b) pos))))
                      (replace (sb-obuf b) seq :start1 pos :start2 i :end2 (+ i n))
                      (setf (sb-opos b) (+ pos n))
                      (incf i n)))))
      (t (loop for i from start below end
               for element = (elt seq i)
               do (if (characterp element)
                      (put-char s b element)
                      (sb-gray:stream-write-byte s element))))))
  seq)

(defmethod sb-gray:stream-line-column ((s buffered-stream))
  (sb-column (stream-buffer s)))

(defmethod sb-gray:stream-force-output ((s buffered-stream))
  (flush s)
  nil)

(defmethod sb-gray:stream-finish-output ((s buffered-stream))
  (flush s)
  nil)

(defmethod sb-gray:stream-clear-output ((s buffered-stream))
  (setf (sb-opos (stream-buffer s)) 0)
  nil)

;;; What the stream is

(defmethod stream-element-type ((s buffered-stream))
  (slot-value s 'element-type))

(defmethod print-object ((s buffered-stream) out)
  (print-unreadable-object (s out :type t :identity t)
    (transport-describe s out)
    (format out " ~(~A~) ~:[closed~;open~]" (stream-format s) (sb-open (stream-buffer s)))))

;;; CL:STREAM-EXTERNAL-FORMAT is an ordinary function in SBCL that
;;; signals for every Gray stream; there is no generic function to add a
;;; method to.  An encapsulation answers for these streams only and passes
;;; every other stream through unchanged.
;;; (Once: encapsulating again under the same name would keep the first.)
(unless (sb-int:encapsulated-p 'stream-external-format 'epsilon-linux-streams)
  (sb-int:encapsulate 'stream-external-format 'epsilon-linux-streams
                      (lambda (function stream)
                        (if (typep stream 'buffered-stream)
                            (stream-format stream)
                            (funcall function stream)))))

(defmethod close ((s buffered-stream) &key abort)
  (let ((b (stream-buffer s)))
    (when (sb-open b)
      (unwind-protect
           (unless (or abort (not (transport-usable-p s)))
             (flush s))
        (setf (sb-open b) nil
              (sb-olimit b) 0 (sb-opos b) 0
              (sb-ipos b) 0 (sb-ilimit b) 0 (sb-last b) 0)
        (unwind-protect (transport-close s abort)
          (call-next-method)))))
  t)
