;;;; SPDX-License-Identifier: MIT
;;;; suite-examples.lisp - the package documentation's server examples
;;;; (examples/server/patterns.lisp): CREATE-EPOLL-SERVER (an echo server)
;;;; and CREATE-HTTP-SERVER, each run in a thread against real clients on
;;;; loopback (a Lisp client and curl), then stopped and joined.

(in-package #:epsilon.linux.tests)

(eval-when (:compile-toplevel :load-toplevel :execute)
  (require :sb-introspect))

(def-suite examples :in epsilon-linux
  :description "The documentation's epoll and HTTP server examples.")

(defpackage #:epsilon.linux.tests.examples
  (:use #:cl #:fiveam #:epsilon.net.core #:epsilon.sys.epoll)
  (:import-from #:epsilon.examples.server
                #:create-epoll-server #:create-http-server
                #:create-websocket-server #:websocket-accept
                #:stop-server #:server-port #:server-stats))

(in-package #:epsilon.linux.tests.examples)

(defmacro example-test (name &body body)
  "A test that also checks the library's fd and handle counts are the same
after BODY as before."
  `(test (,name :suite epsilon.linux.tests::examples)
     (epsilon.examples.server:fd-limit)   ; its first call makes a libffi handle, kept
     (let ((fds (epsilon.linux:open-fd-count))
           (handles (epsilon.linux:open-handle-count)))
       (unwind-protect (progn ,@body)
         (is (= fds (epsilon.linux:open-fd-count)) "fd leak in ~A" ',name)
         (is (= handles (epsilon.linux:open-handle-count)) "handle leak in ~A" ',name)))))

(defun call-with-example (runner function)
  "Run RUNNER (a function of a READY callback that runs a server until
stopped) in a thread; call FUNCTION with the server once it listens; then
stop the server and join the thread, whose value is returned second."
  (let* ((mailbox (sb-thread:make-semaphore))
         (server nil)
         (thread (sb-thread:make-thread
                  (lambda ()
                    (unwind-protect
                         (funcall runner (lambda (s)
                                          (setf server s)
                                          (sb-thread:signal-semaphore mailbox)))
                      ;; Ready or failed: never leave the test waiting.
                      (sb-thread:signal-semaphore mailbox)))
                  :name "example server")))
    (unless (sb-thread:wait-on-semaphore mailbox :timeout 30)
      (error "The example server did not start."))
    (let ((result nil))
      (unwind-protect (setf result (funcall function server))
        (when server (stop-server server))
        (setf result (list result (sb-thread:join-thread thread :default :timeout
                                                                :timeout 30))))
      (values-list result))))

(defun octets (string) (sb-ext:string-to-octets string :external-format :latin-1))
(defun text (octets) (sb-ext:octets-to-string octets :external-format :latin-1))

(defun recv-n (fd n)
  "Exactly N bytes from FD (fewer at end of file), bounded by a timeout."
  (let ((out (make-array n :element-type '(unsigned-byte 8)))
        (got 0))
    (loop while (< got n)
          do (let ((k (socket-recv-into fd out :start got :timeout 10)))
               (when (zerop k) (return))
               (incf got k)))
    (subseq out 0 got)))

(example-test epoll-server-echoes
  (multiple-value-bind (result thread-value)
      (call-with-example
       (lambda (ready) (create-epoll-server 0 64 :ready ready))
       (lambda (server)
         (let ((port (server-port server)))
           (is (plusp port))
           ;; Two clients at once, several messages each, one large.
           (with-client-socket (a :host "127.0.0.1" :port port :timeout 10)
             (with-client-socket (b :host "127.0.0.1" :port port :timeout 10)
               (dotimes (i 3)
                 (let ((ma (octets (format nil "hello ~D from a" i)))
                       (mb (octets (format nil "hi ~D from b" i))))
                   (socket-send a ma)
                   (socket-send b mb)
                   (is (equalp mb (recv-n b (length mb))))
                   (is (equalp ma (recv-n a (length ma))))))
               ;; 4 MiB: more than the socket buffers hold, so the echo
               ;; goes through pending output and EPOLLOUT.
               (let* ((big (let ((v (make-array (* 4 1024 1024) :element-type '(unsigned-byte 8))))
                             (dotimes (i (length v) v) (setf (aref v i) (mod (* i 7) 251)))))
                      (sender (sb-thread:make-thread
                               (lambda () (socket-send a big) t) :name "big sender")))
                 (is (equalp big (recv-n a (length big))))
                 (is (eq t (sb-thread:join-thread sender :default nil :timeout 30))))))
           ;; Closed clients are closed on the server side too.
           (loop repeat 1000
                 until (zerop (getf (server-stats server) :connections))
                 do (sleep 0.01))
           (is (zerop (getf (server-stats server) :connections)))
           (is (= 2 (getf (server-stats server) :accepted)))
           :done)))
    (is (eq :done result))
    (is (eq t thread-value))))

(example-test epoll-server-checks-its-arguments
  (signals type-error (create-epoll-server 0 0))
  (signals type-error (create-epoll-server 0 "many")))

(defun run-command (program &rest args)
  "Run PROGRAM with ARGS (bounded to 60 s): its output and exit code."
  (let* ((out (make-string-output-stream))
         (p (sb-ext:run-program "/usr/bin/timeout" (list* "60" program args)
                                :search nil :output out :error nil)))
    (values (get-output-stream-string out) (sb-ext:process-exit-code p))))

(example-test http-server-answers-curl-and-a-lisp-client
  (multiple-value-bind (result thread-value)
      (call-with-example
       (lambda (ready) (create-http-server 0 :ready ready))
       (lambda (server)
         (let ((port (server-port server)))
           (multiple-value-bind (out code)
               (run-command "/usr/bin/curl" "-s" (format nil "http://127.0.0.1:~D/" port))
             (is (zerop code))
             (is (search "Hello" out) "curl got ~S" out))
           (multiple-value-bind (out code)
               (run-command "/usr/bin/curl" "-s" "-o" "/dev/null" "-w" "%{http_code}"
                            (format nil "http://127.0.0.1:~D/nope" port))
             (is (zerop code))
             (is (string= "404" out)))
           ;; Keep-alive from a Lisp client: two requests on one connection.
           (with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
             (let ((hello (epsilon.examples.server:hello-response)))
               (dotimes (i 2)
                 (socket-send fd (octets (format nil "GET / HTTP/1.1~C~CHost: a~C~C~C~C"
                                                 #\Return #\Newline #\Return #\Newline
                                                 #\Return #\Newline)))
                 (is (equalp hello (recv-n fd (length hello)))))))
           (is (<= 3 (getf (server-stats server) :requests)))
           :served)))
    (is (eq :served result))
    (is (eq t thread-value))))

;;; The WebSocket echo server, against a client written here that masks
;;; its frames (RFC 6455 section 5.3).

(defun ws-send-frame (fd opcode payload &key (fin t) (mask t))
  (let* ((n (length payload))
         (key (vector (random 256) (random 256) (random 256) (random 256)))
         (head (append (list (logior (if fin #x80 0) opcode))
                       (cond ((< n 126) (list (logior (if mask #x80 0) n)))
                             ((< n 65536) (list (logior (if mask #x80 0) 126) (ash n -8) (logand n 255)))
                             (t (list* (logior (if mask #x80 0) 127)
                                       (loop for s from 56 downto 0 by 8 collect (ldb (byte 8 s) n)))))
                       (when mask (coerce key 'list))))
         (frame (make-array (+ (length head) n) :element-type '(unsigned-byte 8))))
    (replace frame head)
    (dotimes (i n)
      (setf (aref frame (+ (length head) i))
            (if mask (logxor (aref payload i) (aref key (mod i 4))) (aref payload i))))
    (socket-send fd frame)))

(defun ws-read-frame (fd)
  "The next frame from the server: its opcode, payload and FIN bit."
  (let* ((h (recv-n fd 2))
         (n (logand (aref h 1) 127)))
    (is (not (logbitp 7 (aref h 1))) "server frames are not masked")
    (case n
      (126 (let ((e (recv-n fd 2))) (setf n (+ (ash (aref e 0) 8) (aref e 1)))))
      (127 (let ((e (recv-n fd 8))) (setf n (loop for i below 8 sum (ash (aref e i) (* 8 (- 7 i))))))))
    (values (logand (aref h 0) 15) (recv-n fd n) (logbitp 7 (aref h 0)))))

(defun ws-handshake (fd)
  "Send the RFC 6455 example handshake; return the server's response head."
  (socket-send fd (octets (format nil "GET /chat HTTP/1.1~C~CHost: localhost~C~CUpgrade: websocket~C~CConnection: Upgrade~C~CSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==~C~CSec-WebSocket-Version: 13~C~C~C~C"
                                  #\Return #\Newline #\Return #\Newline #\Return #\Newline
                                  #\Return #\Newline #\Return #\Newline #\Return #\Newline
                                  #\Return #\Newline)))
  (let ((head (make-string-output-stream)))
    (loop with tail = ""
          for byte = (recv-n fd 1)
          while (= 1 (length byte))
          do (let ((c (code-char (aref byte 0))))
               (write-char c head)
               (setf tail (concatenate 'string (subseq tail (max 0 (- (length tail) 3))) (string c)))
               (when (string= tail (format nil "~C~C~C~C" #\Return #\Newline #\Return #\Newline))
                 (return))))
    (get-output-stream-string head)))

(defmacro with-websocket-server ((port) &body body)
  (let ((server (gensym)))
    `(multiple-value-bind (result thread-value)
         (call-with-example (lambda (ready) (create-websocket-server 0 :ready ready))
                            (lambda (,server)
                              (let ((,port (server-port ,server)))
                                ,@body
                                (loop repeat 1000
                                      until (zerop (getf (server-stats ,server) :connections))
                                      do (sleep 0.01))
                                (is (zerop (getf (server-stats ,server) :connections)))
                                :done)))
       (is (eq :done result))
       (is (eq t thread-value)))))

(example-test websocket-accept-is-the-rfc-6455-value
  (is (string= "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" (websocket-accept "dGhlIHNhbXBsZSBub25jZQ=="))))

(example-test websocket-server-echoes-pings-and-closes
  (with-websocket-server (port)
    (with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
      (let ((head (ws-handshake fd)))
        (is (eql 0 (search "HTTP/1.1 101" head)) "~S" head)
        (is (search "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" head) "~S" head))
      ;; Text echo.
      (ws-send-frame fd 1 (octets "Hello"))
      (multiple-value-bind (op payload fin) (ws-read-frame fd)
        (is (= 1 op)) (is (eq t fin)) (is (string= "Hello" (text payload))))
      ;; A fragmented message, with a ping between its fragments.
      (ws-send-frame fd 1 (octets "Hel") :fin nil)
      (ws-send-frame fd 9 (octets "are you there"))
      (multiple-value-bind (op payload) (ws-read-frame fd)
        (is (= 10 op)) (is (string= "are you there" (text payload))))
      (ws-send-frame fd 0 (octets "lo, ") :fin nil)
      (ws-send-frame fd 0 (octets "world") :fin t)
      (multiple-value-bind (op payload fin) (ws-read-frame fd)
        (is (= 1 op)) (is (eq t fin)) (is (string= "Hello, world" (text payload))))
      ;; A binary message with a 16-bit length.
      (let ((big (make-array 1000 :element-type '(unsigned-byte 8) :initial-element 7)))
        (ws-send-frame fd 2 big)
        (multiple-value-bind (op payload) (ws-read-frame fd)
          (is (= 2 op)) (is (equalp big payload))))
      ;; The close handshake: our code echoed, then end of file.
      (ws-send-frame fd 8 (make-array 2 :element-type '(unsigned-byte 8) :initial-contents '(3 232)))
      (multiple-value-bind (op payload) (ws-read-frame fd)
        (is (= 8 op)) (is (equalp #(3 232) payload)))
      (is (zerop (length (socket-recv fd 16 0 :timeout 10)))))))

;; A connection the loop closes itself (here the idle timeout, mid-message)
;; leaves nothing behind for the next connection on its descriptor.
(example-test websocket-state-does-not-outlive-its-connection
  (multiple-value-bind (result thread-value)
      (call-with-example
       (lambda (ready) (create-websocket-server 0 :ready ready))
       (lambda (server)
         (setf (epsilon.examples.server::server-idle-ms server) 300)
         (let ((port (server-port server)))
           ;; A message begun, then silence: the tick (1 s) reaps it.
           (with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
             (is (eql 0 (search "HTTP/1.1 101" (ws-handshake fd))))
             (ws-send-frame fd 1 (octets "Hel") :fin nil)
             (is (zerop (length (socket-recv fd 16 0 :timeout 10)))))
           ;; The next connection gets that descriptor, and a fresh start.
           (with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
             (is (eql 0 (search "HTTP/1.1 101" (ws-handshake fd))))
             (ws-send-frame fd 1 (octets "again"))
             (multiple-value-bind (op payload) (ws-read-frame fd)
               (is (= 1 op))
               (is (string= "again" (text payload)))))
           :done)))
    (is (eq :done result))
    (is (eq t thread-value))))

(example-test websocket-server-refuses-protocol-errors
  (with-websocket-server (port)
    (flet ((expect-close (fd code)
             (multiple-value-bind (op payload) (ws-read-frame fd)
               (is (= 8 op))
               (is (equalp (list (ash code -8) (logand code 255)) (coerce payload 'list))))
             (is (zerop (length (socket-recv fd 16 0 :timeout 10))))))
      ;; An unmasked client frame: 1002.
      (with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
        (ws-handshake fd)
        (ws-send-frame fd 1 (octets "plain") :mask nil)
        (expect-close fd 1002))
      ;; A continuation with no message begun: 1002.
      (with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
        (ws-handshake fd)
        (ws-send-frame fd 0 (octets "orphan"))
        (expect-close fd 1002))
      ;; A frame announcing more than 1 MiB: 1009.
      (with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
        (ws-handshake fd)
        (socket-send fd (make-array 14 :element-type '(unsigned-byte 8)
                                       :initial-contents '(#x82 #xff 0 0 0 0 0 #x20 0 0 1 2 3 4)))
        (expect-close fd 1009))
      ;; No Sec-WebSocket-Key: 400.
      (with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
        (socket-send fd (octets (format nil "GET / HTTP/1.1~C~CHost: a~C~C~C~C"
                                        #\Return #\Newline #\Return #\Newline #\Return #\Newline)))
        (let ((reply (text (let ((v (socket-recv fd 4096 0 :timeout 10))) v))))
          (is (eql 0 (search "HTTP/1.1 400" reply)) "~S" reply))))))

(test (documented-names-and-lambda-lists :suite epsilon.linux.tests::examples)
  "The names the package documentation's server examples show, exported
from epsilon.examples.server with the documented required arguments (the
keywords that stop them, or bind another host, come after)."
  (loop for (name required) in '(("CREATE-EPOLL-SERVER" (port max-connections))
                                 ("HANDLE-CLIENT-READ" (fd epfd))
                                 ("HANDLE-CLIENT-WRITE" (fd epfd))
                                 ("CREATE-HTTP-SERVER" (port))
                                 ("HANDLE-HTTP-EVENT" (epfd event))
                                 ("CREATE-WEBSOCKET-SERVER" (port)))
        do (multiple-value-bind (symbol status) (find-symbol name "EPSILON.EXAMPLES.SERVER")
             (is (eq :external status) "~A is not exported" name)
             (is (fboundp symbol) "~A is not a function" name)
             (is (documentation symbol 'function) "~A has no docstring" name)
             (when (fboundp symbol)
               (let ((ll (sb-introspect:function-lambda-list symbol)))
                 (is (equal (mapcar #'string required)
                            (mapcar #'string (subseq ll 0 (or (position-if (lambda (x) (member x lambda-list-keywords)) ll)
                                                              (length ll)))))
                     "~A: ~S" name ll))))))
