;;;; SPDX-License-Identifier: MIT
;;;; suite-net.lisp - epsilon.net.core over loopback (port 0 always).

(in-package #:epsilon.linux.tests)

(def-suite net :in epsilon-linux :description "epsilon.net.core: sockets, addresses, streams.")
(in-suite net)

(defpackage #:epsilon.linux.tests.net
  (:use #:cl #:fiveam #:epsilon.net.core))

(in-package #:epsilon.linux.tests.net)

(defmacro net-test (name &body body)
  "A test that also checks the library's fd and handle counts are the same
after BODY as before."
  `(test (,name :suite epsilon.linux.tests::net)
     (let ((fds (epsilon.linux:open-fd-count))
           (handles (epsilon.linux:open-handle-count)))
       (unwind-protect (progn ,@body)
         (is (= fds (epsilon.linux:open-fd-count)) "fd leak in ~A" ',name)
         (is (= handles (epsilon.linux:open-handle-count)) "handle leak in ~A" ',name)))))

(defun octets (&rest xs)
  (make-array (length xs) :element-type '(unsigned-byte 8) :initial-contents xs))

(defun utf8 (s) (sb-ext:string-to-octets s :external-format :utf-8))
(defun text (v) (sb-ext:octets-to-string v :external-format :utf-8))

(defun local-port (fd) (address-port (socket-local-address fd)))

(defmacro with-tcp-pair ((client server &key (host "127.0.0.1")) &body body)
  "CLIENT and SERVER bound to the two ends of a TCP connection over HOST."
  (let ((listener (gensym "LISTENER")))
    `(with-server-socket (,listener :host ,host)
       (with-client-socket (,client :host ,host :port (local-port ,listener) :timeout 5)
         (let ((,server (socket-accept ,listener :timeout 5)))
           (unwind-protect (progn ,@body)
             (socket-close ,server)))))))

(defmacro with-pair ((a b &rest options) &body body)
  `(multiple-value-bind (,a ,b) (socket-pair ,@options)
     (unwind-protect (progn ,@body)
       (socket-close ,a)
       (socket-close ,b))))

(defun unused-port ()
  "A loopback port nobody listens on (bound to port 0, then closed)."
  (with-socket (fd +af-inet+ +sock-stream+)
    (socket-bind fd (make-inet-address "127.0.0.1" 0))
    (local-port fd)))

(defun join (thread) (sb-thread:join-thread thread :default :timeout))

;;; The package

(net-test documented-names-exist
  (dolist (name '("SOCKET-CREATE" "SOCKET-BIND" "SOCKET-LISTEN" "SOCKET-ACCEPT"
                  "SOCKET-CONNECT" "SOCKET-SEND" "SOCKET-RECV" "SOCKET-CLOSE"
                  "SET-SOCKET-OPTION" "GET-SOCKET-OPTION" "MAKE-INET-ADDRESS"
                  "MAKE-INET6-ADDRESS" "WITH-SERVER-SOCKET" "WITH-CLIENT-SOCKET"
                  "SOCKET-ERROR" "SOCKET-ERROR-CODE" "+ECONNREFUSED+" "+AF-INET+"
                  "+SOCK-STREAM+" "+IPPROTO-TCP+" "+SOL-SOCKET+" "+SO-REUSEADDR+"
                  "+MSG-DONTWAIT+" "+SOMAXCONN+"))
    (is (eq :external (nth-value 1 (find-symbol name :epsilon.net.core))) "~A" name))
  (do-external-symbols (s :epsilon.net.core)
    (when (and (fboundp s) (member (symbol-package s)
                                   (list (find-package :epsilon.net.core)
                                         (find-package :epsilon.net.core.internal))))
      (is (documentation s 'function) "~S has no docstring" s)))
  (is (equal '(fd data &optional (flags 0) &key (start 0) end timeout)
             (sublis '((epsilon.net.core.internal::fd . fd) (epsilon.net.core.internal::data . data)
                       (epsilon.net.core.internal::flags . flags) (epsilon.net.core.internal::start . start)
                       (epsilon.net.core.internal::end . end) (epsilon.net.core.internal::timeout . timeout))
                     (sb-kernel:%fun-lambda-list #'socket-send)))))

;;; TCP

(net-test tcp-ipv4-round-trip-and-peer-address
  (with-server-socket (listener :host "127.0.0.1")
    (let ((port (local-port listener)))
      (is (< 0 port 65536))
      (with-socket (client +af-inet+ +sock-stream+ +ipproto-tcp+)
        (is (eq t (socket-connect client (make-inet-address "127.0.0.1" port) :timeout 5)))
        (multiple-value-bind (server peer) (socket-accept listener :timeout 5)
          (unwind-protect
               (progn
                 ;; Byte order: the peer the server sees is the client's own address.
                 (is (string= "127.0.0.1" (address-host peer)))
                 (is (= (local-port client) (address-port peer)))
                 (is (= +af-inet+ (address-family peer)))
                 (is (string= (address-string (socket-local-address client)) (address-string peer)))
                 (is (string= (format nil "127.0.0.1:~D" port)
                              (address-string (socket-peer-address client))))
                 (is (search "127.0.0.1:" (princ-to-string peer)))
                 (is (= 5 (socket-send client "hello")))
                 (is (equalp (utf8 "hello") (socket-recv server 100)))
                 (is (= 3 (socket-send server (octets 1 2 3))))
                 (is (equalp (octets 1 2 3) (socket-recv client 3))))
            (socket-close server)))))))

(net-test tcp-ipv6-round-trip
  (with-tcp-pair (client server :host "::1")
    (is (= +af-inet6+ (address-family (socket-peer-address client))))
    (is (string= "::1" (address-host (socket-peer-address server))))
    (is (search "[::1]:" (address-string (socket-local-address client))))
    (socket-send client "six")
    (is (equalp (utf8 "six") (socket-recv server 10)))))

(net-test client-socket-tries-every-address-of-localhost
  ;; Whichever of ::1 and 127.0.0.1 localhost gives first, the client reaches
  ;; a listener on 127.0.0.1.
  (with-server-socket (listener :host "127.0.0.1")
    (with-client-socket (client :host "localhost" :port (local-port listener) :timeout 5)
      (let ((server (socket-accept listener :timeout 5)))
        (unwind-protect
             (progn (socket-send client "x")
                    (is (equalp (utf8 "x") (socket-recv server 1))))
          (socket-close server))))))

(net-test send-with-start-end-and-strings
  (with-tcp-pair (client server)
    (is (= 3 (socket-send client (octets 0 1 2 3 4 5) 0 :start 1 :end 4)))
    (is (equalp (octets 1 2 3) (socket-recv server 10)))
    (is (= 2 (socket-send client "λ")))
    (is (equalp (utf8 "λ") (socket-recv server 10)))
    (is (= 2 (socket-send client "xyz" :end 2)))
    (is (equalp (utf8 "xy") (socket-recv server 10 :timeout 5)))
    (is (= 4 (socket-send-all client "abcdef" :start 2)))
    (is (equalp (utf8 "cdef") (socket-recv server 4 +msg-waitall+ :timeout 5)))))

(net-test gather-send
  (with-tcp-pair (client server)
    (is (= 8 (socket-send-vector client (list "abc" (octets 1 2 3) "é"))))
    (let ((got (make-array 8 :element-type '(unsigned-byte 8))))
      (is (= 8 (socket-recv-into server got :flags +msg-waitall+ :timeout 5)))
      (is (equalp (concatenate '(vector (unsigned-byte 8)) (utf8 "abc") (octets 1 2 3) (utf8 "é"))
                  got)))
    (is (= 0 (socket-send-vector client '())))
    (signals type-error (socket-send-vector client (make-list 1025 :initial-element "x")))
    (signals type-error (socket-send-vector client (list "ok" 42)))))

(defun pattern-byte (i) (logand 255 (mod i 251)))

(defun check-stream-of (fd total)
  "Receive TOTAL bytes from FD with SOCKET-RECV-INTO and check each against
PATTERN-BYTE; return the count of mismatches (or -1 on early end)."
  (let ((buffer (make-array 65536 :element-type '(unsigned-byte 8)))
        (got 0) (bad 0))
    (declare (type fixnum got bad))
    (loop while (< got total)
          do (let ((n (socket-recv-into fd buffer :timeout 30)))
               (when (zerop n) (return-from check-stream-of -1))
               (loop for k of-type fixnum below n
                     do (unless (= (aref buffer k) (pattern-byte (+ got k)))
                          (incf bad)))
               (incf got n)))
    bad))

(net-test transfer-64-mib-byte-for-byte
  (let* ((total (* 64 1024 1024))
         (data (make-array total :element-type '(unsigned-byte 8))))
    (dotimes (i total) (setf (aref data i) (pattern-byte i)))
    (with-tcp-pair (client server)
      ;; socket-send-all in a thread, socket-recv-into here.
      (let ((sender (sb-thread:make-thread
                     (lambda () (socket-send-all client data :timeout 60)))))
        (is (= 0 (check-stream-of server total)))
        (is (= total (join sender))))
      ;; socket-send with :start/:end in 1 MiB slices, the other way round.
      (let ((sender (sb-thread:make-thread
                     (lambda ()
                       (loop for start from 0 below total by (* 1024 1024)
                             sum (socket-send server data 0 :start start
                                                            :end (+ start (* 1024 1024))
                                                            :timeout 60))))))
        (is (= 0 (check-stream-of client total)))
        (is (= total (join sender)))))))

(net-test recv-into-conses-nothing
  (with-pair (a b)
    (let ((buffer (make-array 64 :element-type '(unsigned-byte 8)))
          (data (make-array 64 :element-type '(unsigned-byte 8) :initial-element 7)))
      (dotimes (i 10) (socket-send a data) (socket-recv-into b buffer)) ; warm up
      ;; 100000 rounds: the allocator counts whole regions, so a few bytes
      ;; per call would show as hundreds of kilobytes.
      (let ((before (sb-ext:get-bytes-consed)))
        (dotimes (i 100000)
          (socket-send a data 0 :end 64)
          (socket-recv-into b buffer :end 64))
        (is (< (- (sb-ext:get-bytes-consed) before) 65536))))))

;; At an offset the buffer's address is computed: the inline byte-moving
;; calls keep it unboxed.
(net-test send-and-recv-at-offsets-cons-nothing
  (with-pair (a b)
    (let ((buffer (make-array 128 :element-type '(unsigned-byte 8)))
          (data (make-array 128 :element-type '(unsigned-byte 8) :initial-element 9)))
      (dotimes (i 10) (socket-send a data 0 :start 8 :end 72) (socket-recv-into b buffer :start 8 :end 72))
      (let ((before (sb-ext:get-bytes-consed)))
        (dotimes (i 100000)
          (socket-send a data 0 :start 8 :end 72)
          (socket-recv-into b buffer :start 8 :end 72))
        (is (< (- (sb-ext:get-bytes-consed) before) 65536)))
      (is (every (lambda (x) (= x 9)) (subseq buffer 8 72))))))

;; An event loop's accept path: no peer address, nothing consed.
(net-test accept-without-address-conses-nothing
  (with-server-socket (server :host "127.0.0.1")
    (set-socket-nonblocking server)
    (let ((port (local-port server))
          (consed 0) (accepted 0))
      (flet ((batch (n)
               (let ((clients (loop repeat n
                                    collect (let ((c (socket-create +af-inet+ +sock-stream+ 0)))
                                              (socket-connect c (make-inet-address "127.0.0.1" port)
                                                              :timeout 10)
                                              c)))
                     (fds (make-array n :initial-element nil)))
                 (unwind-protect
                      (let ((before (sb-ext:get-bytes-consed)))
                        (dotimes (i n)
                          (setf (svref fds i)
                                (socket-accept server :nonblocking t :address nil)))
                        (incf consed (- (sb-ext:get-bytes-consed) before)))
                   (loop for fd across fds
                         when fd do (incf accepted) (socket-close fd))
                   (mapc #'socket-close clients)))))
        (batch 10)                      ; warm up
        (setf consed 0 accepted 0)
        ;; 1000 accepts: ~500 bytes each (the address) would show as 500 KB.
        (dotimes (i 10) (batch 100))
        (is (= 1000 accepted))
        (is (< consed 65536) "~D bytes consed by 1000 accepts" consed)
        ;; The address still comes by default, and NIL when not wanted.
        (with-client-socket (c :host "127.0.0.1" :port port :timeout 10)
          (is (integerp c))
          (socket-wait server :input :timeout 5)
          (multiple-value-bind (fd peer) (socket-accept server :address nil)
            (unwind-protect (is (null peer))
              (socket-close fd))))
        (with-client-socket (c :host "127.0.0.1" :port port :timeout 10)
          (is (integerp c))
          (socket-wait server :input :timeout 5)
          (multiple-value-bind (fd peer) (socket-accept server)
            (unwind-protect (is (equal "127.0.0.1" (address-host peer)))
              (socket-close fd))))))))

;;; Errors from the kernel

(net-test refused-connect
  (let ((port (unused-port)))
    (with-socket (fd +af-inet+ +sock-stream+)
      (handler-case (progn (socket-connect fd (make-inet-address "127.0.0.1" port))
                           (fail "connect succeeded"))
        (socket-error (e)
          (is (= (socket-error-code e) +econnrefused+))
          (is (eq :econnrefused (epsilon-error-name e)))
          (is (eq 'socket-connect (epsilon-error-operation e))))))
    ;; The client macro reports the last failure.
    (signals socket-error (with-client-socket (fd :host "127.0.0.1" :port port) fd))))

(net-test address-in-use
  (with-server-socket (a :host "127.0.0.1")
    (handler-case (with-server-socket (b :host "127.0.0.1" :port (local-port a)) (fail "bound twice"))
      (socket-error (e) (is (= +eaddrinuse+ (socket-error-code e)))))))

(net-test would-block-gives-nil
  (with-pair (a b)
    (is (null (socket-recv a 10 +msg-dontwait+)))
    (is (null (socket-recv-into a (make-array 4 :element-type '(unsigned-byte 8))
                                :flags +msg-dontwait+)))
    (set-socket-nonblocking a)
    (is (socket-nonblocking-p a))
    (is (null (socket-recv a 10)))
    (is (null (socket-recv-from a 10)))
    (is (null (socket-wait a :input :timeout 0.01)))
    (is-true (socket-wait a :output :timeout 1))
    ;; Filling the send buffer of a non-blocking socket: a short count, then NIL.
    (let ((big (make-array (* 8 1024 1024) :element-type '(unsigned-byte 8))))
      (let ((n (socket-send a big)))
        (is (< 0 n (length big))))
      (is (null (socket-send a big))))
    (set-socket-nonblocking a nil)
    (is (not (socket-nonblocking-p a)))))

(net-test end-of-stream-gives-empty-vector
  (with-tcp-pair (client server)
    (socket-send client "last")
    (socket-shutdown client :write)
    (is (equalp (utf8 "last") (socket-recv server 10)))
    (let ((v (socket-recv server 10)))
      (is (and (vectorp v) (zerop (length v)))))
    (is (= 0 (socket-recv-into server (make-array 4 :element-type '(unsigned-byte 8)))))))

(net-test nonblocking-connect-completes-through-epoll
  (with-server-socket (listener :host "127.0.0.1")
    (with-socket (fd +af-inet+ (logior +sock-stream+ +sock-nonblock+))
      (let ((r (socket-connect fd (make-inet-address "127.0.0.1" (local-port listener)))))
        (unless r
          (let ((epfd (epsilon.linux.bindings:%eps-epoll-create 0))
                (events (make-array 4 :element-type '(unsigned-byte 32)))
                (data (make-array 4 :element-type '(unsigned-byte 64))))
            (is (>= epfd 0))
            (unwind-protect
                 (progn
                   (is (= 0 (epsilon.linux.bindings:%eps-epoll-ctl
                             epfd epsilon.linux.bindings:+epoll-ctl-add+ fd
                             epsilon.linux.bindings:+epollout+ fd)))
                   (is (= 1 (epsilon.linux.bindings:%eps-epoll-wait epfd events data 4 5000)))
                   (is (= fd (aref data 0)))
                   (is (logtest (aref events 0) epsilon.linux.bindings:+epollout+)))
              (epsilon.linux.bindings:%eps-epoll-close epfd)))
          (is (eq t (socket-finish-connect fd)))))
      (is (socket-nonblocking-p fd))
      (let ((server (socket-accept listener :timeout 5)))
        (is (integerp server))
        (socket-close server)))))

(net-test nonblocking-listener-with-nothing-pending-gives-nil
  (with-server-socket (listener :host "127.0.0.1")
    (is (not (socket-nonblocking-p listener)))
    (set-socket-nonblocking listener)
    (is (socket-nonblocking-p listener))
    (is (null (socket-accept listener)))
    ;; The accept-until-NIL loop of an event loop.
    (with-client-socket (c1 :host "127.0.0.1" :port (local-port listener))
      (with-client-socket (c2 :host "127.0.0.1" :port (local-port listener))
        (is-true (socket-wait listener :input :timeout 5))
        (let ((accepted (loop repeat 10
                              for fd = (socket-accept listener)
                              while fd collect fd)))
          (is (<= 1 (length accepted) 2))
          (is (null (socket-accept listener)))
          (mapc #'socket-close accepted))))))

(net-test accept-timeout
  (with-server-socket (listener :host "127.0.0.1")
    ;; Measured on the clock the deadline is on: GET-INTERNAL-REAL-TIME is
    ;; coarse here (it read 248 ms for a 250 ms wait).
    (let ((start (epsilon.linux.runtime:monotonic-us)))
      (handler-case (progn (socket-accept listener :timeout 0.2) (fail "accepted nothing"))
        (socket-timeout (e)
          (is (= +etimedout+ (socket-error-code e)))
          (is (>= (- (epsilon.linux.runtime:monotonic-us) start) 200000)))))))

(net-test blocking-recv-times-out-no-earlier-than-asked
  (with-pair (a b)
    ;; Measured on the clock the deadline is on (see ACCEPT-TIMEOUT).
    (let ((start (epsilon.linux.runtime:monotonic-us)))
      (handler-case (progn (socket-recv a 10 0 :timeout 0.25) (fail "received nothing"))
        (socket-timeout (e)
          (is (typep e 'socket-error))
          (is (= +etimedout+ (socket-error-code e)))
          (is (>= (- (epsilon.linux.runtime:monotonic-us) start) 250000)))))
    ;; Still works afterwards.
    (socket-send b "ok")
    (is (equalp (utf8 "ok") (socket-recv a 10 0 :timeout 5)))))

(net-test blocking-connect-is-polled-in-lisp
  ;; A listener with backlog 0 that never accepts: once its queue is full,
  ;; the kernel drops further SYNs and a connect waits.  The wait is a poll
  ;; in Lisp: :TIMEOUT ends it, and the socket is blocking again afterwards.
  (with-server-socket (listener :host "127.0.0.1" :backlog 0)
    (let ((address (make-inet-address "127.0.0.1" (local-port listener)))
          (fds '())
          (timed-out nil))
      (unwind-protect
           (loop repeat 8
                 until timed-out
                 do (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
                      (push fd fds)
                      (handler-case (socket-connect fd address :timeout 0.3)
                        (socket-timeout ()
                          (setf timed-out t)
                          (is (not (socket-nonblocking-p fd)))))))
        (mapc #'socket-close fds))
      (is-true timed-out)
      ;; The queue is still full: WITH-TIMEOUT interrupts a connect without
      ;; :TIMEOUT, and the mode is restored on the way out.
      (when timed-out
        (with-socket (fd +af-inet+ +sock-stream+)
          (signals sb-ext:timeout
            (sb-ext:with-timeout 0.3 (socket-connect fd address)))
          (is (not (socket-nonblocking-p fd))))))))

(net-test blocking-recv-interrupted-by-interrupt-thread
  (with-pair (a b)
    (let* ((ready (sb-thread:make-semaphore))
           (thread (sb-thread:make-thread
                    (lambda ()
                      (catch 'stop
                        (sb-thread:signal-semaphore ready)
                        (socket-recv a 10))))))
      (sb-thread:wait-on-semaphore ready)
      ;; No event says "now in poll": give the thread time to get there.
      (sleep 0.2)
      (sb-thread:interrupt-thread thread (lambda () (throw 'stop :interrupted)))
      (is (eq :interrupted (join thread))))
    ;; Nothing locked or lost: the descriptor table and the socket still work.
    (socket-send b "after")
    (is (equalp (utf8 "after") (socket-recv a 10 0 :timeout 5)))
    (with-pair (c d) (is (= 1 (socket-send c "x"))) (is (equalp (octets 120) (socket-recv d 1))))))

(net-test with-timeout-interrupts-blocking-accept
  (with-server-socket (listener :host "127.0.0.1")
    (signals sb-ext:timeout
      (sb-ext:with-timeout 0.2 (socket-accept listener)))
    (signals socket-timeout (socket-accept listener :timeout 0.05))))

(net-test writing-to-a-closed-peer
  (with-tcp-pair (client server)
    (socket-close server)
    (setf server (socket-create +af-inet+ +sock-stream+ 0)) ; for the cleanup
    (handler-case
        (progn (loop repeat 100 do (socket-send client (make-array 65536 :element-type '(unsigned-byte 8))))
               (fail "no error"))
      (socket-error (e)
        (is (member (socket-error-code e) (list +epipe+ +econnreset+)))))))

(net-test no-sigpipe-in-a-child-with-default-sigpipe
  (let* ((script (format nil "/tmp/eps-sigpipe-~D.lisp" (sb-unix:unix-getpid)))
         (lisp-dir (namestring (asdf:system-source-directory "epsilon.linux"))))
    (with-open-file (out script :direction :output :if-exists :supersede)
      (with-standard-io-syntax
        (let ((*print-readably* nil))
          (format out "(require :asdf)~%(asdf:initialize-source-registry '(:source-registry (:tree ~S) :inherit-configuration))~%" lisp-dir)
          (format out "~S~%"
                  '(handler-bind ((warning #'muffle-warning)) (asdf:load-system "epsilon.linux")))
          (format out "~A~%"
                  "(sb-sys:enable-interrupt sb-unix:sigpipe :default)
(in-package :epsilon.net.core)
(with-server-socket (l :host \"127.0.0.1\")
  (with-client-socket (c :host \"127.0.0.1\" :port (address-port (socket-local-address l)))
    (socket-close (socket-accept l))
    (handler-case (loop repeat 100 do (socket-send c (make-array 65536 :element-type '(unsigned-byte 8))))
      (socket-error (e) (format t \"GOT ~A~%\" (epsilon-error-name e))))))
(format t \"CHILD-DONE~%\")
(finish-output)
(sb-ext:exit :code 0)"))))
    (unwind-protect
         (let* ((out (make-string-output-stream))
                (p (sb-ext:run-program "sbcl" (list "--script" script)
                                       :search t :output out :error out)))
           (let ((text (get-output-stream-string out)))
             (is (eq :exited (sb-ext:process-status p)) "~A" text)
             (is (= 0 (sb-ext:process-exit-code p)) "~A" text)
             (is (search "CHILD-DONE" text) "~A" text)
             (is (or (search "GOT EPIPE" text) (search "GOT ECONNRESET" text)) "~A" text)))
      (delete-file script))))

;;; Unix and UDP

(net-test unix-path-socket
  (let* ((path (format nil "/tmp/eps-net-~D-~D.sock" (sb-unix:unix-getpid) (random 1000000)))
         (address (make-unix-address path)))
    (is (= +af-unix+ (address-family address)))
    (is (null (address-port address)))
    (is (string= path (address-string address)))
    (unwind-protect
         (with-socket (listener +af-unix+ +sock-stream+)
           (socket-bind listener address)
           (socket-listen listener 4)
           (with-socket (client +af-unix+ +sock-stream+)
             (is (eq t (socket-connect client address :timeout 5)))
             (let ((server (socket-accept listener :timeout 5)))
               (unwind-protect
                    (progn (socket-send client "unix")
                           (is (equalp (utf8 "unix") (socket-recv server 10)))
                           (is (string= path (address-string (socket-peer-address client)))))
                 (socket-close server)))))
      (when (probe-file path) (delete-file path)))))

(net-test unix-abstract-socket
  (let* ((name (format nil "@eps-net-~D-~D" (sb-unix:unix-getpid) (random 1000000)))
         (address (make-unix-address name)))
    (is (string= name (address-string address)))
    (is (string= name (address-string (make-unix-address (subseq name 1) :abstract t))))
    (with-socket (listener +af-unix+ +sock-stream+)
      (socket-bind listener address)
      (socket-listen listener 4)
      (with-socket (client +af-unix+ +sock-stream+)
        (socket-connect client address)
        (let ((server (socket-accept listener)))
          (unwind-protect
               (progn (socket-send server "abstract")
                      (is (equalp (utf8 "abstract") (socket-recv client 20))))
            (socket-close server)))))))

(net-test udp-send-to-recv-from
  (with-socket (a +af-inet+ +sock-dgram+ +ipproto-udp+)
    (with-socket (b +af-inet+ +sock-dgram+ +ipproto-udp+)
      (socket-bind a (make-inet-address "127.0.0.1" 0))
      (socket-bind b (make-inet-address "127.0.0.1" 0))
      (is (= 4 (socket-send-to a "ping" (socket-local-address b))))
      (multiple-value-bind (data from) (socket-recv-from b 100 :timeout 5)
        (is (equalp (utf8 "ping") data))
        (is (= (local-port a) (address-port from)))
        (is (= 4 (socket-send-to b (octets 1 2 3 4) from))))
      (is (equalp (octets 1 2 3 4) (socket-recv-from a 100 :timeout 5)))
      (is (null (socket-recv-from a 100 :flags +msg-dontwait+))))))

;;; Options

(net-test socket-options
  (with-socket (fd +af-inet+ +sock-stream+)
    (set-socket-option fd +sol-socket+ +so-reuseaddr+ 1)
    (is (= 1 (get-socket-option fd +sol-socket+ +so-reuseaddr+)))
    (set-socket-option fd +ipproto-tcp+ +tcp-nodelay+ t)
    (is (= 1 (get-socket-option fd +ipproto-tcp+ +tcp-nodelay+)))
    (set-socket-option fd +sol-socket+ +so-keepalive+ nil)
    (is (= 0 (get-socket-option fd +sol-socket+ +so-keepalive+)))
    (is (null (get-socket-option fd +sol-socket+ +so-linger+)))
    (set-socket-option fd +sol-socket+ +so-linger+ 5)
    (is (= 5 (get-socket-option fd +sol-socket+ +so-linger+)))
    (set-socket-option fd +sol-socket+ +so-linger+ nil)
    (is (null (get-socket-option fd +sol-socket+ +so-linger+)))
    (set-socket-option fd +sol-socket+ +so-rcvtimeo+ 3/2)
    (is (= 3/2 (get-socket-option fd +sol-socket+ +so-rcvtimeo+)))
    (set-socket-option fd +sol-socket+ +so-sndtimeo+ nil)
    (is (null (get-socket-option fd +sol-socket+ +so-sndtimeo+)))
    (is (= 0 (get-socket-option fd +sol-socket+ +so-error+)))
    (signals type-error (set-socket-option fd +sol-socket+ +so-linger+ -1))
    (signals type-error (set-socket-option fd +sol-socket+ +so-rcvtimeo+ -1))
    (signals type-error (set-socket-option fd +sol-socket+ +so-reuseaddr+ "yes"))
    (signals socket-error (get-socket-option fd 9999 9999))))

;;; Bad input

(net-test bad-input-is-a-clear-condition
  (with-pair (a b)
    (signals type-error (socket-recv a -1))
    (signals type-error (socket-recv a (expt 2 31)))
    (signals type-error (socket-recv a (expt 2 62)))
    (signals type-error (socket-recv a "10"))
    (signals type-error (socket-recv-into a (make-array 4 :element-type '(unsigned-byte 8)) :end 5))
    (signals type-error (socket-recv-into a (make-array 4) :end 2))
    (signals type-error (socket-send a (octets 1 2) 0 :start 3))
    (signals type-error (socket-send a 42))
    (signals type-error (socket-send a "x" "flags"))
    (signals error (socket-send a "x" 0 :bogus 1))
    (signals type-error (socket-recv -1 10))
    (signals type-error (socket-bind a "127.0.0.1")))
  (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
    (socket-close fd)
    (handler-case (progn (socket-recv fd 10) (fail "recv on a closed fd"))
      (socket-error (e) (is (= +ebadf+ (socket-error-code e)))))
    (signals socket-error (socket-close fd)))
  (signals address-error (make-inet-address "300.1.1.1" 80))
  (signals address-error (make-inet-address "localhost" 80))
  (signals address-error (make-inet6-address "::g" 80))
  (signals type-error (make-inet-address "127.0.0.1" 70000))
  (signals type-error (make-inet-address "127.0.0.1" -1))
  (signals type-error (make-inet-address 127 80))
  (handler-case (progn (make-unix-address (make-string 200 :initial-element #\a)) (fail "long path"))
    (address-error (e)
      (is (typep e 'socket-error))
      (is (= +enametoolong+ (socket-error-code e)))))
  (signals address-error (make-unix-address ""))
  (handler-case (progn (resolve-host "no-such-host.invalid" :numeric t) (fail "resolved"))
    (resolve-error (e) (is (= +eainoname+ (socket-error-code e)))))
  (signals type-error (resolve-host "localhost" :port 70000)))

(net-test resolve-localhost
  (let ((addresses (resolve-host "localhost" :port 8080)))
    (is (plusp (length addresses)))
    (is (every (lambda (a) (= 8080 (address-port a))) addresses))
    (is (every (lambda (a) (member (address-host a) '("127.0.0.1" "::1") :test #'string=))
               addresses)))
  (let ((v4 (resolve-host "127.0.0.1" :numeric t :family +af-inet+)))
    (is (= 1 (length v4)))
    (is (string= "127.0.0.1:0" (address-string (first v4))))))

;;; Streams

(net-test stream-round-trip
  (with-tcp-pair (client server)
    (let ((out (make-socket-stream client :close-fd nil :timeout 5))
          (in (make-socket-stream server :close-fd nil :timeout 5)))
      (format out "GET / HTTP/1.1~C~CHost: localhost~%" #\Return #\Newline)
      (format out "grüße λ 😀~%")
      (write-sequence (octets 1 2 255) out)
      (write-string "tail" out)
      (force-output out)
      (is (string= (format nil "GET / HTTP/1.1~C" #\Return) (read-line in)))
      (is (string= "Host: localhost" (read-line in)))
      (is (string= "grüße λ 😀" (read-line in)))
      (is (= 1 (read-byte in)))
      (let ((v (make-array 2 :element-type '(unsigned-byte 8))))
        (is (= 2 (read-sequence v in)))
        (is (equalp (octets 2 255) v)))
      (is (char= #\t (peek-char nil in)))
      (let ((s (make-string 4)))
        (socket-shutdown client :write)
        (is (= 4 (read-sequence s in)))
        (is (string= "tail" s)))
      (is (eq :eof (read-char in nil :eof)))
      (is (eq :eof (read-byte in nil :eof)))
      (close out)
      (close in)
      (is (not (open-stream-p in))))))

(net-test stream-close-closes-the-fd
  (multiple-value-bind (a b) (socket-pair)
    (let ((sa (make-socket-stream a))
          (sb (make-socket-stream b :external-format :latin-1)))
      (write-line "café" sa)
      (finish-output sa)
      (is (string= (format nil "caf~C~C" (code-char #xc3) (code-char #xa9)) (read-line sb)))
      (close sa)
      (is (eq :eof (read-line sb nil :eof)))
      (close sb)
      (is (eq t (close sb)) "close twice is fine")
      (signals socket-error (socket-close a)))))

(net-test stream-large-binary
  (with-pair (a b)
    (let* ((n (* 1024 1024))
           (data (make-array n :element-type '(unsigned-byte 8))))
      (dotimes (i n) (setf (aref data i) (pattern-byte i)))
      (let* ((sender (sb-thread:make-thread
                      (lambda ()
                        (let ((s (make-socket-stream a :close-fd nil)))
                          (write-sequence data s)
                          (finish-output s)))))
             (s (make-socket-stream b :close-fd nil :element-type '(unsigned-byte 8)))
             (got (make-array n :element-type '(unsigned-byte 8))))
        (is (= n (read-sequence got s)))
        (join sender)
        (is (equalp data got))
        (is (equal '(unsigned-byte 8) (stream-element-type s)))))))
