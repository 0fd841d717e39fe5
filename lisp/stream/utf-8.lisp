;;;; SPDX-License-Identifier: MIT
;;;; utf-8.lisp - the one UTF-8 codec of the streams.
;;;;
;;;; Malformed input reads as U+FFFD, one per "maximal subpart" (Unicode
;;;; 15, section 3.9, "U+FFFD Substitution of Maximal Subparts"; also what
;;;; the WHATWG Encoding Standard and SBCL's own decoder with :REPLACEMENT
;;;; do): a byte that cannot start a sequence (80..C1, F5..FF) is one
;;;; replacement; a sequence that starts well but breaks off is one
;;;; replacement for its well-formed prefix, and the byte that broke it is
;;;; decoded afresh.  The second-byte ranges of Table 3-7 exclude overlong
;;;; forms, surrogates (D800..DFFF) and code points above 10FFFF, so those
;;;; come out as one replacement per byte.  C0 and C1 controls are valid
;;;; UTF-8 and decode as themselves.  Decoding never signals.

(in-package #:epsilon.linux.stream)

(deftype octets () '(simple-array (unsigned-byte 8) (*)))

(defconstant +replacement+ #xFFFD)

(declaim (inline utf-8-decode))
(defun utf-8-decode (buffer start end)
  "Decode the character at BUFFER[START] (START < END).  Returns its code
and the count of bytes it takes; U+FFFD and the bytes of the maximal
subpart for malformed input; or NIL and the count of well-formed bytes
seen when the sequence is well-formed so far but needs bytes past END."
  (declare (type octets buffer) (type fixnum start end)
           (optimize speed (safety 0)))
  (let ((b0 (aref buffer start)))
    (when (< b0 #x80)
      (return-from utf-8-decode (values b0 1)))
    (multiple-value-bind (n lo hi)
        (cond ((<= #xC2 b0 #xDF) (values 2 #x80 #xBF))
              ((= b0 #xE0) (values 3 #xA0 #xBF))
              ((= b0 #xED) (values 3 #x80 #x9F))
              ((<= #xE1 b0 #xEF) (values 3 #x80 #xBF))
              ((= b0 #xF0) (values 4 #x90 #xBF))
              ((<= #xF1 b0 #xF3) (values 4 #x80 #xBF))
              ((= b0 #xF4) (values 4 #x80 #x8F))
              (t (return-from utf-8-decode (values +replacement+ 1))))
      (declare (type (integer 2 4) n) (type (unsigned-byte 8) lo hi))
      (let ((code (logand b0 (ash #x7F (- n)))))
        (declare (type (unsigned-byte 21) code))
        (loop for i of-type fixnum from 1 below n
              do (when (>= (+ start i) end)
                   (return-from utf-8-decode (values nil i)))
                 (let ((b (aref buffer (+ start i))))
                   (unless (if (= i 1) (<= lo b hi) (<= #x80 b #xBF))
                     (return-from utf-8-decode (values +replacement+ i)))
                   (setf code (logior (ash (logand code #x7FFF) 6) (logand b #x3F)))))
        (values code n)))))

(declaim (inline utf-8-encode))
(defun utf-8-encode (code buffer pos)
  "Store the UTF-8 encoding of CODE at BUFFER[POS] (4 bytes of room are
there); return the position after it.  A surrogate code point (a Lisp
character, but no Unicode scalar value) is written as U+FFFD, so that
what a stream writes its own decoder reads back unchanged."
  (declare (type octets buffer) (type fixnum pos)
           (type (integer 0 #x10FFFF) code)
           (optimize speed (safety 0)))
  (when (<= #xD800 code #xDFFF)
    (setf code +replacement+))
  (cond ((< code #x80)
         (setf (aref buffer pos) code)
         (+ pos 1))
        ((< code #x800)
         (setf (aref buffer pos) (logior #xC0 (ash code -6))
               (aref buffer (+ pos 1)) (logior #x80 (logand code #x3F)))
         (+ pos 2))
        ((< code #x10000)
         (setf (aref buffer pos) (logior #xE0 (ash code -12))
               (aref buffer (+ pos 1)) (logior #x80 (logand (ash code -6) #x3F))
               (aref buffer (+ pos 2)) (logior #x80 (logand code #x3F)))
         (+ pos 3))
        (t
         (setf (aref buffer pos) (logior #xF0 (ash code -18))
               (aref buffer (+ pos 1)) (logior #x80 (logand (ash code -12) #x3F))
               (aref buffer (+ pos 2)) (logior #x80 (logand (ash code -6) #x3F))
               (aref buffer (+ pos 3)) (logior #x80 (logand code #x3F)))
         (+ pos 4))))
