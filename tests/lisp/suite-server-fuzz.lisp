;;;; SPDX-License-Identifier: MIT
;;;; suite-server-fuzz.lisp - randomized property tests of the example
;;;; server's untrusted-input paths: the HTTP request parser (PARSE-REQUEST
;;;; and the loop's PROCESS, which splits pipelined requests, skips bodies
;;;; and answers heads that never end with 413) and the WebSocket handshake
;;;; and frame decoder (WS-HANDSHAKE, WS-FRAMES).
;;;;
;;;; Inputs are generated requests and frames, half of them mutated (bytes
;;;; flipped, inserted, deleted, cut, repeated, CR/LF/NUL/DEL injected).  A
;;;; generated request that was not mutated has a known answer, checked
;;;; against the parser's; every input, mutated or not, must come back as
;;;; one of the documented answers (200, 404, 405, or 400 / 413 / 501 / 505
;;;; with the connection closed; for WebSocket, echoed frames or a close
;;;; with 1002 / 1009) and never as a Lisp condition.
;;;;
;;;; EPSILON_FUZZ_INPUTS (default 100000) inputs per target;
;;;; EPSILON_FUZZ_INPUTS=1000000 is the long run.  EPSILON_FUZZ_SEED
;;;; (default 20261203) fixes the inputs: input I of a run comes from a
;;;; random state seeded with SEED + I, and a failure names both.

