;;;; SPDX-License-Identifier: MIT
;;;; suite-streams.lisp - the one stream core through both transports: the
;;;; malformed UTF-8 table, the Lisp stream operations, who closes an fd,
;;;; stream conditions, closed streams, printing, consing per byte.

(in-package #:epsilon.linux.tests)

(def-suite streams :in epsilon-linux
  :description "SOCKET-STREAM and TLS-STREAM: one core, two transports.")

(defpackage #:epsilon.linux.tests.streams
  (:use #:cl #:fiveam #:epsilon.net.core #:epsilon.crypto)
  (:shadow #:octets))

(in-package #:epsilon.linux.tests.streams)

(defmacro stream-test (name &body body)
  "A test that also checks the library's fd and handle counts are the same
after BODY as before."
  `(test (,name :suite epsilon.linux.tests::streams)
     (let ((fds (epsilon.linux:open-fd-count))
           (handles (epsilon.linux:open-handle-count)))
       (unwind-protect (progn ,@body)
         (is (= fds (epsilon.linux:open-fd-count)) "fd leak in ~A" ',name)
         (is (= handles (epsilon.linux:open-handle-count)) "handle leak in ~A" ',name)))))

(defun octets (list)
  (make-array (length list) :element-type '(unsigned-byte 8) :initial-contents list))

(defun chars (&rest codes)
  (map 'string #'code-char codes))

(defun fd-open-p (fd)
  "True when FD is an open socket (asked of the kernel)."
  (handler-case (progn (get-socket-option fd +sol-socket+ +so-type+) t)
    (socket-error () nil)))

;;; The malformed-input table: bytes, and the characters they decode to.
;;; One replacement (R) per maximal subpart (Unicode 3.9, Table 3-7).

(defconstant +r+ #xFFFD)

(defparameter *utf-8-table*
  `(("ASCII" (#x41 #x42) ,(chars #x41 #x42))
    ("C0 controls are valid" (#x00 #x09 #x1F #x7F) ,(chars 0 9 #x1F #x7F))
    ("C1 controls are valid" (#xC2 #x80 #xC2 #x9F) ,(chars #x80 #x9F))
    ("2, 3 and 4 bytes" (#xC3 #xA9 #xE2 #x82 #xAC #xF0 #x9F #x98 #x80) ,(chars #xE9 #x20AC #x1F600))
    ("U+FFFF and U+10FFFF" (#xEF #xBF #xBF #xF4 #x8F #xBF #xBF) ,(chars #xFFFF #x10FFFF))
    ("U+D7FF and U+E000 around the surrogates" (#xED #x9F #xBF #xEE #x80 #x80) ,(chars #xD7FF #xE000))
    ("overlong 2 bytes" (#xC0 #x80 #x41) ,(chars +r+ +r+ #x41))
    ("overlong C1" (#xC1 #xBF) ,(chars +r+ +r+))
    ("overlong 3 bytes" (#xE0 #x80 #x80) ,(chars +r+ +r+ +r+))
    ("overlong 3 bytes, top" (#xE0 #x9F #xBF) ,(chars +r+ +r+ +r+))
    ("overlong 4 bytes" (#xF0 #x8F #xBF #xBF) ,(chars +r+ +r+ +r+ +r+))
    ("surrogate D800" (#xED #xA0 #x80 #x41) ,(chars +r+ +r+ +r+ #x41))
    ("surrogate DFFF" (#xED #xBF #xBF) ,(chars +r+ +r+ +r+))
    ("above U+10FFFF" (#xF4 #x90 #x80 #x80) ,(chars +r+ +r+ +r+ +r+))
    ("F5 lead" (#xF5 #x80 #x80 #x80) ,(chars +r+ +r+ +r+ +r+))
    ("5-byte form" (#xF8 #x88 #x80 #x80 #x80) ,(chars +r+ +r+ +r+ +r+ +r+))
    ("FE and FF" (#xFE #xFF #x41) ,(chars +r+ +r+ #x41))
    ("lone continuation" (#x80) ,(chars +r+))
    ("continuations" (#x80 #xBF #x41) ,(chars +r+ +r+ #x41))
    ("truncated 2 mid-stream" (#xC3 #x41) ,(chars +r+ #x41))
    ("truncated 3 mid-stream" (#xE2 #x82 #x41) ,(chars +r+ #x41))
    ("truncated 4 mid-stream" (#xF0 #x9F #x98 #x41) ,(chars +r+ #x41))
    ("truncated, then a lead" (#xE2 #x82 #xE2 #x82 #xAC #xC3 #xC3 #xA9) ,(chars +r+ #x20AC +r+ #xE9))
    ("truncated 2 at the end" (#x41 #xC3) ,(chars #x41 +r+))
    ("truncated 3 at the end" (#xE2 #x82) ,(chars +r+))
    ("truncated 4 at the end" (#xF0 #x9F #x98) ,(chars +r+))
    ("a lone lead at the end" (#xF4) ,(chars +r+))
    ("mixed" (#x41 #x80 #xE2 #x82 #xAC #xFF #x42 #x0A #x43) ,(chars #x41 +r+ #x20AC +r+ #x42 10 #x43))))

(defun read-all-chars (s)
  (with-output-to-string (out)
    (loop for c = (read-char s nil :eof)
          until (eq c :eof)
          do (write-char c out))))

(defun read-all-lines (s)
  "Everything through READ-LINE, newlines put back."
  (with-output-to-string (out)
    (loop (multiple-value-bind (line missing) (read-line s nil :eof)
            (when (eq line :eof) (return))
            (write-string line out)
            (if missing (return) (terpri out))))))

(defun decode-over-sockets (bytes reader)
  (multiple-value-bind (a b) (socket-pair)
    (with-socket-stream (in b :timeout 10)
      (with-socket-stream (out a :element-type '(unsigned-byte 8))
        (write-sequence (octets bytes) out))   ; closed: the end of the input
      (funcall reader in))))

(defun decode-over-tls (cases reader)
  "Each case's bytes sent by a TLS server, then close_notify; the client
reads them through a TLS stream with READER.  One connection per case."
  (let ((queue (mapcar #'second cases)))
    (multiple-value-bind (clients results)
        (epsilon.linux.tests::with-tls-server (port :clients (length cases))
            (lambda (conn)
              (tls-send conn (octets (pop queue)))
              (tls-shutdown conn)
              (loop repeat 100 until (zerop (length (tls-recv conn 100))))
              :sent)
          (loop repeat (length cases)
                collect (epsilon.linux.tests::with-tls-client (c port)
                          (with-tls-stream (s c)
                            (funcall reader s)))))
      (values clients results))))

(stream-test malformed-utf-8-table-through-both-transports
  (dolist (reader (list #'read-all-chars #'read-all-lines))
    (let ((over-sockets (mapcar (lambda (case) (decode-over-sockets (second case) reader))
                                *utf-8-table*)))
      (multiple-value-bind (over-tls results) (decode-over-tls *utf-8-table* reader)
        (is (every (lambda (r) (eq r :sent)) results) "TLS server: ~S" results)
        (loop for (name bytes expected) in *utf-8-table*
              for socket in over-sockets
              for tls in over-tls
              do (is (string= expected socket) "~A over a socket: ~S, expected ~S"
                     name (map 'list #'char-code socket) (map 'list #'char-code expected))
                 (is (equal socket tls) "~A: socket ~S, TLS ~S"
                     name (map 'list #'char-code socket) (map 'list #'char-code tls))
                 ;; SBCL's own decoder substitutes the same maximal subparts.
                 (is (string= expected (sb-ext:octets-to-string
                                        (octets bytes)
                                        :external-format '(:utf-8 :replacement #\REPLACEMENT_CHARACTER)))
                     "~A: SBCL decodes it differently" name))))))

(stream-test malformed-utf-8-split-across-reads
  ;; The bytes of one sequence arriving in separate reads decode as one
  ;; character (the decoder waits for the rest of a well-formed prefix).
  (multiple-value-bind (a b) (socket-pair)
    (with-socket-stream (in b :timeout 10)
      (with-socket-stream (out a :element-type '(unsigned-byte 8))
        (let ((reader (sb-thread:make-thread
                       (lambda () (list (read-char in) (read-char in) (read-char in nil :eof))))))
          (write-byte #xE2 out) (force-output out) (sleep 0.05)
          (write-byte #x82 out) (force-output out) (sleep 0.05)
          (write-sequence (octets '(#xAC #xE2)) out)
          (close out)
          (is (equal (list (code-char #x20AC) (code-char +r+) :eof)
                     (sb-thread:join-thread reader :timeout 20))))))))

;;; The stream operations, the same on both transports

(defun exercise (out in)
  "Write through OUT and read back through IN (the same stream over an echo
server is fine).  Returns a list of what was seen."
  (let ((seen '()))
    (flet ((see (x) (push x seen)))
      (see (listen in))                             ; nothing yet
      (see (read-char-no-hang in))                  ; NIL: nothing
      (write-string "héllo" out)
      (terpri out)
      (write-byte 200 out)
      (write-sequence (octets '(1 2 3)) out)
      (write-sequence "λ→" out :start 1)
      (write-char #\Newline out)
      (format out "~D~%" 42)
      (let ((big (make-array 100000 :element-type '(unsigned-byte 8))))
        (dotimes (i (length big)) (setf (aref big i) (mod (* i 7) 256)))
        (write-sequence big out)
        (finish-output out)
        (see (peek-char nil in))                    ; waits for it
        (see (listen in))
        (see (read-line in))
        (see (read-byte in))
        (let ((v (make-array 3 :element-type '(unsigned-byte 8))))
          (see (read-sequence v in))
          (see (coerce v 'list)))
        (see (read-char in))
        (unread-char #\→ in)
        (see (read-line in))
        (see (parse-integer (read-line in)))
        (let ((got (make-array 100000 :element-type '(unsigned-byte 8))))
          (see (read-sequence got in))
          (see (equalp got big))))
      (write-string "tail" out)
      (force-output out)
      (let ((s (make-string 4)))
        (see (read-sequence s in))
        (see s)))
    (nreverse seen)))

(defparameter *exercise-expected*
  (list nil nil #\h t "héllo" 200 3 '(1 2 3) #\→ "→" 42 100000 t 4 "tail"))

(stream-test stream-operations-over-a-socket
  (multiple-value-bind (a b) (socket-pair)
    (with-socket-stream (out a :timeout 10)
      (with-socket-stream (in b :timeout 10)
        (is (equal *exercise-expected* (exercise out in)))))))

(stream-test stream-operations-over-tls
  (multiple-value-bind (client results)
      (epsilon.linux.tests::with-tls-server (port) #'epsilon.linux.tests::echo-handler
        (epsilon.linux.tests::with-tls-client (c port)
          (with-tls-stream (s c)
            (exercise s s))))
    (is (equal *exercise-expected* client))
    (is (integerp (first results)) "echo server: ~S" results)))

;;; Who closes the fd

(stream-test stream-closed-inside-with-client-socket-closes-the-fd-once
  (with-server-socket (listener :host "127.0.0.1")
    (let ((port (address-port (socket-local-address listener)))
          (reused nil))
      (unwind-protect
           (progn
             (finishes
               (with-client-socket (fd :host "127.0.0.1" :port port :timeout 5)
                 (let ((s (make-socket-stream fd)))
                   (write-line "hello" s)
                   (close s))
                 (is (not (fd-open-p fd)) "closing the stream closes the fd")
                 ;; The kernel hands out the lowest free number: the same one.
                 (setf reused (socket-create +af-inet+ +sock-stream+ 0))
                 (is (= fd reused) "the number was not reused (~D, ~D)" fd reused)))
             (is (fd-open-p reused) "the macro closed the number a second time")
             (with-socket-stream (s (socket-accept listener :timeout 5) :timeout 5)
               (is (equal "hello" (read-line s)))))
        (when (and reused (fd-open-p reused))
          (socket-close reused))))))

(stream-test with-socket-stream-over-macro-and-accepted-fds
  (with-server-socket (listener :host "127.0.0.1")
    (let ((port (address-port (socket-local-address listener))))
      (finishes
        (with-client-socket (fd :host "127.0.0.1" :port port :timeout 5)
          (with-socket-stream (s fd :timeout 5)
            (write-line "ping" s)
            (finish-output s)
            (with-socket-stream (peer (socket-accept listener :timeout 5) :timeout 5)
              (is (equal "ping" (read-line peer)))
              (write-line "pong" peer))
            (is (equal "pong" (read-line s))))
          (is (not (fd-open-p fd))))))))

(stream-test a-stream-closed-after-its-macro-closes-nothing-else
  (with-server-socket (listener :host "127.0.0.1")
    (let ((port (address-port (socket-local-address listener)))
          (s nil) (number nil) (reused nil))
      (unwind-protect
           (progn
             (with-client-socket (fd :host "127.0.0.1" :port port :timeout 5)
               (setf s (make-socket-stream fd) number fd))
             ;; The macro closed it; the number goes to a new socket...
             (setf reused (socket-create +af-inet+ +sock-stream+ 0))
             (is (= number reused))
             ;; ... which the stale stream's CLOSE must not close.
             (finishes (close s))
             (is (fd-open-p reused)))
        (when (and reused (fd-open-p reused)) (socket-close reused))
        (let ((a (ignore-errors (socket-accept listener :timeout 1))))
          (when a (socket-close a)))))))

(stream-test close-fd-nil-leaves-the-fd
  (multiple-value-bind (a b) (socket-pair)
    (let ((s (make-socket-stream a :close-fd nil)))
      (close s)
      (is (fd-open-p a)))
    (socket-close a)
    (socket-close b)))

;;; Conditions

(stream-test socket-stream-failures-are-stream-errors
  (multiple-value-bind (a b) (socket-pair)
    (with-socket-stream (s a :timeout 0.05)
      (let ((c (handler-case (progn (read-byte s) nil) (error (e) e))))
        (is (typep c 'socket-stream-timeout))
        (is (typep c 'socket-timeout))
        (is (typep c 'socket-error))
        (is (typep c 'stream-error))
        (is (eq s (stream-error-stream c)))
        (is (eq :etimedout (epsilon-error-name c))))
      (socket-close b)
      (let ((c (handler-case (loop repeat 100 do (write-line "x" s) (force-output s))
                 (error (e) e))))
        (is (typep c 'socket-stream-error))
        (is (typep c 'socket-error))
        (is (typep c 'stream-error))
        (is (eq s (stream-error-stream c)))
        (is (member (epsilon-error-name c) '(:epipe :econnreset)) "~A" c)
        ;; What was not sent stays buffered: abort drops it.
        (close s :abort t)))))

(stream-test tls-stream-failures-are-stream-errors
  (multiple-value-bind (client results)
      (epsilon.linux.tests::with-tls-server (port :clients 2)
          (let ((n 0))
            (lambda (conn)
              (if (= 1 (incf n))
                  (sleep 0.5)                     ; silent: the client times out
                  (tls-connection-free conn))     ; gone without close_notify
              :done))
        (list
         (epsilon.linux.tests::with-tls-client (c port)
           (with-tls-stream (s c :timeout 0.1)
             (let ((e (handler-case (progn (read-byte s) nil) (error (e) e))))
               (list (typep e 'tls-stream-timeout) (typep e 'tls-timeout)
                     (typep e 'stream-error) (eq s (stream-error-stream e))))))
         (epsilon.linux.tests::with-tls-client (c port)
           (with-tls-stream (s c)
             (let ((e (handler-case (progn (read-line s) nil) (error (e) e))))
               (list (typep e 'tls-stream-unexpected-eof) (typep e 'tls-unexpected-eof)
                     (typep e 'tls-error) (typep e 'stream-error)
                     (eq s (stream-error-stream e))))))))
    (is (equal '((t t t t) (t t t t t)) client))
    (is (equal '(:done :done) results))))

(stream-test tls-stream-handshake-failure-is-a-stream-error
  (multiple-value-bind (client results)
      (epsilon.linux.tests::with-tls-server (port) (lambda (conn) conn :done)
        (epsilon.linux.tests::with-fd (fd (epsilon.linux.tests::connect-to port))
          (with-tls-context (ctx)              ; trusts the system CAs only
            (with-tls-connection (c ctx fd :hostname "localhost" :timeout 10)
              (let ((s (make-tls-stream c)))
                (let ((e (handler-case (progn (read-byte s) nil) (error (e) e))))
                  (close s :abort t)
                  (list (typep e 'tls-verification-error) (typep e 'stream-error)
                        (eq s (stream-error-stream e)))))))))
    (is (equal '(t t t) client))
    (is (typep (first results) 'error) "the server saw ~S" results)))

(defun closed-error-of (s thunk)
  (let ((e (handler-case (progn (funcall thunk) nil) (error (e) e))))
    (list (typep e 'stream-closed-error) (typep e 'stream-error)
          (and e (eq s (stream-error-stream e)))
          (and e (search "is closed" (princ-to-string e)) t)
          (and e (search (prin1-to-string s) (princ-to-string e)) t))))

(defun closed-errors (s)
  (close s)
  (mapcar (lambda (thunk) (closed-error-of s thunk))
          (list (lambda () (read-char s)) (lambda () (read-byte s))
                (lambda () (read-line s)) (lambda () (listen s))
                (lambda () (write-char #\a s)) (lambda () (write-byte 1 s))
                (lambda () (write-string "abc" s)) (lambda () (force-output s))
                (lambda () (finish-output s))
                (lambda () (read-sequence (make-string 3) s))
                (lambda () (write-sequence (octets '(1 2)) s)))))

(stream-test closed-streams-say-so
  (let ((all-true (make-list 11 :initial-element '(t t t t t))))
    (multiple-value-bind (a b) (socket-pair)
      (let ((s (make-socket-stream a)))
        (is (equal all-true (closed-errors s))))
      (socket-close b))
    (epsilon.linux.tests::with-stream-pair (a b)
      (with-tls-context (ctx :verify nil)
        (with-tls-connection (c ctx a)
          (let ((s (make-tls-stream c)))
            (is (equal all-true (closed-errors s)))))))))

(stream-test external-format-and-printed-form
  (multiple-value-bind (a b) (socket-pair)
    (let ((u (make-socket-stream a :close-fd nil))
          (l (make-socket-stream b :close-fd nil :external-format :latin-1)))
      (is (eq :utf-8 (stream-external-format u)))
      (is (eq :latin-1 (stream-external-format l)))
      (let ((text (prin1-to-string u)))
        (is (search (format nil "fd ~D" a) text) "~A" text)
        (is (search "open" text) "~A" text))
      (close u)
      (is (search "closed" (prin1-to-string u)))
      (close l))
    (socket-close a)
    (socket-close b))
  (with-open-file (f "/dev/null" :external-format :latin-1)
    (let ((format (stream-external-format f)))
      (is (eq :latin-1 (if (consp format) (first format) format))
          "other streams answer as before: ~S" format)))
  (epsilon.linux.tests::with-stream-pair (a b)
    (with-tls-context (ctx :verify nil)
      (with-tls-connection (c ctx a)
        (let ((s (make-tls-stream c :external-format :latin-1)))
          (is (eq :latin-1 (stream-external-format s)))
          (is (eq :latin-1 (tls-stream-external-format s)))
          (let ((text (prin1-to-string s)))
            (is (search (format nil "client fd ~D" a) text) "~A" text)
            (is (search "open" text) "~A" text))
          (close s)
          (is (search "closed" (prin1-to-string s))))))))

;;; No consing per byte

(defun consed-reading (s count function)
  (let ((before (sb-ext:get-bytes-consed)))
    (dotimes (i count) (funcall function s))
    (- (sb-ext:get-bytes-consed) before)))

(stream-test read-byte-and-read-char-cons-nothing-per-byte
  (let ((n 200000))
    (multiple-value-bind (a b) (socket-pair)
      (let ((writer (sb-thread:make-thread
                     (lambda ()
                       ;; The reader may stop early and close: a broken pipe then.
                       (handler-case
                           (with-socket-stream (out a)
                             (loop repeat 3
                                   do (write-sequence (make-string n :initial-element #\a) out)))
                         (socket-error () nil))))))
        (with-socket-stream (in b :timeout 10)
          (read-byte in)
          (unread-char (read-char in) in)
          (let ((bytes (epsilon.linux.tests::least-consing
                        (lambda () (values (consed-reading in (floor n 3) #'read-byte) 0))))
                (chars (epsilon.linux.tests::least-consing
                        (lambda () (values (consed-reading in (floor n 3) #'read-char) 0)))))
            ;; Fills (a few per 64 KiB) may cons a little; a per-byte cost
            ;; would show as at least N/3 bytes.
            (is (< bytes 4096) "read-byte consed ~D bytes for ~D bytes" bytes (floor n 3))
            (is (< chars 4096) "read-char consed ~D bytes for ~D chars" chars (floor n 3))))
        (sb-thread:join-thread writer :timeout 20)))))

(stream-test stream-closed-in-another-thread-while-the-macro-exits
  ;; A thread closes the stream while the macro's thread leaves the macro,
  ;; both at once: exactly one closes the fd, neither signals.  (With two
  ;; closes, one would be EBADF, or close another thread's new socket.)
  (with-server-socket (listener :host "127.0.0.1" :backlog 128)
    (let ((port (address-port (socket-local-address listener)))
          (errors '()))
      (loop repeat 50
            do (let* ((start (sb-thread:make-semaphore))
                      (closer nil))
                 (handler-case
                     (with-client-socket (fd :host "127.0.0.1" :port port :timeout 5)
                       (let ((s (make-socket-stream fd)))
                         (setf closer (sb-thread:make-thread
                                       (lambda ()
                                         (sb-thread:wait-on-semaphore start)
                                         (handler-case (progn (close s) nil)
                                           (error (e) e)))))
                         (sb-thread:signal-semaphore start)))
                   (error (e) (push e errors)))
                 (let ((e (sb-thread:join-thread closer :timeout 20)))
                   (when e (push e errors)))
                 (socket-close (socket-accept listener :timeout 5))))
      (is (null errors) "~D close errors, such as ~A" (length errors) (first errors)))))

(stream-test writes-cons-nothing-per-byte
  (multiple-value-bind (a b) (socket-pair)
    (let ((reader (sb-thread:make-thread
                   (lambda ()
                     (with-socket-stream (in b :element-type '(unsigned-byte 8))
                       (let ((buf (make-array 65536 :element-type '(unsigned-byte 8))))
                         (loop until (zerop (read-sequence buf in)))))))))
      (with-socket-stream (out a :timeout 20)
        (flet ((consed (function)
                 (epsilon.linux.tests::least-consing
                  (lambda ()
                    (let ((before (sb-ext:get-bytes-consed)))
                      (dotimes (i 100000) (funcall function out))
                      (values (- (sb-ext:get-bytes-consed) before) 0))))))
          (let ((bytes (consed (lambda (s) (write-byte 65 s))))
                (chars (consed (lambda (s) (write-char #\a s))))
                (wide (consed (lambda (s) (write-char #\λ s)))))
            (is (< bytes 4096) "write-byte consed ~D bytes for 100000" bytes)
            (is (< chars 4096) "write-char consed ~D bytes for 100000" chars)
            (is (< wide 4096) "write-char of a 2-byte character consed ~D bytes" wide)))
        (finish-output out))
      (sb-thread:join-thread reader :timeout 20))))
