;;;; suite-examples.lisp - the package documentation's server examples
;;;; (examples/server/patterns.lisp): CREATE-EPOLL-SERVER (an echo server)
;;;; and CREATE-HTTP-SERVER, each run in a thread against real clients on
;;;; loopback (a Lisp client and curl), then stopped and joined.

(in-package #:epsilon.linux.tests)

(def-suite examples :in epsilon-linux
  :description "The documentation's epoll and HTTP server examples.")

(defpackage #:epsilon.linux.tests.examples
  (:use #:cl #:fiveam #:epsilon.net.core #:epsilon.sys.epoll)
  (:import-from #:epsilon.examples.server
                #:create-epoll-server #:create-http-server
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
