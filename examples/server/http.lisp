;;;; SPDX-License-Identifier: MIT
;;;; http.lisp - HTTP/1.1 requests parsed in place over the octet buffer,
;;;; and the responses, made once as octet vectors.
;;;;
;;;; The parser never makes a string: it walks the bytes of one request head
;;;; and answers with small integers (which response, HEAD or not, close or
;;;; not, the body length to skip), as multiple values, which cons nothing.

(in-package #:epsilon.examples.server)

(deftype octets () '(simple-array (unsigned-byte 8) (*)))
(deftype index () '(integer 0 #.(1- array-dimension-limit)))

(defconstant +max-head+ 8192
  "The longest request head (request line and headers) served; a longer
one is answered 413 and the connection closed.")

(defconstant +max-content-length+ (1- (expt 10 15))
  "The largest Content-Length accepted (the body is skipped, never stored).")

(eval-when (:compile-toplevel :load-toplevel :execute)
  (defconstant +cr+ 13)
  (defconstant +lf+ 10)
  (defconstant +sp+ 32)
  (defconstant +tab+ 9)
  (defconstant +colon+ 58)
  (defconstant +del+ 127)

  (defparameter *crlf* (coerce '(#\Return #\Newline) 'string)
    "CR LF, the end of every line of an HTTP head.")

  (defun octets (&rest parts)
    "The concatenation of PARTS (strings, LATIN-1, and octet vectors)."
    (let ((out (make-array 0 :element-type '(unsigned-byte 8) :adjustable t :fill-pointer 0)))
      (dolist (p parts (coerce out 'octets))
        (etypecase p
          (string (loop for c across p do (vector-push-extend (char-code c) out)))
          (vector (loop for b across p do (vector-push-extend b out)))))))

  (defun head (&rest lines)
    "An HTTP head: LINES (strings; NIL ones left out), each ended by CRLF,
and the blank line that ends the head."
    (format nil "~{~A~A~}~A" (loop for l in lines when l append (list l *crlf*)) *crlf*)))

;;; Responses

(defparameter *hello*
  (octets (head "HTTP/1.1 200 OK" "Content-Type: text/plain" "Content-Length: 13")
          "Hello, World!")
  "The response to GET /: exactly the bytes of bench/response.txt, the
benchmark's canonical response, so that the C and Lisp servers compare like
with like.")

(defun hello-response ()
  "The bytes served for GET /, a fresh copy."
  (copy-seq *hello*))

;;; Which response: the index into *RESPONSES*.
(defconstant +r-hello+ 0)
(defconstant +r-stats+ 1)
(defconstant +r-not-found+ 2)
(defconstant +r-method-not-allowed+ 3)
(defconstant +r-bad-request+ 4)
(defconstant +r-too-large+ 5)
(defconstant +r-not-implemented+ 6)
(defconstant +r-version+ 7)

(defun error-response (status reason &key close extra)
  (let ((body (format nil "~A~%" reason)))
    (octets (head (format nil "HTTP/1.1 ~D ~A" status reason)
                  extra
                  "Content-Type: text/plain"
                  (format nil "Content-Length: ~D" (length body))
                  (and close "Connection: close"))
            body)))

(defparameter *responses*
  (vector *hello*
          nil                           ; /stats: made per request
          (error-response 404 "Not Found")
          (error-response 405 "Method Not Allowed" :extra "Allow: GET, HEAD")
          (error-response 400 "Bad Request" :close t)
          (error-response 413 "Content Too Large" :close t)
          (error-response 501 "Not Implemented" :close t)
          (error-response 505 "HTTP Version Not Supported" :close t))
  "The precomputed responses, by response index.")

(defun with-keep-alive (response)
  "RESPONSE with `Connection: keep-alive` after its status line: what an
HTTP/1.0 client that asked to keep the connection must see."
  (when response
    (let ((eol (+ 2 (search (octets *crlf*) response))))
      (concatenate 'octets (subseq response 0 eol) (octets "Connection: keep-alive" *crlf*)
                   (subseq response eol)))))

(defparameter *keep-alive-responses* (map 'vector #'with-keep-alive *responses*)
  "The precomputed responses for HTTP/1.0 keep-alive requests.")

(defun head-length (response)
  "The length of RESPONSE's head (through the blank line): what HEAD gets."
  (+ 4 (search (octets *crlf* *crlf*) response)))

(defparameter *head-lengths*
  (map '(simple-array fixnum (*)) (lambda (r) (if r (head-length r) 0)) *responses*))

(defparameter *keep-alive-head-lengths*
  (map '(simple-array fixnum (*)) (lambda (r) (if r (head-length r) 0)) *keep-alive-responses*))

;;; Bytes

(sb-ext:defglobal **tchar**
    (let ((v (make-array 256 :element-type 'bit :initial-element 0)))
      (loop for c across "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            do (setf (sbit v (char-code c)) 1))
      v)
  "1 for the bytes of an HTTP token (tchar, RFC 9110).")
(declaim (type simple-bit-vector **tchar**))

(defmacro define-octets (name string documentation)
  "Define NAME as a global octet vector holding STRING's bytes."
  `(progn (sb-ext:defglobal ,name (octets ,string) ,documentation)
          (declaim (type octets ,name))))

(define-octets **get** "GET" "The method GET (methods are case-sensitive).")
(define-octets **head** "HEAD" "The method HEAD.")
(define-octets **stats-path** "/stats" "The path of the statistics page.")
(define-octets **http/** "HTTP/" "What a version starts with.")
;; Header names and connection options are compared ignoring case: these
;; are lowercase.
(define-octets **host** "host" "The Host header's name.")
(define-octets **connection** "connection" "The Connection header's name.")
(define-octets **content-length** "content-length" "The Content-Length header's name.")
(define-octets **transfer-encoding** "transfer-encoding" "The Transfer-Encoding header's name.")
(define-octets **close** "close" "The connection option close.")
(define-octets **keep-alive** "keep-alive" "The connection option keep-alive.")

(declaim (inline tchar-p ows-p digit lower octets= token=))
(defun tchar-p (byte)
  (= 1 (sbit **tchar** byte)))

(defun ows-p (byte)
  "True for optional whitespace: space or tab."
  (or (= byte +sp+) (= byte +tab+)))

(defun digit (byte)
  "BYTE's decimal digit, or NIL."
  (declare (type (unsigned-byte 8) byte))
  (and (<= 48 byte 57) (- byte 48)))

(defun lower (byte)
  "BYTE with ASCII letters lowercased."
  (declare (type (unsigned-byte 8) byte))
  (if (<= 65 byte 90) (+ byte 32) byte))

(defun octets= (buf start end literal)
  "True when BUF[START,END) is LITERAL, byte for byte."
  (declare (type octets buf literal) (type index start end))
  (and (= (- end start) (length literal))
       (loop for i of-type index from start below end
             for b across literal
             always (= (aref buf i) b))))

(defmacro word-of (string)
  "The 64-bit word a little-endian load of STRING's 8 bytes gives."
  (assert (= (length string) 8))
  (loop for c across string for k from 0 sum (ash (char-code c) (* 8 k))))

(declaim (inline word64))
(defun word64 (buf i)
  "The 8 bytes BUF[I,I+8) as one little-endian word; the caller has
checked that they are inside BUF."
  (declare (type octets buf) (type index i))
  (sb-sys:with-pinned-objects (buf)
    (sb-sys:sap-ref-64 (sb-sys:vector-sap buf) i)))

(defun token= (buf start end literal)
  "True when BUF[START,END) is LITERAL (lowercase), ignoring ASCII case."
  (declare (type octets buf literal) (type index start end))
  (and (= (- end start) (length literal))
       (loop for i of-type index from start below end
             for b across literal
             always (= (lower (aref buf i)) b))))

(defun find-head-end (buf start end)
  "The index just past the first CRLFCRLF in BUF[START,END), or -1."
  (declare (type octets buf) (type index start end) (optimize speed))
  (when (> end (length buf))
    (error 'type-error :datum end :expected-type `(integer 0 ,(length buf))))
  (let ((i (+ start 3)))
    (declare (type index i))
    (loop
      (when (>= i end) (return -1))
      (let ((b (aref buf i)))
        (cond ((= b +lf+)
               (when (and (= (aref buf (- i 1)) +cr+)
                          (= (aref buf (- i 2)) +lf+)
                          (= (aref buf (- i 3)) +cr+))
                 (return (1+ i)))
               (incf i 2))
              ((= b +cr+) (incf i 1))
              (t (incf i 4)))))))

;;; The parser: one function per part of the head.  Each returns the index
;;; where the next part starts, or a response index negated (-4: 400 Bad
;;; Request, -7: 505) when the part is malformed; LAST is the index of the
;;; head's final CRLF.

(defconstant +bad+ (- +r-bad-request+))

;; Inline into PARSE-REQUEST: one function's code per request, as before
;; the split, no calls returning multiple values on the hot path.
(declaim (inline parse-method parse-target parse-version parse-header-line
                 connection-options content-length parse-headers))

(defmacro scan (p last test)
  "Advance the index P while it is below LAST and TEST (a form on the byte
at P, bound to B) holds.  The buffer is the variable BUF of the caller."
  `(loop while (and (< ,p ,last) (let ((b (aref buf ,p))) (declare (ignorable b)) ,test))
         do (incf ,p)))

(defun parse-method (buf p last)
  "The method token ending in SP at P: :GET, :HEAD or :OTHER, and the index
after the SP."
  (declare (type octets buf) (type index p last) (optimize speed))
  (let ((m0 p))
    (scan p last (tchar-p b))
    (if (or (= p m0) (>= p last) (/= (aref buf p) +sp+))
        (values :other +bad+)
        (values (cond ((octets= buf m0 p **get**) :get)
                      ((octets= buf m0 p **head**) :head)
                      (t :other))
                (1+ p)))))

(defun parse-target (buf p last)
  "The request target ending in SP at P: its response index (by its path:
the query and fragment do not count) and the index after the SP."
  (declare (type octets buf) (type index p last) (optimize speed))
  (let ((t0 p))
    (scan p last (and (> b +sp+) (/= b +del+)))
    (when (or (= p t0) (>= p last) (/= (aref buf p) +sp+))
      (return-from parse-target (values 0 +bad+)))
    (let ((path-end t0))
      (declare (type index path-end))
      (scan path-end p (and (/= b #.(char-code #\?)) (/= b #.(char-code #\#))))
      (values (cond ((/= (aref buf t0) #.(char-code #\/))
                     ;; Not origin-form: only the asterisk form is known.
                     (if (and (= (aref buf t0) #.(char-code #\*)) (= p (1+ t0)))
                         +r-not-found+
                         (return-from parse-target (values 0 +bad+))))
                    ((= path-end (1+ t0)) +r-hello+)
                    ((octets= buf t0 path-end **stats-path**) +r-stats+)
                    (t +r-not-found+))
              (1+ p)))))

(defun parse-version (buf p head-end)
  "HTTP/d.d CRLF at P: true for HTTP/1.0, and the index after the CRLF (or
-7, 505, for a version other than 1.0 and 1.1)."
  (declare (type octets buf) (type index p head-end) (optimize speed))
  (if (not (and (<= (+ p 10) head-end)
                (octets= buf p (+ p 5) **http/**)
                (digit (aref buf (+ p 5)))
                (= (aref buf (+ p 6)) #.(char-code #\.))
                (digit (aref buf (+ p 7)))
                (= (aref buf (+ p 8)) +cr+)
                (= (aref buf (+ p 9)) +lf+)))
      (values nil +bad+)
      (let ((major (- (aref buf (+ p 5)) #.(char-code #\0)))
            (minor (- (aref buf (+ p 7)) #.(char-code #\0))))
        (if (and (= major 1) (<= minor 1))
            (values (= minor 0) (+ p 10))
            (values nil (- +r-version+))))))

(defun parse-header-line (buf p last)
  "The header line at P, name \":\" OWS value OWS CRLF: the index after
it, and the bounds of the name and of the value (without the OWS)."
  (declare (type octets buf) (type index p last) (optimize speed))
  (let ((n0 p))
    (scan p last (tchar-p b))
    (when (or (= p n0) (>= p last) (/= (aref buf p) +colon+))
      (return-from parse-header-line +bad+))
    (let ((n1 p))
      (incf p)
      (scan p last (ows-p b))
      (let ((v0 p))
        ;; The value: no control byte other than tab; it ends at CRLF.
        (scan p last (not (or (= b +cr+) (and (< b 32) (/= b +tab+)) (= b +del+))))
        (unless (and (< p last) (= (aref buf p) +cr+) (= (aref buf (1+ p)) +lf+))
          (return-from parse-header-line +bad+))
        (let ((v1 p))
          (loop while (and (> v1 v0) (ows-p (aref buf (1- v1)))) do (decf v1))
          (values (+ p 2) n0 n1 v0 v1))))))

(defun connection-options (buf v0 v1)
  "Whether the Connection value BUF[V0,V1), a comma-separated list of
tokens, says close, and whether it says keep-alive."
  (declare (type octets buf) (type index v0 v1) (optimize speed))
  (let ((q v0) (close nil) (keep-alive nil))
    (declare (type index q))
    (loop while (< q v1)
          do (let ((t0 q))
               (scan q v1 (tchar-p b))
               (cond ((token= buf t0 q **close**) (setf close t))
                     ((token= buf t0 q **keep-alive**) (setf keep-alive t)))
               (scan q v1 (not (tchar-p b)))))
    (values close keep-alive)))

(defun content-length (buf v0 v1)
  "The Content-Length value BUF[V0,V1): 1 to 15 decimal digits, as an
integer; -1 when it is not that."
  (declare (type octets buf) (type index v0 v1) (optimize speed))
  (if (or (= v0 v1) (> (- v1 v0) 15))
      -1
      (let ((n 0))
        (declare (type (integer 0 #.+max-content-length+) n))
        (loop for i of-type index from v0 below v1
              do (let ((d (digit (aref buf i))))
                   (if d (setf n (+ (* n 10) d)) (return-from content-length -1))))
        n)))

(defun parse-headers (buf p last)
  "The header lines from P to LAST: NIL or the response index of an error,
then how many Host headers, whether Connection says close, whether it says
keep-alive, and the Content-Length (-1: none)."
  (declare (type octets buf) (type index p last) (optimize speed))
  (let ((hosts 0) (close nil) (keep-alive nil) (length -1))
    (declare (type fixnum hosts length))
    (macrolet ((fail (code) `(return-from parse-headers (values ,code 0 nil nil -1))))
      (loop while (< p last)
            do (multiple-value-bind (next n0 n1 v0 v1) (parse-header-line buf p last)
                 (declare (type fixnum next))
                 (when (minusp next) (fail +r-bad-request+))
                 (locally (declare (type index n0 n1 v0 v1))
                   (cond ((token= buf n0 n1 **host**) (incf hosts))
                         ((token= buf n0 n1 **connection**)
                          (multiple-value-bind (c k) (connection-options buf v0 v1)
                            (when c (setf close t))
                            (when k (setf keep-alive t))))
                         ((token= buf n0 n1 **content-length**)
                          (let ((n (content-length buf v0 v1)))
                            ;; Repeated, it must say the same.
                            (when (or (minusp n) (and (>= length 0) (/= n length)))
                              (fail +r-bad-request+))
                            (setf length n)))
                         ((token= buf n0 n1 **transfer-encoding**)
                          (fail +r-not-implemented+))))
                 (setf p next))))
    (values nil hosts close keep-alive length)))

(defun parse-request (buf start head-end)
  "Parse the request head BUF[START,HEAD-END) (HEAD-END just past its
CRLFCRLF, from FIND-HEAD-END).  Returns five values: the response index
(+R-HELLO+, +R-STATS+, +R-NOT-FOUND+, +R-METHOD-NOT-ALLOWED+, or an error
one: +R-BAD-REQUEST+ (malformed), +R-NOT-IMPLEMENTED+ (Transfer-Encoding),
+R-VERSION+ (not HTTP/1.x)); true for a HEAD request; true when the
connection must close after the response; the length of the body to skip;
true for an HTTP/1.0 request that asked to keep the connection (its response
must say `Connection: keep-alive`).  Conses nothing."
  (declare (type octets buf) (type index start head-end) (optimize speed))
  (unless (and (<= head-end (length buf)) (<= (+ start 4) head-end))
    (error 'type-error :datum head-end :expected-type `(integer ,(+ start 4) ,(length buf))))
  (let ((last (- head-end 2)))          ; the final CRLF
    (macrolet ((fail (code) `(return-from parse-request (values ,code nil t 0 nil)))
               (part ((&rest vars) form &body body)
                 ;; Bind VARS to FORM's values, the last an index or an
                 ;; error's negated response index, and run BODY.
                 (let ((index (car (last vars))))
                   `(multiple-value-bind ,vars ,form
                      (declare (type fixnum ,index))
                      (when (minusp ,index) (fail (- ,index)))
                      ,@body))))
      (flet ((finish (method route http10 p3)
               (declare (type index p3))
               (multiple-value-bind (error hosts close keep-alive length)
                   (parse-headers buf p3 last)
                 (declare (type fixnum hosts length))
                 (when error (fail error))
                 ;; HTTP/1.1 needs exactly one Host, HTTP/1.0 at most one.
                 (when (if http10 (> hosts 1) (/= hosts 1)) (fail +r-bad-request+))
                 (values (if (and (or (= route +r-hello+) (= route +r-stats+)) (eq method :other))
                             +r-method-not-allowed+
                             route)
                         (eq method :head)
                         (or close (and http10 (not keep-alive)))
                         (max length 0)
                         (and http10 keep-alive (not close))))))
        (declare (inline finish))
        ;; The request line of nearly every request a benchmark or a
        ;; browser sends for the page, compared as two words: what the
        ;; three part parsers would conclude from these 16 bytes.
        (if (and (<= (+ start 18) head-end)
                 (= (word64 buf start) (word-of "GET / HT"))
                 (= (word64 buf (+ start 8)) (word-of #.(format nil "TP/1.1~C~C" #\Return #\Newline))))
            (finish :get +r-hello+ nil (+ start 16))
            (part (method p1) (parse-method buf start last)
              (part (route p2) (parse-target buf p1 last)
                (part (http10 p3) (parse-version buf p2 head-end)
                  (finish method route http10 p3)))))))))