(in-package #:epsilon.linux.tests)

(def-suite server-fuzz :in epsilon-linux
  :description "Randomized inputs against the example server's HTTP parser and WebSocket decoder.")

(defpackage #:epsilon.linux.tests.server-fuzz
  (:use #:cl #:fiveam #:epsilon.net.core)
  (:local-nicknames (#:s #:epsilon.examples.server)))

(in-package #:epsilon.linux.tests.server-fuzz)

(defun env-integer (name default)
  (let ((v (sb-ext:posix-getenv name)))
    (or (and v (parse-integer v :junk-allowed t)) default)))

(defun inputs () (env-integer "EPSILON_FUZZ_INPUTS" 100000))
(defun seed () (env-integer "EPSILON_FUZZ_SEED" 20261203))

(defvar *rs* (make-random-state t) "The random state of the input being made.")

(defun rnd (n) (random n *rs*))
(defun chance (p) (< (random 1.0 *rs*) p))
(defun pick (list) (nth (rnd (length list)) list))

(defun bytes (&rest parts)
  "PARTS (strings, LATIN-1, and octet vectors) concatenated."
  (let ((out (make-array (reduce #'+ parts :key #'length) :element-type '(unsigned-byte 8)))
        (i 0))
    (dolist (p parts out)
      (etypecase p
        (string (loop for c across p do (setf (aref out i) (char-code c)) (incf i)))
        (vector (replace out p :start1 i) (incf i (length p)))))))

(defparameter *crlf* (coerce '(#\Return #\Newline) 'string))

;;; Mutations

(defun mutate (octets)
  "OCTETS with one to four random edits."
  (let ((v (make-array (length octets) :element-type '(unsigned-byte 8)
                                       :adjustable t :fill-pointer t
                                       :initial-contents octets)))
    (flet ((at () (rnd (max 1 (length v))))
           (special-byte () (pick '(0 9 10 13 32 58 127 128 255 44 47 63))))
      (loop repeat (1+ (rnd 4))
            do (case (rnd 7)
                 (0 (when (plusp (length v)) (setf (aref v (at)) (rnd 256))))
                 (1 (when (plusp (length v))
                      (setf (aref v (at)) (logxor (aref v (at)) (ash 1 (rnd 8))))))
                 (2 (let ((i (at)) (b (if (chance 0.5) (special-byte) (rnd 256))))
                      (vector-push-extend 0 v)
                      (replace v v :start1 (1+ i) :start2 i :end2 (1- (length v)))
                      (setf (aref v i) b)))
                 (3 (when (plusp (length v))
                      (let ((i (at)))
                        (replace v v :start1 i :start2 (1+ i))
                        (decf (fill-pointer v)))))
                 (4 (setf (fill-pointer v) (rnd (1+ (length v)))))
                 (5 (when (plusp (length v))
                      ;; Repeat a slice.
                      (let* ((i (at)) (j (min (length v) (+ i 1 (rnd 40))))
                             (slice (subseq v i j)))
                        (loop for b across slice do (vector-push-extend b v)))))
                 (6 (when (plusp (length v)) (setf (aref v (at)) (special-byte)))))))
    (coerce v '(simple-array (unsigned-byte 8) (*)))))

;;; Requests, with their expected answer when well-formed

(defstruct expect id head-p close body keep-alive)

(defun random-token ()
  (let ((chars "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~"))
    (coerce (loop repeat (1+ (rnd 12)) collect (char chars (rnd (length chars)))) 'string)))

(defun random-value ()
  (coerce (loop repeat (rnd 20) collect (code-char (+ 32 (rnd 95)))) 'string))

(defun well-formed-request ()
  "A request head (and its body) the parser must accept, as octets, and
what it must answer."
  (let* ((method (pick '("GET" "HEAD" "POST" "DELETE" "OPTIONS" "PUT")))
         (path (pick '("/" "/stats" "/nope" "/a/b" "/statsx")))
         (suffix (pick '("" "" "?q=1" "#frag" "?x#y")))
         (http10 (chance 0.3))
         (hosts (if (chance 0.85) 1 (pick '(0 2))))
         (options (loop repeat (rnd 3) collect (pick '("close" "keep-alive" "Keep-Alive" "CLOSE" "upgrade"))))
         (length (and (chance 0.3) (rnd 50)))
         (chunked (chance 0.05))
         (ows (lambda () (pick '("" " " "  " "	"))))
         (lines '()))
    (dotimes (i hosts) (push (format nil "~A:~A~A~A" (pick '("Host" "host" "HOST")) (funcall ows) "a" (funcall ows)) lines))
    (when options
      (push (format nil "Connection: ~{~A~^, ~}" options) lines))
    (when length
      (push (format nil "~A: ~A~D" (pick '("Content-Length" "content-length")) (funcall ows) length) lines)
      (when (chance 0.2) (push (format nil "Content-Length: ~D" length) lines)))
    (when chunked (push "Transfer-Encoding: chunked" lines))
    (dotimes (i (rnd 4)) (push (format nil "X-~A: ~A" (random-token) (random-value)) lines))
    (setf lines (let ((v (coerce lines 'vector)))
                  ;; Any order.
                  (loop for i from (1- (length v)) downto 1
                        do (rotatef (aref v i) (aref v (rnd (1+ i)))))
                  (coerce v 'list)))
    (let* ((close-option (some (lambda (o) (string-equal o "close")) options))
           (keep-option (some (lambda (o) (string-equal o "keep-alive")) options))
           (route (cond ((string= path "/") 0) ((string= path "/stats") 1) (t 2)))
           (id (cond (chunked 6)
                     ((if http10 (> hosts 1) (/= hosts 1)) 4)
                     ((and (< route 2) (not (member method '("GET" "HEAD") :test #'string=))) 3)
                     (t route)))
           (error-p (member id '(4 6)))
           (head (bytes (format nil "~A ~A~A HTTP/1.~D" method path suffix (if http10 0 1)) *crlf*
                        (format nil "~{~A~A~}" (loop for l in lines append (list l *crlf*)))
                        *crlf*)))
      (values head
              (make-expect :id id
                           :head-p (and (not error-p) (string= method "HEAD"))
                           :close (or error-p close-option (and http10 (not keep-option)))
                           :body (if error-p 0 (or length 0))
                           :keep-alive (and (not error-p) http10 keep-option (not close-option)))))))

(defun odd-request ()
  "A request built from parts that are often wrong."
  (bytes (pick '("GET" "HEAD" "POST" "get" "GeT" "G(T" "" " GET" "GET " "PRI" "X"))
         (pick '(" " "  " "" "	"))
         (pick '("/" "/stats" "*" "http://a/" "" "/x y" "/%00" "/ü"))
         (pick '(" " "" "  "))
         (pick '("HTTP/1.1" "HTTP/1.0" "HTTP/2.0" "HTTP/1.2" "HTTX/1.1" "HTTP/1.x" "HTTP/11" "HTTP/0.9" ""))
         (pick (list *crlf* (string #\Newline) (string #\Return) ""))
         (format nil "~{~A~}"
                 (loop repeat (rnd 5)
                       collect (format nil "~A~A~A~A"
                                       (pick (list "Host" "Connection" "Content-Length" "Transfer-Encoding"
                                                   (random-token) "" "Bad Name" "Host "))
                                       (pick '(":" ": " "" " :"))
                                       (pick (list "a" "close" "keep-alive" "12" "-1" "1 2" "99999999999999999"
                                                   "chunked" (random-value) ""))
                                       (pick (list *crlf* (string #\Newline) (format nil "~A " *crlf*))))))
         *crlf*))

;;; HTTP: the parser, and PROCESS over pipelined requests

(defparameter *documented-statuses* '(200 404 405 400 413 501 505)
  "Every status the server answers with.")

(defun check-parse (octets expect)
  "Parse OCTETS' first head, if complete.  A problem as a string, or NIL."
  (let ((end (s:find-head-end octets 0 (length octets))))
    (when (plusp end)
      (multiple-value-bind (id head-p close body keep-alive) (s:parse-request octets 0 end)
        (cond ((not (and (typep id '(integer 0 7)) (/= id 5)))
               (format nil "response index ~S" id))
              ((not (typep body '(integer 0))) (format nil "body length ~S" body))
              ((and (member id '(4 6 7)) (not close)) "an error answer that keeps the connection")
              ((and expect
                    (not (equal (list id head-p close body keep-alive)
                                (list (expect-id expect) (expect-head-p expect)
                                      (and (expect-close expect) t) (expect-body expect)
                                      (and (expect-keep-alive expect) t)))))
               (format nil "parsed as ~S, expected ~S"
                       (list id head-p close body keep-alive) expect)))))))

(defvar *known* nil)

(defun known-responses ()
  "Every response the server precomputes, whole and head only (HEAD), plain
and HTTP/1.0 keep-alive, as strings."
  (or *known*
      (setf *known*
            (flet ((text (o) (sb-ext:octets-to-string o :external-format :latin-1)))
              (loop for table in (list s::*responses* s::*keep-alive-responses*)
                    for heads in (list s::*head-lengths* s::*keep-alive-head-lengths*)
                    append (loop for r across table for h across heads
                                 when r collect (text r) and collect (text (subseq r 0 h))))))))

(defun statuses (octets)
  "The status codes of the responses in OCTETS (the server's output), or
:MALFORMED when it is not a sequence of the server's own responses."
  (let* ((text (sb-ext:octets-to-string octets :external-format :latin-1))
         (known (known-responses))
         (starts (loop with p = 0
                       for q = (search "HTTP/1.1 " text :start2 p)
                       while q collect q do (setf p (1+ q)))))
    (unless (or (null text) (zerop (length text)) (eql 0 (first starts)))
      (return-from statuses :malformed))
    (loop for (a b) on starts
          for one = (subseq text a (or b (length text)))
          unless (or (member one known :test #'string=)
                     ;; /stats, made per request.
                     (and (eql 0 (search "HTTP/1.1 200 OK" one))
                          (search "Content-Type: text/plain" one)
                          (or (search "requests " one) ; HEAD: the head only
                              (= (+ 4 (search (format nil "~A~A" *crlf* *crlf*) one))
                                 (length one)))))
            do (return-from statuses :malformed)
          collect (parse-integer one :start 9 :end 12))))

(defstruct rig server conn peer scratch)

(defun make-http-rig ()
  "A server with no listener and one connection over a socket pair: PROCESS
stages its answers there, and the test reads them from the other end."
  (multiple-value-bind (a b) (socket-pair :nonblocking t)
    (let* ((server (s:make-server :port nil :tls-port nil :max-fds 64))
           (conn (s::make-conn)))
      (setf (s::conn-fd conn) a (s::conn-open conn) t)
      (make-rig :server server :conn conn :peer b
                :scratch (make-array 65536 :element-type '(unsigned-byte 8))))))

(defun close-rig (rig)
  (s::release-out (rig-server rig) (rig-conn rig))
  (socket-close (s::conn-fd (rig-conn rig)))
  (socket-close (rig-peer rig))
  (s:close-server (rig-server rig)))

(defun drain (rig)
  "What the peer end has received, as one octet vector."
  (let ((scratch (rig-scratch rig)) (got 0))
    (loop (let ((n (socket-recv-into (rig-peer rig) scratch :start got :flags +msg-dontwait+)))
            (when (or (null n) (zerop n)) (return))
            (incf got n)
            (when (= got (length scratch))
              (let ((bigger (make-array (* 2 got) :element-type '(unsigned-byte 8))))
                (replace bigger scratch)
                (setf scratch bigger (rig-scratch rig) bigger)))))
    (subseq scratch 0 got)))

(defun reset-conn (rig)
  (let ((conn (rig-conn rig)))
    (s::release-out (rig-server rig) conn)
    (setf (s::conn-close-after conn) nil (s::conn-body-left conn) 0
          (s::server-olen (rig-server rig)) 0)))

(defun check-process (rig octets)
  "Run the loop's PROCESS over OCTETS (maybe several requests) and send
what it staged.  A problem as a string, or NIL."
  (reset-conn rig)
  (let* ((server (rig-server rig)) (conn (rig-conn rig))
         (p (s::process server conn octets 0 (length octets))))
    (s::flush-staged server conn)
    (let ((statuses (statuses (drain rig))))
      (cond ((not (<= 0 p (length octets))) (format nil "PROCESS returned ~S" p))
            ((plusp (s::pending-bytes conn)) "output left pending on an empty socket pair")
            ((eq statuses :malformed) "a response that is not one of the server's")
            ((notevery (lambda (c) (member c *documented-statuses*)) statuses)
             (format nil "statuses ~S" statuses))
            ((and (< p (length octets)) (not (s::conn-close-after conn))
                  (plusp (s::conn-body-left conn)))
             "unconsumed bytes while a body is being skipped")))))

(defun http-input (i)
  "Input I: octets and, when it was generated well-formed and not
mutated, its expected answer."
  (setf *rs* (sb-ext:seed-random-state (+ (seed) i)))
  (case (rnd 10)
    ((0 1 2 3 4 5)
     (multiple-value-bind (head expect) (well-formed-request)
       (if (chance 0.5)
           (values (mutate head) nil)
           (values head expect))))
    ((6 7) (values (if (chance 0.5) (mutate (odd-request)) (odd-request)) nil))
    (8 ;; Pipelined: several requests, bodies included.
     (values (apply #'bytes (loop repeat (+ 2 (rnd 4))
                                  collect (multiple-value-bind (head expect) (well-formed-request)
                                            (bytes (if (chance 0.3) (mutate head) head)
                                                   (make-array (if (and (> (expect-body expect) 0) (chance 0.8))
                                                                   (expect-body expect) 0)
                                                               :element-type '(unsigned-byte 8)
                                                               :initial-element 65)))))
             nil))
    (t ;; Long heads: the 8 KiB limit (413).
     (values (bytes "GET / HTTP/1.1" *crlf* "Host: a" *crlf* "X-Big: "
                    (make-string (+ 8000 (rnd 400)) :initial-element #\x)
                    (if (chance 0.5) (format nil "~A~A" *crlf* *crlf*) ""))
             nil))))

(test (http-parser-answers-every-input-as-documented :suite epsilon.linux.tests::server-fuzz)
  (let ((rig (make-http-rig))
        (n (inputs)) (seed (seed)) (failures 0) (checked 0))
    (unwind-protect
         (dotimes (i n)
           (multiple-value-bind (octets expect) (http-input i)
             (let ((problem (handler-case (or (check-parse octets expect)
                                              (check-process rig octets))
                              (error (e) (format nil "signalled ~A: ~A" (type-of e) e)))))
               (when expect (incf checked))
               (when problem
                 (incf failures)
                 (when (<= failures 5)
                   (fail "EPSILON_FUZZ_SEED=~D input ~D: ~A~%  input: ~S" seed i problem
                         (sb-ext:octets-to-string octets :external-format :latin-1)))))))
      (close-rig rig))
    (is (zerop failures) "~D of ~D inputs failed (EPSILON_FUZZ_SEED=~D)" failures n seed)
    (is (> checked (floor n 5)) "only ~D inputs with a known answer" checked)))

;;; WebSocket: the handshake and the frame decoder

(defun ws-frame (opcode payload &key (fin t) (mask t) (rsv 0) length-form)
  "A client frame; LENGTH-FORM forces the 7/16/64-bit length encoding."
  (let* ((n (length payload))
         (key (loop repeat 4 collect (rnd 256)))
         (form (or length-form (cond ((< n 126) 7) ((< n 65536) 16) (t 64))))
         (head (append (list (logior (if fin #x80 0) (ash rsv 4) opcode))
                       (ecase form
                         (7 (list (logior (if mask #x80 0) n)))
                         (16 (list (logior (if mask #x80 0) 126) (ash n -8) (logand n 255)))
                         (64 (cons (logior (if mask #x80 0) 127)
                                   (loop for s from 56 downto 0 by 8 collect (ldb (byte 8 s) n)))))
                       (when mask key))))
    (bytes (coerce head '(vector (unsigned-byte 8)))
           (coerce (loop for b across payload for i from 0
                         collect (if mask (logxor b (nth (mod i 4) key)) b))
                   '(vector (unsigned-byte 8))))))

(defun random-payload (max)
  (coerce (loop repeat (rnd (1+ max)) collect (rnd 256)) '(vector (unsigned-byte 8))))

(defun ws-input (i)
  "Input I: the bytes a client sends after a good handshake, and whether
to send a (maybe broken) handshake first instead."
  (setf *rs* (sb-ext:seed-random-state (+ (seed) i 7777777)))
  (let ((frames
          (loop repeat (1+ (rnd 5))
                collect (case (rnd 12)
                          ((0 1 2) (ws-frame (pick '(1 2)) (random-payload 200)))
                          (3 (ws-frame (pick '(1 2)) (random-payload 300) :fin nil))
                          (4 (ws-frame 0 (random-payload 100) :fin (chance 0.5)))
                          (5 (ws-frame 9 (random-payload 125)))
                          (6 (ws-frame 10 (random-payload 20)))
                          (7 (ws-frame 8 (random-payload 4)))
                          (8 (ws-frame (rnd 16) (random-payload 130) :fin (chance 0.5)
                                       :mask (chance 0.7) :rsv (if (chance 0.3) (rnd 8) 0)))
                          (9 (ws-frame 2 (random-payload 10) :length-form (pick '(16 64))))
                          (10 ;; A length far beyond the limit.
                           (bytes (coerce (list #x82 (logior #x80 127)) '(vector (unsigned-byte 8)))
                                  (coerce (loop repeat 8 collect (rnd 256)) '(vector (unsigned-byte 8)))
                                  (random-payload 8)))
                          (t (random-payload 40))))))
    (let ((all (apply #'bytes frames)))
      (values (if (chance 0.4) (mutate all) all)
              ;; A handshake first for one input in five (the frames then
              ;; follow only if it succeeds); the others start open.
              (and (chance 0.2)
                   (let ((h (bytes "GET / HTTP/1.1" *crlf* "Host: a" *crlf*
                                   (pick '("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
                                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
                                           "Sec-WebSocket-Key:" "X: y" ""))
                                   *crlf* *crlf*)))
                     (if (chance 0.5) (mutate h) h)))))))

(defun server-frames (octets)
  "The frames in OCTETS, the server's output: a list of (opcode . payload),
or :MALFORMED."
  (let ((p 0) (n (length octets)) (out '()))
    (loop while (< p n)
          do (when (< (- n p) 2) (return-from server-frames :malformed))
             (let* ((b0 (aref octets p)) (b1 (aref octets (1+ p)))
                    (len (logand b1 127)) (q (+ p 2)))
               (unless (and (logbitp 7 b0) (not (logbitp 7 b1)) (zerop (logand b0 #x70)))
                 (return-from server-frames :malformed))
               (case len
                 (126 (setf len (+ (ash (aref octets q) 8) (aref octets (1+ q))) q (+ q 2)))
                 (127 (setf len (loop for k below 8 sum (ash (aref octets (+ q k)) (* 8 (- 7 k))))
                            q (+ q 8))))
               (when (> (+ q len) n) (return-from server-frames :malformed))
               (push (cons (logand b0 15) (subseq octets q (+ q len))) out)
               (setf p (+ q len))))
    (nreverse out)))

(defun check-ws (rig octets handshake)
  "Feed OCTETS to a fresh WebSocket connection the way WS-EVENT does, after
HANDSHAKE (its answer checked; a failed one leaves the connection closing),
or with the handshake done when HANDSHAKE is NIL.  A problem as a string,
or NIL."
  (reset-conn rig)
  (let* ((server (rig-server rig)) (conn (rig-conn rig))
         (ws (s::make-ws)))
    (flet ((feed (bytes)
             ;; What WS-EVENT does with what it read.
             (loop with k = 0
                   while (and (< k (length bytes)) (not (s::ws-closing ws)))
                   do (let ((room (- (length (s::ws-buf ws)) (s::ws-len ws))))
                        (when (zerop room)
                          (let ((bigger (make-array (* 2 (length (s::ws-buf ws)))
                                                    :element-type '(unsigned-byte 8))))
                            (replace bigger (s::ws-buf ws))
                            (setf (s::ws-buf ws) bigger room (- (length bigger) (s::ws-len ws)))))
                        (let ((m (min room (- (length bytes) k))))
                          (replace (s::ws-buf ws) bytes :start1 (s::ws-len ws) :start2 k :end2 (+ k m))
                          (incf (s::ws-len ws) m) (incf k m))
                        (let ((p 0))
                          (unless (s::ws-open ws)
                            (setf p (or (s::ws-handshake server conn ws) (s::ws-len ws)))
                            (unless (s::ws-open ws)
                              (setf p (if (s::ws-closing ws) (s::ws-len ws) 0))))
                          (when (s::ws-open ws)
                            (setf p (s::ws-frames server conn ws p)))
                          (unless (<= 0 p (s::ws-len ws))
                            (return-from check-ws (format nil "consumed ~S of ~S" p (s::ws-len ws))))
                          (replace (s::ws-buf ws) (s::ws-buf ws) :start2 p :end2 (s::ws-len ws))
                          (decf (s::ws-len ws) p))))))
      (if (null handshake)
          (setf (s::ws-open ws) t)
          (feed handshake))
      (when handshake
       (let* ((out (drain rig))
             (head-end (search (bytes *crlf* *crlf*) out)))
        (unless head-end
          ;; A handshake whose head never ends waits for more; else it is
          ;; answered.
          (return-from check-ws
            (and (plusp (s:find-head-end (s::ws-buf ws) 0 (min (s::ws-len ws) s:+max-head+)))
                 "no handshake answer")))
        (let ((status (parse-integer (sb-ext:octets-to-string out :start 9 :end 12
                                                                  :external-format :latin-1))))
          (unless (member status '(101 400 431))
            (return-from check-ws (format nil "handshake answered ~D" status)))
          (unless (s::ws-open ws)
            (return-from check-ws (and (= status 101) "101 but not open"))))))
      (feed octets)
      (let ((frames (server-frames (drain rig))))
        (cond ((eq frames :malformed) "the server sent a malformed frame")
              ((notevery (lambda (f) (member (car f) '(1 2 8 10))) frames)
               (format nil "server opcodes ~S" (mapcar #'car frames)))
              ((and (find 8 frames :key #'car) (not (s::ws-closing ws)))
               "a close sent but the connection not closing")
              ((> (s::pending-bytes conn) 0) "output left pending on an empty socket pair"))))))

(test (websocket-decoder-answers-every-input-as-documented :suite epsilon.linux.tests::server-fuzz)
  (let ((rig (make-http-rig))
        (n (inputs)) (seed (seed)) (failures 0))
    (unwind-protect
         (dotimes (i n)
           (multiple-value-bind (octets handshake) (ws-input i)
             (let ((problem (handler-case (check-ws rig octets handshake)
                              (error (e) (format nil "signalled ~A: ~A" (type-of e) e)))))
               (when problem
                 (incf failures)
                 (when (<= failures 5)
                   (fail "EPSILON_FUZZ_SEED=~D input ~D (WebSocket): ~A~%  input: ~S~@[~%  handshake: ~S~]"
                         seed i problem octets handshake))))))
      (close-rig rig))
    (is (zerop failures) "~D of ~D inputs failed (EPSILON_FUZZ_SEED=~D)" failures n seed)))

;;; The checks can fail: a parser that answers a good request wrongly, or
;;; signals, is caught.

(test (http-fuzz-checks-catch-a-wrong-answer :suite epsilon.linux.tests::server-fuzz)
  (setf *rs* (sb-ext:seed-random-state 1))
  (multiple-value-bind (head expect) (well-formed-request)
    (is (null (check-parse head expect)))
    (let ((wrong (copy-expect expect)))
      (setf (expect-id wrong) (if (= (expect-id expect) 2) 0 2))
      (is (stringp (check-parse head wrong)))))
  (is (eq :malformed (statuses (bytes "HTTP/1.1 200 OK" *crlf* *crlf*))))
  (is (equal '(200) (statuses (s:hello-response))))
  (is (eq :malformed (server-frames (bytes (coerce '(#x81 #x85 1 2 3 4 5) '(vector (unsigned-byte 8))))))))
