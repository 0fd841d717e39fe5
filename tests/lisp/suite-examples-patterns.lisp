;;;; SPDX-License-Identifier: MIT
;;;; suite-examples-patterns.lisp - the package documentation's connection
;;;; pool, async operations, epoll monitor and TLS client (examples/patterns/)
;;;; against real peers on loopback.

(in-package #:epsilon.linux.tests)

(def-suite examples-patterns :in epsilon-linux
  :description "examples/patterns: pool, async operations, monitor, TLS client.")
(in-suite examples-patterns)

(defmacro with-echo-listener ((port &key (max 16)) &body body)
  "Run BODY with PORT bound to a loopback port where a thread echoes, on up
to MAX connections accepted one by one, everything each sends until it
closes.  The thread stops when BODY ends."
  (let ((listener (gensym)) (thread (gensym)) (stop (gensym)))
    `(epsilon.net.core:with-server-socket (,listener :host "127.0.0.1" :port 0)
       (let* ((,port (epsilon.net.core:address-port
                      (epsilon.net.core:socket-local-address ,listener)))
              (,stop nil)
              (,thread
                (sb-thread:make-thread
                 (lambda ()
                   (loop repeat ,max
                         until ,stop
                         do (let ((fd (handler-case
                                          (epsilon.net.core:socket-accept ,listener :timeout 0.2)
                                        (epsilon.net.core:socket-timeout () nil))))
                              (when fd
                                (sb-thread:make-thread
                                 (lambda ()
                                   (unwind-protect
                                        (handler-case
                                            (loop for data = (epsilon.net.core:socket-recv
                                                              fd 4096 :timeout 10)
                                                  until (zerop (length data))
                                                  do (epsilon.net.core:socket-send fd data))
                                          (error () nil))
                                     (epsilon.net.core:socket-close fd)))))))))))
         (unwind-protect (progn ,@body)
           (setf ,stop t)
           (sb-thread:join-thread ,thread :default nil :timeout 30))))))

(defun roundtrip (fd text)
  (epsilon.net.core:socket-send fd text)
  (sb-ext:octets-to-string (epsilon.net.core:socket-recv fd 4096 :timeout 10)))

(test pool-reuses-and-bounds
  (with-echo-listener (port)
    (let ((pool (epsilon.examples.patterns:create-connection-pool "127.0.0.1" port
                                                                  :max-connections 2)))
      (unwind-protect
           (let ((a (epsilon.examples.patterns:get-pooled-connection pool))
                 (b (epsilon.examples.patterns:get-pooled-connection pool)))
             (is (integerp a))
             (is (integerp b))
             (is (/= a b))
             ;; At the bound: NIL.
             (is (null (epsilon.examples.patterns:get-pooled-connection pool)))
             (is (string= "one" (roundtrip a "one")))
             (epsilon.examples.patterns:return-pooled-connection pool a)
             (is (= 1 (epsilon.examples.patterns:connection-pool-idle-count pool)))
             ;; Reused, and still works.
             (is (= a (epsilon.examples.patterns:get-pooled-connection pool)))
             (is (string= "two" (roundtrip a "two")))
             (epsilon.examples.patterns:return-pooled-connection pool a)
             (epsilon.examples.patterns:return-pooled-connection pool b)
             (is (= 0 (epsilon.examples.patterns:connection-pool-active-count pool)))
             (signals error (epsilon.examples.patterns:return-pooled-connection pool a)))
        (epsilon.examples.patterns:close-connection-pool pool)))))

(test pool-drops-dead-connections-on-checkout
  (let (port pool fd)
    ;; A server that closes its end at once.
    (epsilon.net.core:with-server-socket (listener :host "127.0.0.1" :port 0)
      (setf port (epsilon.net.core:address-port (epsilon.net.core:socket-local-address listener))
            pool (epsilon.examples.patterns:create-connection-pool "127.0.0.1" port))
      (setf fd (epsilon.examples.patterns:get-pooled-connection pool))
      (epsilon.net.core:socket-close (epsilon.net.core:socket-accept listener :timeout 10))
      (epsilon.examples.patterns:return-pooled-connection pool fd)
      ;; The peer's FIN arrives: the idle connection is dead.
      (epsilon.net.core:socket-wait fd :input :timeout 10))
    ;; Checkout drops the dead one and tries a new connection: refused now.
    (signals epsilon.net.core:socket-error
      (epsilon.examples.patterns:get-pooled-connection pool))
    (is (= 0 (epsilon.examples.patterns:connection-pool-idle-count pool)))
    (is (= 0 (epsilon.examples.patterns:connection-pool-active-count pool)))))

(test pool-is-thread-safe
  (with-echo-listener (port :max 8)
    (let ((pool (epsilon.examples.patterns:create-connection-pool "127.0.0.1" port
                                                                  :max-connections 4))
          (errors '())
          (lock (sb-thread:make-mutex)))
      (unwind-protect
           (let ((threads
                   (loop for i below 8
                         collect (let ((i i))
                                   (sb-thread:make-thread
                                    (lambda ()
                                      (handler-case
                                          (loop repeat 25
                                                for fd = (epsilon.examples.patterns:get-pooled-connection pool)
                                                when fd
                                                  do (let ((text (format nil "t~D" i)))
                                                       (unless (string= text (roundtrip fd text))
                                                         (error "wrong echo on ~D" fd)))
                                                     (epsilon.examples.patterns:return-pooled-connection
                                                      pool fd))
                                        (error (e)
                                          (sb-thread:with-mutex (lock) (push e errors))))))))))
             (mapc (lambda (th) (sb-thread:join-thread th :default nil :timeout 60)) threads)
             (is (null errors) "~A" errors)
             (is (<= (epsilon.examples.patterns:connection-pool-idle-count pool) 4))
             (is (= 0 (epsilon.examples.patterns:connection-pool-active-count pool))))
        (epsilon.examples.patterns:close-connection-pool pool)))))

(test async-read-and-write-complete
  (with-fd-leak-check
    (multiple-value-bind (a b) (epsilon.net.core:socket-pair)
      (unwind-protect
           (epsilon.sys.epoll:with-epoll (epfd)
             (let ((results '()))
               (epsilon.examples.patterns:async-write
                a "hello async" (lambda (op n) (push (list :wrote n (epsilon.examples.patterns:async-operation-user-data op)) results))
                :w)
               (epsilon.examples.patterns:async-read
                b 100 (lambda (op data) (declare (ignore op))
                        (push (list :read (sb-ext:octets-to-string data)) results)))
               (loop repeat 50
                     while (epsilon.examples.patterns:pending-async-operations)
                     do (epsilon.examples.patterns:process-async-operations epfd 100))
               (is (null (epsilon.examples.patterns:pending-async-operations)))
               (is (member '(:wrote 11 :w) results :test #'equal))
               (is (member '(:read "hello async") results :test #'equal))
               ;; A large write completes in pieces while the other side reads.
               (let* ((size (* 4 1024 1024))
                      (data (make-array size :element-type '(unsigned-byte 8) :initial-element 7))
                      (got 0) (wrote nil))
                 (epsilon.examples.patterns:async-write a data (lambda (op n) (declare (ignore op))
                                                                  (setf wrote n)))
                 (labels ((read-more ()
                            (epsilon.examples.patterns:async-read
                             b 65536 (lambda (op chunk) (declare (ignore op))
                                       (incf got (length chunk))
                                       (when (< got size) (read-more))))))
                   (read-more))
                 (loop repeat 10000
                       until (and wrote (= got size))
                       do (epsilon.examples.patterns:process-async-operations epfd 100))
                 (is (eql size wrote))
                 (is (= size got)))
               ;; EOF completes a read with an empty vector.
               (epsilon.net.core:socket-shutdown a :write)
               (let ((eof nil))
                 (epsilon.examples.patterns:async-read b 10 (lambda (op data) (declare (ignore op))
                                                              (setf eof (length data))))
                 (loop repeat 50 until eof
                       do (epsilon.examples.patterns:process-async-operations epfd 100))
                 (is (eql 0 eof)))))
        (epsilon.net.core:socket-close a)
        (epsilon.net.core:socket-close b)))))

(test monitor-is-bounded-by-count-and-time
  (with-fd-leak-check
    (epsilon.sys.epoll:with-epoll (epfd)
      (epsilon.sys.epoll:with-eventfd (efd)
        (epsilon.sys.epoll:add-event epfd efd epsilon.sys.epoll:+epollin+)
        ;; Level-triggered and never drained: one event per wait.
        (epsilon.sys.epoll:eventfd-signal efd)
        (let ((out (make-string-output-stream)))
          (multiple-value-bind (count seconds)
              (epsilon.examples.patterns:monitor-epoll-performance
               epfd :max-events 2500 :duration 30 :report-every 1000 :stream out)
            (is (<= 2500 count 2600))
            (is (< seconds 30))
            (is (= 2 (count #\Newline (get-output-stream-string out))))))
        ;; Nothing ready: the time bound ends it.
        (epsilon.sys.epoll:eventfd-drain efd)
        (multiple-value-bind (count seconds)
            (epsilon.examples.patterns:monitor-epoll-performance epfd :duration 0.3
                                                                      :stream (make-broadcast-stream))
          (is (= 0 count))
          (is (<= 0.25 seconds 5)))))))

(test tls-client-fetches-a-page
  (let ((body "<h1>hello</h1>"))
    (multiple-value-bind (value results)
        (with-tls-server (port)
            (lambda (conn)
              (let ((request (sb-ext:octets-to-string (epsilon.crypto:tls-recv conn 4096))))
                (epsilon.crypto:tls-send
                 conn (format nil "HTTP/1.1 200 OK~C~CContent-Length: ~D~C~CConnection: close~C~C~C~C~A"
                              #\Return #\Newline (length body) #\Return #\Newline
                              #\Return #\Newline #\Return #\Newline body))
                (epsilon.crypto:tls-shutdown conn)
                request))
          (multiple-value-list
           (epsilon.examples.patterns:fetch-https "127.0.0.1" port :path "/index.html"
                                                                   :hostname "localhost"
                                                                   :ca-file (cert "ca.pem"))))
      (destructuring-bind (status text headers) value
        (is (= 200 status))
        (is (string= body text))
        (is (member "Connection: close" headers :test #'string=)))
      (is (stringp (first results)) "~A" (first results))
      (when (stringp (first results))
        (is (eql 0 (search "GET /index.html HTTP/1.1" (first results)))))))
  ;; An untrusted server (self-signed) is refused.
  (with-tls-server (port :cert "selfsigned") (lambda (conn) conn)
    (signals epsilon.crypto:tls-verification-error
      (epsilon.examples.patterns:fetch-https "127.0.0.1" port :hostname "localhost"
                                                              :ca-file (cert "ca.pem")))))
