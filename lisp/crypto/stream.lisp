;;;; stream.lisp - bivalent Gray streams over a TLS connection.
;;;;
;;;; One input and one output buffer of octets; characters are encoded
;;;; (UTF-8 or Latin-1) at the boundary, so bytes and characters mix freely.
;;;; Reads wait for the socket in Lisp whatever the fd's mode (the stream
;;;; is a blocking stream), bounded by the stream's timeout.

(in-package #:epsilon.crypto)

(defconstant +stream-buffer-size+ 16384
  "The size of a TLS stream's input and output buffers (one TLS record).")

(deftype octets () '(simple-array (unsigned-byte 8) (*)))

(defclass tls-stream (sb-gray:fundamental-binary-input-stream
                      sb-gray:fundamental-binary-output-stream
                      sb-gray:fundamental-character-input-stream
                      sb-gray:fundamental-character-output-stream)
  ((connection :initarg :connection :reader tls-stream-connection
               :documentation "The TLS-CONNECTION the stream reads and writes.")
   (external-format :initarg :external-format :reader tls-stream-external-format
                    :documentation ":UTF-8 or :LATIN-1.")
   (element-type :initarg :element-type)
   (close-connection :initarg :close-connection)
   (timeout :initarg :timeout)
   (in :initform (make-array +stream-buffer-size+ :element-type '(unsigned-byte 8))
       :type octets)
   (in-pos :initform 0 :type fixnum)
   (in-end :initform 0 :type fixnum)
   (last-char-size :initform 0 :type fixnum)
   (line :initform (make-array 256 :element-type '(unsigned-byte 8)) :type octets)
   (out :initform (make-array +stream-buffer-size+ :element-type '(unsigned-byte 8))
        :type octets)
   (out-end :initform 0 :type fixnum)
   (column :initform 0 :type (or null fixnum))
   (handshaken :initform nil))
  (:documentation
   "A bivalent Gray stream over a TLS connection, made by MAKE-TLS-STREAM:
READ-BYTE, WRITE-BYTE, READ-CHAR, READ-LINE, WRITE-STRING, READ-SEQUENCE,
WRITE-SEQUENCE, FORCE-OUTPUT, FINISH-OUTPUT and CLOSE work on it.  Not safe
for use by two threads at once."))

(setf (documentation 'tls-stream-connection 'function)
      "The TLS-CONNECTION under the TLS-STREAM STREAM."
      (documentation 'tls-stream-external-format 'function)
      "The external format of the TLS-STREAM STREAM: :UTF-8 or :LATIN-1.")

(defmethod print-object ((s tls-stream) stream)
  (print-unreadable-object (s stream :type t :identity t)
    (format stream "~(~A~)~:[ closed~;~]" (slot-value s 'external-format)
            (open-stream-p s))))

(defun make-tls-stream (conn &key (external-format :utf-8) (element-type 'character)
                               close-connection (timeout (tls-connection-timeout conn)))
  "Make a bivalent Gray stream (a TLS-STREAM) over the TLS connection CONN:
bytes with READ-BYTE / WRITE-BYTE and octet vectors, characters with
READ-CHAR, READ-LINE, FORMAT and strings, mixed freely.  EXTERNAL-FORMAT is
:UTF-8 (the default; malformed input reads as #\\REPLACEMENT_CHARACTER) or
:LATIN-1 (characters above 255 are written as #\\?).  ELEMENT-TYPE
(CHARACTER, the default, or (UNSIGNED-BYTE 8)) is what STREAM-ELEMENT-TYPE
reports; both kinds of element work either way.  Output is buffered: call
FORCE-OUTPUT or FINISH-OUTPUT to send it.  Reads wait for the socket
whatever the fd's mode, up to TIMEOUT seconds each (NIL: no limit; default:
the connection's), then signal TLS-TIMEOUT.  READ-LINE leaves a carriage
return before the newline in the line.  The end of the input (EOF) is the
peer's close_notify; a peer that closes its socket without it signals
TLS-UNEXPECTED-EOF.  CLOSE sends what is buffered, then close_notify (as a
best effort, once, without waiting), and frees CONN when CLOSE-CONNECTION
is true; (CLOSE STREAM :ABORT T) drops the buffered output and sends no
close_notify, so the peer sees the output cut short.  The fd always stays
with its owner."
  (check-type conn tls-connection)
  (check-type external-format (member :utf-8 :latin-1 :iso-8859-1))
  (unless (or (eq element-type :default)
              (equal element-type '(unsigned-byte 8))
              (and (symbolp element-type) (subtypep element-type 'character)))
    (error 'type-error :datum element-type
                       :expected-type '(member character (unsigned-byte 8) :default)))
  (check-type timeout (or null (real 0)))
  (unless (plusp (tls-connection-handle conn))
    (freed-error "connection" 'make-tls-stream))
  (make-instance 'tls-stream :connection conn
                             :external-format (if (eq external-format :utf-8) :utf-8 :latin-1)
                             :element-type (if (equal element-type '(unsigned-byte 8))
                                               '(unsigned-byte 8)
                                               'character)
                             :close-connection (and close-connection t)
                             :timeout timeout))

(defmacro with-tls-stream ((stream conn &rest options
                            &key external-format element-type close-connection timeout)
                           &body body)
  "Bind STREAM to a TLS-STREAM over CONN made by MAKE-TLS-STREAM with
OPTIONS, run BODY, and close the stream on every exit (with :ABORT T when
BODY did not return normally).  Returns BODY's values."
  (declare (ignore external-format element-type close-connection timeout))
  (let ((ok (gensym "OK")))
    `(let ((,stream (make-tls-stream ,conn ,@options))
           (,ok nil))
       (unwind-protect (multiple-value-prog1 (progn ,@body) (setf ,ok t))
         (close ,stream :abort (not ,ok))))))

(defun check-open (s operation)
  (unless (open-stream-p s)
    (error 'stream-error :stream s))
  (unless (plusp (tls-connection-handle (slot-value s 'connection)))
    (freed-error "connection" operation)))

;;; Input

(defun ensure-handshake (s)
  "Complete the handshake of S's connection before its first read or
write, waiting for the direction it asks for (a non-blocking fd returns
instead of waiting)."
  (unless (slot-value s 'handshaken)
    (let* ((conn (slot-value s 'connection))
           (timeout (slot-value s 'timeout))
           (deadline (deadline timeout)))
      (loop
        (multiple-value-bind (done direction) (tls-handshake conn :timeout timeout)
          (when done (return))
          (wait-until-ready (tls-connection-fd conn)
                            (if (eq direction :read) +pollin+ +pollout+)
                            deadline 'tls-handshake 'tls-error))))
    (setf (slot-value s 'handshaken) t)))

(defun stream-receive (s start end no-hang)
  "Read decrypted bytes of the stream S's connection into its input buffer
between START and END.  Returns the count (> 0), 0 at the peer's
close_notify, or NIL when NO-HANG and nothing is there now."
  (declare (type fixnum start end))
  (let* ((conn (slot-value s 'connection))
         (buffer (slot-value s 'in))
         (fd (tls-connection-fd conn))
         (deadline (deadline (slot-value s 'timeout))))
    (declare (type octets buffer))
    (with-direction-lock ((tls-connection-read-lock conn) deadline 'read)
      (loop
        (let ((r (with-shim
                   (sb-sys:with-pinned-objects (buffer)
                     (%eps-tls-connection-read
                      (tls-connection-handle conn)
                      (sb-sys:sap+ (sb-sys:vector-sap buffer) start) (- end start))))))
          (when (>= r 0)
            (return r))
          (with-want-retry (conn r fd no-hang deadline 'read)
            :on-would-block (return nil)))))))

(defun fill-input (s &optional no-hang)
  "Read more bytes into S's input buffer, keeping the unread ones.  Returns
T when bytes were added, NIL at the end of the input, :WOULD-BLOCK when
NO-HANG and nothing is there."
  (check-open s 'read)
  (ensure-handshake s)
  (with-slots (in in-pos in-end) s
    (declare (type octets in) (type fixnum in-pos in-end))
    (when (plusp in-pos)
      (replace in in :start2 in-pos :end2 in-end)
      (setf in-end (- in-end in-pos) in-pos 0))
    (let ((n (stream-receive s in-end (length in) no-hang)))
      (cond ((null n) :would-block)
            ((zerop n) nil)
            (t (incf in-end n) t)))))

(defmethod sb-gray:stream-read-byte ((s tls-stream))
  (with-slots (in in-pos in-end last-char-size) s
    (declare (type octets in) (type fixnum in-pos in-end))
    (setf last-char-size 0)
    (when (and (>= in-pos in-end) (not (fill-input s)))
      (return-from sb-gray:stream-read-byte :eof))
    (prog1 (aref in in-pos) (incf in-pos))))

(declaim (inline utf-8-length))
(defun utf-8-length (b0)
  "The length of the UTF-8 sequence starting with the byte B0 (1 for a
byte that starts none)."
  (cond ((< b0 #x80) 1)
        ((= (logand b0 #xE0) #xC0) 2)
        ((= (logand b0 #xF0) #xE0) 3)
        ((= (logand b0 #xF8) #xF0) 4)
        (t 1)))

(defun decode-char (s)
  "Decode one character at S's input position (at least one byte is
buffered), consuming its bytes; #\\REPLACEMENT_CHARACTER for a malformed
sequence (one byte consumed)."
  (with-slots (in in-pos in-end external-format last-char-size) s
    (declare (type octets in) (type fixnum in-pos in-end))
    (let ((b0 (aref in in-pos)))
      (when (or (< b0 #x80) (eq external-format :latin-1))
        (incf in-pos)
        (setf last-char-size 1)
        (return-from decode-char (code-char b0)))
      (let ((n (utf-8-length b0)))
        (loop while (and (< (- in-end in-pos) n) (fill-input s)))
        ;; BAD counts the bytes a malformed sequence consumes: the lead and
        ;; the continuation bytes that follow it (one replacement for a
        ;; truncated sequence, as SBCL's decoder and READ-LINE do).
        (let* ((bad 1)
               (code (and (> n 1)
                          (loop with code = (logand b0 (ash #xFF (- (1+ n))))
                                for i from 1 below n
                                for b = (if (< (+ in-pos i) in-end) (aref in (+ in-pos i)) 0)
                                unless (= (logand b #xC0) #x80)
                                  do (setf bad i) (return nil)
                                do (setf code (logior (ash code 6) (logand b #x3F)))
                                finally (return code)))))
          (if (and code
                   (>= code (aref #(0 0 #x80 #x800 #x10000) n))
                   (< code #x110000)
                   (not (<= #xD800 code #xDFFF)))
              (progn (incf in-pos n) (setf last-char-size n) (code-char code))
              (progn (incf in-pos bad) (setf last-char-size bad) (code-char #xFFFD))))))))

(defmethod sb-gray:stream-read-char ((s tls-stream))
  (with-slots (in-pos in-end) s
    (declare (type fixnum in-pos in-end))
    (if (and (>= in-pos in-end) (not (fill-input s)))
        :eof
        (decode-char s))))

(defmethod sb-gray:stream-unread-char ((s tls-stream) character)
  (declare (ignore character))
  (with-slots (in-pos last-char-size) s
    (declare (type fixnum in-pos last-char-size))
    (decf in-pos last-char-size)
    (setf last-char-size 0))
  nil)

(defmethod sb-gray:stream-read-char-no-hang ((s tls-stream))
  (with-slots (in-pos in-end) s
    (declare (type fixnum in-pos in-end))
    (if (< in-pos in-end)
        (decode-char s)
        (let ((r (fill-input s t)))
          (cond ((eq r :would-block) nil)
                ((null r) :eof)
                (t (decode-char s)))))))

(defmethod sb-gray:stream-listen ((s tls-stream))
  (with-slots (in-pos in-end) s
    (or (< in-pos in-end)
        (eq t (fill-input s t)))))

(defmethod sb-gray:stream-clear-input ((s tls-stream))
  (with-slots (in-pos in-end last-char-size) s
    (setf in-pos 0 in-end 0 last-char-size 0))
  nil)

(defun line-octets (s count)
  "S's line scratch buffer, grown to hold at least COUNT octets."
  (with-slots (line) s
    (when (< (length line) count)
      (setf line (replace (make-array (max count (* 2 (length line)))
                                      :element-type '(unsigned-byte 8))
                          line)))
    line))

(defun decode-octets (s octets start end)
  (sb-ext:octets-to-string octets :start start :end end
                                  :external-format
                                  (if (eq (slot-value s 'external-format) :utf-8)
                                      '(:utf-8 :replacement #\REPLACEMENT_CHARACTER)
                                      :latin-1)))

(defmethod sb-gray:stream-read-line ((s tls-stream))
  (with-slots (in in-pos in-end last-char-size) s
    (declare (type octets in) (type fixnum in-pos in-end))
    (setf last-char-size 0)
    (let ((held 0))
      (declare (type fixnum held))
      (loop
        (let ((nl (position 10 in :start in-pos :end in-end)))
          (when (and nl (zerop held))
            (return (multiple-value-prog1 (values (decode-octets s in in-pos nl) nil)
                      (setf in-pos (1+ nl)))))
          (let* ((stop (or nl in-end))
                 (line (line-octets s (+ held (- stop in-pos)))))
            (replace line in :start1 held :start2 in-pos :end2 stop)
            (incf held (- stop in-pos))
            (setf in-pos (if nl (1+ nl) stop))
            (when nl
              (return (values (decode-octets s line 0 held) nil)))
            (unless (fill-input s)
              (return (values (decode-octets s line 0 held) t)))))))))

(defmethod sb-gray:stream-read-sequence ((s tls-stream) seq &optional (start 0) end)
  (let ((end (or end (length seq))))
    (with-slots (in in-pos in-end last-char-size) s
      (declare (type octets in) (type fixnum in-pos in-end))
      (setf last-char-size 0)
      (typecase seq
        (string
         (loop for i from start below end
               for c = (sb-gray:stream-read-char s)
               when (eq c :eof) return i
                 do (setf (char seq i) c)
               finally (return end)))
        ((vector (unsigned-byte 8))
         (let ((i start))
           (loop while (< i end)
                 do (when (and (>= in-pos in-end) (not (fill-input s)))
                      (return))
                    (let ((n (min (- end i) (- in-end in-pos))))
                      (replace seq in :start1 i :start2 in-pos :end2 (+ in-pos n))
                      (incf i n)
                      (incf in-pos n)))
           i))
        (t
         (loop for i from start below end
               for element = (elt seq i)
               for item = (if (characterp element)
                              (sb-gray:stream-read-char s)
                              (sb-gray:stream-read-byte s))
               when (eq item :eof) return i
                 do (setf (elt seq i) item)
               finally (return end)))))))

;;; Output

(defun flush-output (s)
  "Send S's buffered output, waiting for the socket as needed."
  (with-slots (out out-end connection timeout) s
    (declare (type octets out) (type fixnum out-end))
    (when (plusp out-end)
      (check-open s 'write)
      (ensure-handshake s)
      (let ((pos 0)
            (deadline (deadline timeout)))
        (declare (type fixnum pos))
        (loop while (< pos out-end)
              do (let ((n (tls-send connection out :start pos :end out-end :timeout timeout)))
                   (if (and n (plusp n))
                       (incf pos n)
                       (wait-until-ready (tls-connection-fd connection) +pollout+
                                         deadline 'write 'tls-error))))
        (setf out-end 0))))
  nil)

(declaim (inline out-room))
(defun out-room (s count)
  "Make room for COUNT more octets in S's output buffer; return the
position to store them at."
  (when (> (+ (the fixnum (slot-value s 'out-end)) count) +stream-buffer-size+)
    (flush-output s))
  (slot-value s 'out-end))

(defmethod sb-gray:stream-write-byte ((s tls-stream) integer)
  (check-type integer (unsigned-byte 8))
  (check-open s 'write-byte)
  (let ((pos (out-room s 1)))
    (setf (aref (the octets (slot-value s 'out)) pos) integer
          (slot-value s 'out-end) (1+ pos)))
  integer)

(defun encode-char (s char)
  "Append CHAR, encoded, to S's output buffer."
  (let* ((code (char-code char))
         (pos (out-room s 4))
         (out (slot-value s 'out)))
    (declare (type octets out) (type fixnum pos))
    (cond ((< code #x80) (setf (aref out pos) code) (incf pos))
          ((eq (slot-value s 'external-format) :latin-1)
           (setf (aref out pos) (if (< code 256) code 63)) (incf pos))
          ((< code #x800)
           (setf (aref out pos) (logior #xC0 (ash code -6))
                 (aref out (+ pos 1)) (logior #x80 (logand code #x3F)))
           (incf pos 2))
          ((< code #x10000)
           (setf (aref out pos) (logior #xE0 (ash code -12))
                 (aref out (+ pos 1)) (logior #x80 (logand (ash code -6) #x3F))
                 (aref out (+ pos 2)) (logior #x80 (logand code #x3F)))
           (incf pos 3))
          (t
           (setf (aref out pos) (logior #xF0 (ash code -18))
                 (aref out (+ pos 1)) (logior #x80 (logand (ash code -12) #x3F))
                 (aref out (+ pos 2)) (logior #x80 (logand (ash code -6) #x3F))
                 (aref out (+ pos 3)) (logior #x80 (logand code #x3F)))
           (incf pos 4)))
    (setf (slot-value s 'out-end) pos)
    (setf (slot-value s 'column)
          (if (char= char #\Newline) 0 (1+ (or (slot-value s 'column) 0))))))

(defmethod sb-gray:stream-write-char ((s tls-stream) character)
  (check-open s 'write-char)
  (encode-char s character)
  character)

(defmethod sb-gray:stream-write-string ((s tls-stream) string &optional (start 0) end)
  (check-open s 'write-string)
  (let ((end (check-range string start end)))
    (loop for i from start below end
          do (encode-char s (char string i))))
  string)

(defmethod sb-gray:stream-write-sequence ((s tls-stream) seq &optional (start 0) end)
  (check-open s 'write-sequence)
  (let ((end (check-range seq start end)))
    (typecase seq
      (string (sb-gray:stream-write-string s seq start end))
      ((vector (unsigned-byte 8))
       (loop with i = start
             while (< i end)
             do (let* ((pos (out-room s 1))
                       (n (min (- end i) (- +stream-buffer-size+ pos))))
                  (replace (the octets (slot-value s 'out)) seq
                           :start1 pos :start2 i :end2 (+ i n))
                  (setf (slot-value s 'out-end) (+ pos n))
                  (incf i n))))
      (t (loop for i from start below end
               for element = (elt seq i)
               do (if (characterp element)
                      (encode-char s element)
                      (sb-gray:stream-write-byte s element))))))
  seq)

(defmethod sb-gray:stream-line-column ((s tls-stream))
  (slot-value s 'column))

(defmethod sb-gray:stream-force-output ((s tls-stream))
  (flush-output s))

(defmethod sb-gray:stream-finish-output ((s tls-stream))
  (flush-output s))

(defmethod sb-gray:stream-clear-output ((s tls-stream))
  (setf (slot-value s 'out-end) 0)
  nil)

(defmethod stream-element-type ((s tls-stream))
  (slot-value s 'element-type))

(defmethod close ((s tls-stream) &key abort)
  (when (open-stream-p s)
    (let ((conn (slot-value s 'connection)))
      (unwind-protect
           (unless abort
             (when (plusp (tls-connection-handle conn))
               (flush-output s)))
        (unwind-protect
             (cond ((slot-value s 'close-connection)
                    (if abort
                        (tls-connection-free conn)
                        (release-tls-connection conn)))
                   ((not abort)
                    (handler-case
                        (let ((h (tls-connection-handle conn)))
                          (when (and (plusp h)
                                     (plusp (with-shim (%eps-tls-connection-version h))))
                            (sb-thread:with-mutex ((tls-connection-write-lock conn) :wait-p nil)
                              (with-shim (%eps-tls-connection-shutdown h)))))
                      (error () nil))))
          (setf (slot-value s 'out-end) 0)
          (call-next-method)))))
  t)
