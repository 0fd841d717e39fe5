;;;; stream.lisp - bivalent Gray streams over a socket.

(in-package #:epsilon.net.core.internal)

(defconstant +stream-buffer-size+ 65536)

(defclass socket-stream (sb-gray:fundamental-binary-input-stream
                         sb-gray:fundamental-binary-output-stream
                         sb-gray:fundamental-character-input-stream
                         sb-gray:fundamental-character-output-stream)
  ((fd :initarg :fd :reader socket-stream-fd)
   (close-fd :initarg :close-fd :initform t)
   (encoding :initarg :encoding :initform :utf-8)
   (element-type :initarg :element-type :initform 'character)
   (timeout :initarg :timeout :initform nil)
   (ibuf :initform (make-array +stream-buffer-size+ :element-type '(unsigned-byte 8)))
   (ipos :initform 0 :type fixnum)
   (ilimit :initform 0 :type fixnum)
   (last-char-length :initform 0 :type fixnum)
   (obuf :initform (make-array +stream-buffer-size+ :element-type '(unsigned-byte 8)))
   (opos :initform 0 :type fixnum)
   (column :initform 0))
  (:documentation "A bivalent (characters and octets) buffered stream over a
connected socket; made by MAKE-SOCKET-STREAM."))

(setf (documentation 'socket-stream-fd 'function)
      "The socket descriptor of a SOCKET-STREAM.")

(defun make-socket-stream (fd &key (external-format :utf-8) (element-type 'character)
                                   (close-fd t) timeout)
  "A bivalent buffered stream over connected socket FD: READ-CHAR, READ-LINE,
READ-BYTE, READ-SEQUENCE (into strings or octet vectors), WRITE-CHAR,
WRITE-STRING, WRITE-BYTE, WRITE-SEQUENCE, FORCE-OUTPUT and FINISH-OUTPUT
work on it whatever ELEMENT-TYPE (what STREAM-ELEMENT-TYPE answers) says.
EXTERNAL-FORMAT is :UTF-8 (the default; malformed input reads as U+FFFD)
or :LATIN-1.  Output is buffered: FORCE-OUTPUT sends it.  Reads and writes
always wait for the socket (even if FD is non-blocking), each wait up to
TIMEOUT seconds (NIL: no limit), then SOCKET-TIMEOUT.  CLOSE sends what is
buffered and closes FD unless CLOSE-FD is NIL."
  (check-type fd fd)
  (check-type timeout (or null (real 0)))
  (let ((encoding (case external-format
                    ((:utf-8 :utf8) :utf-8)
                    ((:latin-1 :latin1 :iso-8859-1) :latin-1)
                    (t (error 'type-error :datum external-format
                                          :expected-type '(member :utf-8 :latin-1))))))
    (make-instance 'socket-stream :fd fd :encoding encoding :element-type element-type
                                  :close-fd close-fd :timeout timeout)))

(defmethod stream-element-type ((s socket-stream))
  (slot-value s 'element-type))

(defun check-open (s)
  (unless (open-stream-p s)
    (error 'stream-error :stream s)))

;;; Input

(defun fill-input (s)
  "Read more bytes after the unread ones (moved to the front).  Returns NIL
at end of stream."
  (with-slots (fd ibuf ipos ilimit timeout) s
    (let ((left (- ilimit ipos)))
      (when (plusp ipos)
        (replace ibuf ibuf :start2 ipos :end2 ilimit)
        (setf ipos 0 ilimit left)))
    (let ((n (%recv fd ibuf ilimit (length ibuf) 0 (deadline timeout) nil 'stream-read)))
      (if (zerop n)
          nil
          (progn (incf ilimit n) t)))))

(defun ensure-bytes (s n)
  "Make N bytes available in the input buffer; NIL when end of stream came first."
  (with-slots (ipos ilimit) s
    (loop while (< (- ilimit ipos) n)
          do (unless (fill-input s) (return-from ensure-bytes nil)))
    t))

(defmethod sb-gray:stream-read-byte ((s socket-stream))
  (check-open s)
  (with-slots (ibuf ipos) s
    (if (ensure-bytes s 1)
        (prog1 (aref ibuf ipos) (incf ipos))
        :eof)))

(defun utf-8-length (byte)
  (cond ((< byte #x80) 1)
        ((<= #xc2 byte #xdf) 2)
        ((<= #xe0 byte #xef) 3)
        ((<= #xf0 byte #xf4) 4)
        (t 0)))

(defmethod sb-gray:stream-read-char ((s socket-stream))
  (check-open s)
  (with-slots (ibuf ipos ilimit encoding last-char-length) s
    (unless (ensure-bytes s 1)
      (return-from sb-gray:stream-read-char :eof))
    (let ((b0 (aref ibuf ipos)))
      (when (or (eq encoding :latin-1) (< b0 #x80))
        (incf ipos)
        (setf last-char-length 1)
        (return-from sb-gray:stream-read-char (code-char b0)))
      (let ((n (utf-8-length b0)))
        (flet ((bad ()
                 (incf ipos)
                 (setf last-char-length 1)
                 (return-from sb-gray:stream-read-char (code-char #xfffd))))
          (when (zerop n) (bad))
          (unless (ensure-bytes s n)
            (bad))
          (let ((code (logand b0 (ash #x7f (- n)))))
            (loop for i from 1 below n
                  for b = (aref ibuf (+ ipos i))
                  do (unless (= (logand b #xc0) #x80) (bad))
                     (setf code (logior (ash code 6) (logand b #x3f))))
            (when (or (> code #x10ffff)
                      (< code (ecase n (2 #x80) (3 #x800) (4 #x10000))))
              (bad))
            (incf ipos n)
            (setf last-char-length n)
            (code-char code)))))))

(defmethod sb-gray:stream-unread-char ((s socket-stream) char)
  (declare (ignore char))
  (with-slots (ipos last-char-length) s
    (decf ipos last-char-length)
    (setf last-char-length 0)
    nil))

(defmethod sb-gray:stream-read-char-no-hang ((s socket-stream))
  (check-open s)
  (with-slots (fd ibuf ipos ilimit) s
    (if (< ipos ilimit)
        (sb-gray:stream-read-char s)
        (progn
          (setf ipos 0 ilimit 0)
          (let ((n (%recv fd ibuf 0 (length ibuf) 0 nil t 'stream-read)))
            (cond ((null n) nil)
                  ((zerop n) :eof)
                  (t (setf ilimit n) (sb-gray:stream-read-char s))))))))

(defmethod sb-gray:stream-listen ((s socket-stream))
  (check-open s)
  (with-slots (fd ibuf ipos ilimit) s
    (or (< ipos ilimit)
        (let ((one (make-array 1 :element-type '(unsigned-byte 8))))
          (eql 1 (%recv fd one 0 1 +msg-peek+ nil t 'stream-listen))))))

(defmethod sb-gray:stream-read-line ((s socket-stream))
  (check-open s)
  (let ((line (make-string-output-stream)))
    (loop
      (let ((c (sb-gray:stream-read-char s)))
        (cond ((eq c :eof)
               (let ((text (get-output-stream-string line)))
                 (return (values text t))))
              ((char= c #\Newline)
               (return (values (get-output-stream-string line) nil)))
              (t (write-char c line)))))))

(defmethod sb-gray:stream-read-sequence ((s socket-stream) sequence &optional (start 0) end)
  (check-open s)
  (let ((end (or end (length sequence))))
    (with-slots (fd ibuf ipos ilimit timeout) s
      (if (typep sequence '(vector (unsigned-byte 8)))
          (let ((i start))
            (let ((n (min (- ilimit ipos) (- end i))))
              (replace sequence ibuf :start1 i :start2 ipos :end2 (+ ipos n))
              (incf ipos n)
              (incf i n))
            (loop while (< i end)
                  do (if (and (typep sequence 'octets) (>= (- end i) (length ibuf)))
                         ;; Large reads go straight into the caller's vector.
                         (let ((n (%recv fd sequence i end 0 (deadline timeout) nil 'stream-read)))
                           (if (zerop n) (return) (incf i n)))
                         (if (ensure-bytes s 1)
                             (let ((n (min (- ilimit ipos) (- end i))))
                               (replace sequence ibuf :start1 i :start2 ipos :end2 (+ ipos n))
                               (incf ipos n)
                               (incf i n))
                             (return))))
            i)
          (loop for i from start below end
                do (let ((c (if (stringp sequence)
                                (sb-gray:stream-read-char s)
                                (sb-gray:stream-read-byte s))))
                     (when (eq c :eof) (return i))
                     (setf (elt sequence i) c))
                finally (return end))))))

(defmethod sb-gray:stream-clear-input ((s socket-stream))
  (with-slots (ipos ilimit) s
    (setf ipos 0 ilimit 0))
  nil)

;;; Output

(defun flush-output (s)
  (with-slots (fd obuf opos timeout) s
    (when (plusp opos)
      (%send fd obuf 0 opos 0 (deadline timeout) t 'stream-write)
      (setf opos 0))))

(declaim (inline room-for))
(defun room-for (s n)
  (with-slots (obuf opos) s
    (when (> (+ opos n) (length obuf))
      (flush-output s))))

(defmethod sb-gray:stream-write-byte ((s socket-stream) byte)
  (check-open s)
  (check-type byte (unsigned-byte 8))
  (room-for s 1)
  (with-slots (obuf opos) s
    (setf (aref obuf opos) byte)
    (incf opos))
  byte)

(defun put-char (s char)
  (with-slots (obuf opos encoding column) s
    (let ((code (char-code char)))
      (room-for s 4)
      (cond ((or (< code #x80) (eq encoding :latin-1))
             (setf (aref obuf opos) (if (< code 256) code (char-code #\?)))
             (incf opos))
            ((< code #x800)
             (setf (aref obuf opos) (logior #xc0 (ash code -6))
                   (aref obuf (+ opos 1)) (logior #x80 (logand code #x3f)))
             (incf opos 2))
            ((< code #x10000)
             (setf (aref obuf opos) (logior #xe0 (ash code -12))
                   (aref obuf (+ opos 1)) (logior #x80 (logand (ash code -6) #x3f))
                   (aref obuf (+ opos 2)) (logior #x80 (logand code #x3f)))
             (incf opos 3))
            (t
             (setf (aref obuf opos) (logior #xf0 (ash code -18))
                   (aref obuf (+ opos 1)) (logior #x80 (logand (ash code -12) #x3f))
                   (aref obuf (+ opos 2)) (logior #x80 (logand (ash code -6) #x3f))
                   (aref obuf (+ opos 3)) (logior #x80 (logand code #x3f)))
             (incf opos 4)))
      (if (char= char #\Newline)
          (setf column 0)
          (incf column)))))

(defmethod sb-gray:stream-write-char ((s socket-stream) char)
  (check-open s)
  (put-char s char)
  char)

(defmethod sb-gray:stream-write-string ((s socket-stream) string &optional (start 0) end)
  (check-open s)
  (loop for i from start below (or end (length string))
        do (put-char s (char string i)))
  string)

(defmethod sb-gray:stream-line-column ((s socket-stream))
  (slot-value s 'column))

(defmethod sb-gray:stream-write-sequence ((s socket-stream) sequence &optional (start 0) end)
  (check-open s)
  (let ((end (or end (length sequence))))
    (cond ((stringp sequence) (sb-gray:stream-write-string s sequence start end))
          ((typep sequence 'octets)
           (with-slots (fd obuf opos timeout) s
             (if (> (- end start) (- (length obuf) opos))
                 (progn (flush-output s)
                        (%send fd sequence start end 0 (deadline timeout) t 'stream-write))
                 (progn (replace obuf sequence :start1 opos :start2 start :end2 end)
                        (incf opos (- end start))))))
          (t (loop for i from start below end
                   do (let ((x (elt sequence i)))
                        (if (characterp x)
                            (put-char s x)
                            (sb-gray:stream-write-byte s x)))))))
  sequence)

(defmethod sb-gray:stream-force-output ((s socket-stream))
  (check-open s)
  (flush-output s)
  nil)

(defmethod sb-gray:stream-finish-output ((s socket-stream))
  (check-open s)
  (flush-output s)
  nil)

(defmethod sb-gray:stream-clear-output ((s socket-stream))
  (setf (slot-value s 'opos) 0)
  nil)

(defmethod close ((s socket-stream) &key abort)
  (when (open-stream-p s)
    (unwind-protect
         (unless abort (flush-output s))
      (call-next-method)
      (when (slot-value s 'close-fd)
        (socket-close (slot-value s 'fd)))))
  t)
