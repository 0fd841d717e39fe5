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

  (defun octets (&rest parts)
    "The concatenation of PARTS (strings, LATIN-1, and octet vectors) with
every ~ turned into CRLF in strings."
    (let ((out (make-array 0 :element-type '(unsigned-byte 8) :adjustable t :fill-pointer 0)))
      (dolist (p parts (coerce out 'octets))
        (etypecase p
          (string (loop for c across p
                        do (if (char= c #\~)
                               (progn (vector-push-extend +cr+ out) (vector-push-extend +lf+ out))
                               (vector-push-extend (char-code c) out))))
          (vector (loop for b across p do (vector-push-extend b out))))))))

;;; Responses

(defparameter *hello*
  (octets "HTTP/1.1 200 OK~Content-Type: text/plain~Content-Length: 13~~Hello, World!")
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
    (octets (format nil "HTTP/1.1 ~D ~A~~~@[~A~~~]Content-Type: text/plain~~Content-Length: ~D~~~:[~;Connection: close~~~]~~~A"
                    status reason extra (length body) close body))))

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
    (let ((eol (+ 2 (search #.(octets "~") response))))
      (concatenate 'octets (subseq response 0 eol) (octets "Connection: keep-alive~")
                   (subseq response eol)))))

(defparameter *keep-alive-responses* (map 'vector #'with-keep-alive *responses*)
  "The precomputed responses for HTTP/1.0 keep-alive requests.")

(defun head-length (response)
  "The length of RESPONSE's head (through the blank line): what HEAD gets."
  (+ 4 (search #.(octets "~~") response)))

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

(declaim (inline tchar-p lower))
(defun tchar-p (byte)
  (= 1 (sbit **tchar** byte)))

(defun lower (byte)
  "BYTE with ASCII letters lowercased."
  (declare (type (unsigned-byte 8) byte))
  (if (<= 65 byte 90) (+ byte 32) byte))

(defmacro bytes= (buf start end literal)
  "True when BUF[START,END) is LITERAL (a lowercase string), ignoring case."
  (let ((b (gensym)) (s (gensym)) (e (gensym)))
    `(let ((,b ,buf) (,s ,start) (,e ,end))
       (declare (type octets ,b) (type index ,s ,e))
       (and (= (- ,e ,s) ,(length literal))
            ,@(loop for c across literal
                    for i from 0
                    collect `(= (lower (aref ,b (+ ,s ,i))) ,(char-code c)))))))

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

;;; The parser

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
  (let ((p start)
        (last (- head-end 2))           ; the final CRLF
        (route +r-hello+)
        (method 0)                      ; 0 GET, 1 HEAD, 2 other
        (http10 nil)
        (close nil)
        (keep-alive nil)
        (hosts 0)
        (content-length -1))
    (declare (type index p last) (type fixnum route method hosts content-length))
    (macrolet ((bad (&optional (code '+r-bad-request+))
                 `(return-from parse-request (values ,code nil t 0 nil)))
               (at (i) `(aref buf ,i)))
      ;; Request line: METHOD SP target SP HTTP/1.x CRLF
      (let ((m0 p))
        (loop while (and (< p last) (tchar-p (at p))) do (incf p))
        (when (or (= p m0) (>= p last) (/= (at p) +sp+)) (bad))
        (setf method (cond ((bytes= buf m0 p "get") (if (= (at m0) 71) 0 2))
                           ((bytes= buf m0 p "head") (if (= (at m0) 72) 1 2))
                           (t 2))))
      (incf p)
      (let ((t0 p) (path-end 0))
        (declare (type index path-end))
        (loop while (and (< p last) (> (at p) +sp+) (/= (at p) 127)) do (incf p))
        (when (or (= p t0) (>= p last) (/= (at p) +sp+)) (bad))
        (setf path-end t0)
        (loop while (and (< path-end p) (/= (at path-end) 63) (/= (at path-end) 35))
              do (incf path-end))
        (setf route (cond ((/= (at t0) 47) ; not origin-form: only * is known
                           (if (and (= (at t0) 42) (= p (1+ t0))) +r-not-found+ (bad)))
                          ((= path-end (1+ t0)) +r-hello+)
                          ((and (= path-end (+ t0 6))
                                (= (at (+ t0 1)) 115) (= (at (+ t0 2)) 116) (= (at (+ t0 3)) 97)
                                (= (at (+ t0 4)) 116) (= (at (+ t0 5)) 115))
                           +r-stats+)
                          (t +r-not-found+))))
      (incf p)
      ;; HTTP/d.d CRLF
      (unless (and (<= (+ p 10) head-end)
                   (= (at p) 72) (= (at (+ p 1)) 84) (= (at (+ p 2)) 84) (= (at (+ p 3)) 80)
                   (= (at (+ p 4)) 47) (<= 48 (at (+ p 5)) 57) (= (at (+ p 6)) 46)
                   (<= 48 (at (+ p 7)) 57) (= (at (+ p 8)) +cr+) (= (at (+ p 9)) +lf+))
        (bad))
      (unless (= (at (+ p 5)) 49) (bad +r-version+))
      (case (at (+ p 7))
        (49)
        (48 (setf http10 t))
        (t (bad +r-version+)))
      (incf p 10)
      ;; Header lines: name ":" OWS value OWS CRLF
      (loop while (< p last)
            do (let ((n0 p) (v0 0) (v1 0))
                 (declare (type index n0 v0 v1))
                 (loop while (and (< p last) (tchar-p (at p))) do (incf p))
                 (when (or (= p n0) (>= p last) (/= (at p) +colon+)) (bad))
                 (let ((n1 p))
                   (incf p)
                   (loop while (and (< p last) (or (= (at p) +sp+) (= (at p) +tab+))) do (incf p))
                   (setf v0 p)
                   (loop (when (>= p last) (bad))
                         (let ((b (at p)))
                           (cond ((= b +cr+)
                                  (unless (= (at (1+ p)) +lf+) (bad))
                                  (return))
                                 ((or (and (< b 32) (/= b +tab+)) (= b 127)) (bad))))
                         (incf p))
                   (setf v1 p)
                   (loop while (and (> v1 v0) (or (= (at (1- v1)) +sp+) (= (at (1- v1)) +tab+)))
                         do (decf v1))
                   (incf p 2)
                   (case (- n1 n0)
                     (4 (when (bytes= buf n0 n1 "host") (incf hosts)))
                     (10 (when (bytes= buf n0 n1 "connection")
                           ;; A comma-separated list of tokens.
                           (let ((q v0))
                             (declare (type index q))
                             (loop while (< q v1)
                                   do (let ((t0 q))
                                        (loop while (and (< q v1) (tchar-p (at q))) do (incf q))
                                        (cond ((bytes= buf t0 q "close") (setf close t))
                                              ((bytes= buf t0 q "keep-alive") (setf keep-alive t)))
                                        (loop while (and (< q v1) (not (tchar-p (at q))))
                                              do (incf q)))))))
                     (14 (when (bytes= buf n0 n1 "content-length")
                           (when (or (= v0 v1) (> (- v1 v0) 15)) (bad))
                           (let ((n 0))
                             (declare (type (integer 0 #.+max-content-length+) n))
                             (loop for i of-type index from v0 below v1
                                   do (let ((d (- (at i) 48)))
                                        (unless (<= 0 d 9) (bad))
                                        (setf n (+ (* n 10) d))))
                             (when (and (>= content-length 0) (/= n content-length)) (bad))
                             (setf content-length n))))
                     (17 (when (bytes= buf n0 n1 "transfer-encoding")
                           (bad +r-not-implemented+)))))))
      (when (and (not http10) (/= hosts 1)) (bad))
      (when (> hosts 1) (bad))
      (let ((route (if (and (< route +r-not-found+) (= method 2))
                       +r-method-not-allowed+
                       route)))
        (values route
                (= method 1)
                (or close (and http10 (not keep-alive)))
                (max content-length 0)
                (and http10 keep-alive (not close)))))))
