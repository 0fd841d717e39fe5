;;;; SPDX-License-Identifier: MIT
;;;; suite-concurrency.lisp - threads: one TLS context shared by 8 client
;;;; threads, the handle table hammered through the public API, one TLS
;;;; connection used by several threads at once, and INTERRUPT-THREAD /
;;;; WITH-TIMEOUT fired into socket and TLS calls (no lock left held, no
;;;; handle or fd leaked, the object usable afterwards from another thread).

(defpackage #:epsilon.linux.tests.concurrency
  (:use #:cl #:epsilon.sys.epoll #:epsilon.net.core #:epsilon.crypto)
  (:import-from #:epsilon.linux.tests #:cert))

(in-package #:epsilon.linux.tests.concurrency)

(5am:def-suite concurrency :in epsilon.linux.tests::epsilon-linux
  :description "Threads and interrupts against sockets and TLS.")

(5am:in-suite concurrency)

(defun counts () (epsilon.linux.tests:settled-counts))

(defmacro concurrency-test (name &body body)
  "A test whose body must leave the library's fd and handle counts as it
found them."
  `(5am:test ,name
     (let ((before (counts)))
       (unwind-protect (progn ,@body)
         (5am:is (equal before (counts)) "fds and handles ~S before, ~S after"
                 before (counts))))))

(defun octets (n &optional (byte 0))
  (make-array n :element-type '(unsigned-byte 8) :initial-element byte))

(defun spawn (name function)
  (sb-thread:make-thread (lambda () (handler-case (funcall function)
                                      (error (e) e)))
                         :name name))

(defun join (thread &optional (timeout 60))
  (sb-thread:join-thread thread :default :timeout :timeout timeout))

(defun server-context ()
  (make-tls-context :role :server :cert-file (cert "server.pem") :key-file (cert "server.key")))

(defun client-context ()
  (make-tls-context :ca-file (cert "ca.pem")))

(defun echo (conn)
  "Echo until close_notify; the byte count."
  (let ((buf (octets 65536)) (total 0))
    (loop for n = (tls-recv-into conn buf)
          until (zerop n)
          do (tls-send conn buf :end n)
             (incf total n))
    total))

(defun close-tls (conn)
  "close_notify, then read until the peer's, ignoring failures."
  (ignore-errors
   (tls-shutdown conn :timeout 10)
   (loop repeat 10000 until (zerop (length (tls-recv conn 16384 :timeout 10))))))

(defun call-with-echo-server (n function)
  "Accept N connections on a loopback listener, each served by its own
thread (TLS echo, one server context shared by all); call FUNCTION with the
port; return FUNCTION's value and the list of the server threads' results."
  (with-server-socket (listener :host "127.0.0.1")
    (let ((ctx (server-context))
          (port (address-port (socket-local-address listener)))
          (workers '()))
      (unwind-protect
           (let* ((acceptor
                    (spawn "acceptor"
                           (lambda ()
                             (loop repeat n
                                   do (let ((fd (socket-accept listener :timeout 30)))
                                        (push (spawn "echo"
                                                     (lambda ()
                                                       (unwind-protect
                                                            (with-tls-connection (c ctx fd :timeout 30)
                                                              (tls-handshake c)
                                                              (echo c))
                                                         (socket-close fd))))
                                              workers))))))
                  (value (funcall function port)))
             (let ((a (join acceptor)))
               (when (typep a 'condition) (error "acceptor: ~A" a)))
             (values value (mapcar #'join workers)))
        (tls-context-free ctx)))))

;;; 8 threads, one client context

(concurrency-test eight-threads-share-one-client-context
  (let* ((threads 8) (per-thread 3) (size 40000)
         (ctx (client-context)))
    (unwind-protect
         (multiple-value-bind (results served)
             (call-with-echo-server
              (* threads per-thread)
              (lambda (port)
                (mapcar #'join
                        (loop for i below threads
                              collect (let ((i i))
                                        (spawn (format nil "client ~D" i)
                                               (lambda ()
                                                 (loop repeat per-thread
                                                       count (client-round ctx port i size)))))))))
           (5am:is (equal (make-list threads :initial-element per-thread) results)
                   "clients: ~S" results)
           (5am:is (= (* threads per-thread) (count size served)) "servers: ~S" served))
      (tls-context-free ctx))))

(defun client-round (ctx port i size)
  "One connection: handshake, send SIZE bytes of I, read them back; true
when they came back intact."
  (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
    (unwind-protect
         (progn
           (socket-connect fd (make-inet-address "127.0.0.1" port) :timeout 10)
           (with-tls-connection (c ctx fd :hostname "localhost" :timeout 30)
             (tls-handshake c)
             (let ((out (octets size i)) (in (octets size 255)) (got 0))
               (let ((writer (spawn "writer" (lambda () (tls-send c out)))))
                 (loop while (< got size)
                       do (let ((n (tls-recv-into c in :start got)))
                            (when (zerop n) (return))
                            (incf got n)))
                 (join writer))
               (close-tls c)
               (and (= got size) (every (lambda (b) (= b i)) in)))))
      (socket-close fd))))

;;; The handle table from 8 threads

(concurrency-test handle-table-hammered-from-eight-threads
  ;; Contexts are made, freed, used after free (stale) and freed twice,
  ;; from 8 threads sharing a table of them; address lists are allocated and
  ;; freed by RESOLVE-HOST.  Every failure must be a TLS-ERROR saying the
  ;; handle is bad or the file is not PEM; nothing else may happen.
  (let* ((slots (make-array 16 :initial-element nil))
         (stale (list 0))
         (unexpected '())
         (lock (sb-thread:make-mutex))
         (threads
           (loop for i below 8
                 collect (let ((seed i))
                           (spawn "hammer"
                                  (lambda ()
                                    (let ((rs (sb-ext:seed-random-state seed)))
                                      (loop repeat 300
                                            do (handler-case (hammer-step slots rs)
                                                 (tls-error (e)
                                                   (when (eq (epsilon-error-name e) :ebadhandle)
                                                     (sb-ext:atomic-incf (car stale)))
                                                   (unless (member (epsilon-error-name e)
                                                                   '(:ebadhandle :ebadpem))
                                                     (sb-thread:with-mutex (lock)
                                                       (push e unexpected))))
                                                 (error (e)
                                                   (sb-thread:with-mutex (lock)
                                                     (push e unexpected))))))
                                    :done))))))
    (5am:is (every (lambda (r) (eq r :done)) (mapcar #'join threads)))
    (5am:is (null unexpected) "unexpected: ~{~A~^; ~}" unexpected)
    (5am:is (plusp (car stale)) "no stale handle was ever used")
    (loop for c across slots when c do (tls-context-free c))))

(defun forged-context (handle)
  "A context object holding HANDLE, not made by MAKE-TLS-CONTEXT (no
finalizer, never freed)."
  (epsilon.crypto::%make-tls-context handle :client nil))

(defun hammer-step (slots rs)
  (let ((i (random (length slots) rs)))
    (case (random 6 rs)
      (0 (let ((new (make-tls-context :verify nil)))
           ;; Swap it in; free the one it replaces (maybe in use elsewhere).
           (loop (let ((old (svref slots i)))
                   (when (eq old (sb-ext:compare-and-swap (svref slots i) old new))
                     (when old (tls-context-free old))
                     (return))))))
      (1 (let ((c (svref slots i)))
           (when c (tls-context-free c))))
      (2 (let ((c (svref slots i)))
           ;; A context freed by another thread meanwhile: EBADHANDLE.
           (when c (tls-load-cert-file c "/dev/null"))))
      (3 (let ((c (svref slots i)))
           (when c
             (let ((h (epsilon.crypto::tls-context-handle c)))
               (tls-context-free c)
               (tls-context-free c)
               (if (and (plusp h) (zerop (random 2 rs)))
                   ;; The Lisp object says "freed" without asking C: a copy
                   ;; still holding the old handle makes C's table answer
                   ;; (its slot may be reused already: the generation differs).
                   (tls-load-key-file (forged-context h) "/dev/null")
                   (tls-load-key-file c "/dev/null"))))))
      (4 (resolve-host "127.0.0.1" :numeric t)
         ;; A forged handle: never valid.
         (tls-load-cert-file (forged-context (1+ (random (1- (expt 2 62)) rs))) "/dev/null"))
      (5 (let ((c (svref slots i)))
           (when c
             (multiple-value-bind (a b) (socket-pair)
               (unwind-protect
                    (let ((conn (make-tls-connection c a)))
                      (tls-connection-free conn))
                 (socket-close a)
                 (socket-close b)))))))))

;;; One connection, several threads

(defun tls-pair (&key (timeout 30))
  "A client and a server TLS connection over a Unix socket pair, handshake
done, and the four things to release: two connections, two fds, and the
contexts.  Returns (values client server cleanup)."
  (multiple-value-bind (a b) (socket-pair)
    (let* ((sctx (server-context))
           (cctx (make-tls-context :verify nil))
           (server (make-tls-connection sctx b :timeout timeout))
           (client (make-tls-connection cctx a :timeout timeout)))
      (let ((h (spawn "server handshake" (lambda () (tls-handshake server)))))
        (tls-handshake client)
        (let ((r (join h))) (unless (eq r t) (error "server handshake: ~A" r))))
      (values client server
              (lambda ()
                (tls-connection-free client)
                (tls-connection-free server)
                (tls-context-free cctx)
                (tls-context-free sctx)
                (socket-close a)
                (socket-close b))))))

(defmacro with-tls-pair ((client server &rest options) &body body)
  (let ((cleanup (gensym "CLEANUP")))
    `(multiple-value-bind (,client ,server ,cleanup) (tls-pair ,@options)
       (declare (ignorable ,client ,server))
       (unwind-protect (progn ,@body) (funcall ,cleanup)))))

(defun locks-free-p (conn)
  (and (null (sb-thread:mutex-owner (epsilon.crypto::tls-connection-read-lock conn)))
       (null (sb-thread:mutex-owner (epsilon.crypto::tls-connection-write-lock conn)))))

(concurrency-test one-connection-two-writers-one-reader-serialized
  ;; Two threads send whole 5000-byte messages of their own byte on one
  ;; client connection at once, a third reads on it meanwhile; the server
  ;; echoes.  Serialized sends keep every message whole: each 5000-byte
  ;; block read back holds one byte value.
  (with-tls-pair (client server)
    (let* ((size 5000) (count 60)
           (echo (spawn "echo" (lambda () (echo server))))
           (writers (loop for byte in '(65 66)
                          collect (let ((msg (octets size byte)))
                                    (spawn "writer"
                                           (lambda ()
                                             (loop repeat count do (tls-send client msg))
                                             :sent)))))
           (total (* 2 size count))
           (in (octets total))
           (got 0))
      (loop while (< got total)
            do (let ((n (tls-recv-into client in :start got :timeout 30)))
                 (when (zerop n) (return))
                 (incf got n)))
      (5am:is (equal '(:sent :sent) (mapcar #'join writers)))
      (5am:is (= total got))
      (5am:is (loop for start from 0 below total by size
                    always (let ((b (aref in start)))
                             (and (member b '(65 66))
                                  (every (lambda (x) (= x b)) (subseq in start (+ start size))))))
              "a message was interleaved with another")
      (5am:is (= (* count size) (count 65 in)))
      (tls-shutdown client)
      (5am:is (= total (join echo)))
      (5am:is (locks-free-p client)))))

(concurrency-test two-readers-on-one-connection-share-the-stream
  ;; Two threads receive on one connection at once: every byte arrives
  ;; once, in one of them, none lost or doubled.
  (with-tls-pair (client server)
    (let* ((total 300000)
           (sums (loop repeat 2
                       collect (spawn "reader"
                                      (lambda ()
                                        (let ((buf (octets 4096)) (sum 0) (n 0))
                                          (loop for k = (tls-recv-into client buf :timeout 30)
                                                until (zerop k)
                                                do (incf n k)
                                                   (loop for i below k do (incf sum (aref buf i))))
                                          (cons n sum)))))))
      (let ((data (make-array total :element-type '(unsigned-byte 8))))
        (dotimes (i total) (setf (aref data i) (mod i 251)))
        (tls-send server data)
        (tls-shutdown server)
        (let ((results (mapcar #'join sums)))
          (5am:is (every #'consp results) "~S" results)
          (when (every #'consp results)
            (5am:is (= total (reduce #'+ results :key #'car)))
            (5am:is (= (reduce #'+ data) (reduce #'+ results :key #'cdr))))))
      (5am:is (locks-free-p client)))))

;;; Interrupts in the middle of calls

(defun wait-for (predicate &optional (seconds 10))
  "Spin (yielding) until PREDICATE is true, at most SECONDS."
  (let ((end (+ (get-internal-real-time) (* seconds internal-time-units-per-second))))
    (loop until (funcall predicate)
          do (when (> (get-internal-real-time) end) (error "wait-for: timed out"))
             (sb-thread:thread-yield))
    t))

(defvar *armed* nil
  "True, in a thread, while it runs inside the CATCH its interrupts throw to.")

(defun throw-if-armed ()
  "The interrupt: unwind the target out of its call, unless it has not
entered it yet or has left it (the interrupt may arrive then too)."
  (when *armed* (throw 'interrupted :interrupted)))

(defmacro armed (&body body)
  `(catch 'interrupted (let ((*armed* t)) ,@body :completed)))

(defun interrupt-in-call (function &key holding)
  "Run FUNCTION in a thread; once HOLDING (a mutex) is owned by it (the
call is in progress), or a moment after it entered FUNCTION when there is
no lock to see, interrupt it until the throw lands.  Returns what the
thread returned: :INTERRUPTED when the throw landed."
  (let* ((entered nil)
         (thread (spawn "interrupted"
                        (lambda () (armed (setf entered t) (funcall function))))))
    (if holding
        (wait-for (lambda () (eq (sb-thread:mutex-owner holding) thread)))
        ;; No event says "waiting in poll": give it a moment to get there.
        ;; Wherever the interrupt lands, it must be safe.
        (progn (wait-for (lambda () entered)) (sleep 0.05)))
    ;; Interrupt again and again: one lands in the poll wait, the others are
    ;; deferred through the library call or land after the throw (ignored).
    (loop repeat 200
          while (sb-thread:thread-alive-p thread)
          do (ignore-errors (sb-thread:interrupt-thread thread #'throw-if-armed))
             (sleep 0.005))
    (join thread)))

(concurrency-test interrupted-tls-recv-leaves-the-connection-usable
  (with-tls-pair (client server)
    (5am:is (eq :interrupted
                (interrupt-in-call (lambda () (tls-recv client 100))
                                   :holding (epsilon.crypto::tls-connection-read-lock client))))
    (5am:is (locks-free-p client))
    (tls-send server "after")
    (let ((r (join (spawn "reader" (lambda () (tls-recv client 100 :timeout 10))))))
      (5am:is (equalp (sb-ext:string-to-octets "after") r)))))

(concurrency-test with-timeout-in-tls-recv-leaves-the-connection-usable
  (with-tls-pair (client server)
    (5am:is (eq :timed-out
                (handler-case (sb-ext:with-timeout 0.2 (tls-recv client 100))
                  (sb-ext:timeout () :timed-out))))
    (5am:is (locks-free-p client))
    (tls-send server "later")
    (5am:is (equalp (sb-ext:string-to-octets "later")
                    (join (spawn "reader" (lambda () (tls-recv client 100 :timeout 10))))))))

(concurrency-test interrupted-tls-send-with-a-full-buffer-releases-the-lock
  ;; The peer reads nothing: the send fills the socket and waits.  After the
  ;; interrupt the lock is free and the receiving side still works.  (Which
  ;; bytes of the interrupted send went out is unknown: OpenSSL's rule then
  ;; forbids sending different ones, so only the other direction is used.)
  (with-tls-pair (client server)
    (let ((big (octets (* 8 1024 1024) 7)))
      (5am:is (eq :interrupted
                  (interrupt-in-call (lambda () (tls-send client big))
                                     :holding (epsilon.crypto::tls-connection-write-lock client))))
      (5am:is (locks-free-p client))
      (5am:is (eq :timed-out
                  (handler-case (sb-ext:with-timeout 0.2 (tls-send client big))
                    (sb-ext:timeout () :timed-out)
                    ;; OpenSSL may refuse a write that is not the retry of
                    ;; the interrupted one: an error, not a crash.
                    (tls-error () :timed-out))))
      (5am:is (locks-free-p client))
      (tls-send server "back")
      (let ((r (join (spawn "reader" (lambda () (tls-recv client 4 :timeout 10))))))
        (5am:is (equalp (sb-ext:string-to-octets "back") r))))))

(concurrency-test interrupted-handshake-can-be-finished-from-another-thread
  (multiple-value-bind (a b) (socket-pair)
    (let ((sctx (server-context)) (cctx (make-tls-context :verify nil)))
      (unwind-protect
           (let ((client (make-tls-connection cctx a :timeout 30))
                 (server (make-tls-connection sctx b :timeout 30)))
             (unwind-protect
                  (progn
                    ;; Nobody answers the client hello yet.
                    (5am:is (eq :interrupted
                                (interrupt-in-call
                                 (lambda () (tls-handshake client))
                                 :holding (epsilon.crypto::tls-connection-read-lock client))))
                    (5am:is (locks-free-p client))
                    (5am:is (eq :timed-out
                                (handler-case (sb-ext:with-timeout 0.2 (tls-handshake client))
                                  (sb-ext:timeout () :timed-out))))
                    (5am:is (locks-free-p client))
                    (let ((s (spawn "server" (lambda () (tls-handshake server) (echo server)))))
                      (5am:is (eq t (join (spawn "finisher" (lambda () (tls-handshake client)))))
                              "handshake finished from another thread")
                      (tls-send client "ping")
                      (5am:is (equalp (sb-ext:string-to-octets "ping") (tls-recv client 4)))
                      (tls-shutdown client)
                      (5am:is (= 4 (join s)))))
               (tls-connection-free client)
               (tls-connection-free server)))
        (tls-context-free cctx)
        (tls-context-free sctx)
        (socket-close a)
        (socket-close b)))))

(concurrency-test interrupted-socket-recv-leaves-the-socket-usable
  (multiple-value-bind (a b) (socket-pair)
    (unwind-protect
         (progn
           (5am:is (eq :interrupted (interrupt-in-call (lambda () (socket-recv a 10)))))
           (5am:is (eq :timed-out
                       (handler-case (sb-ext:with-timeout 0.2 (socket-recv a 10))
                         (sb-ext:timeout () :timed-out))))
           (socket-send b "x")
           (5am:is (equalp #(120) (join (spawn "reader" (lambda () (socket-recv a 10 :timeout 10))))))
           (5am:is (not (socket-nonblocking-p a))))
      (socket-close a)
      (socket-close b))))

(concurrency-test interrupted-connect-leaves-no-fd-and-the-mode-restored
  ;; A listener with backlog 0 that never accepts: once its queue is full,
  ;; further connects wait (the kernel drops their SYNs).
  (with-server-socket (listener :host "127.0.0.1" :backlog 0)
    (let ((address (socket-local-address listener))
          (fds '()))
      (unwind-protect
           (let ((waiting nil))
             ;; Fill the queue until one connect waits.
             (loop repeat 16 until waiting
                   do (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
                        (push fd fds)
                        (handler-case (socket-connect fd address :timeout 0.2)
                          (socket-timeout () (setf waiting fd)))))
             (5am:is (integerp waiting) "no connect ever waited")
             (when waiting
               (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
                 (push fd fds)
                 (5am:is (eq :interrupted
                             (interrupt-in-call (lambda () (socket-connect fd address)))))
                 (5am:is (not (socket-nonblocking-p fd)) "blocking mode restored"))))
        (mapc #'socket-close fds)))))

(concurrency-test interrupts-against-eight-threads-in-tls-calls
  ;; 8 threads each blocked in TLS-RECV on their own connection; every one
  ;; interrupted; all locks free afterwards and every connection usable.
  (let ((pairs (loop repeat 8 collect (multiple-value-list (tls-pair)))))
    (unwind-protect
         (let ((threads (loop for (client) in pairs
                              collect (let ((client client))
                                        (spawn "blocked"
                                               (lambda () (armed (tls-recv client 10))))))))
           (loop for (client) in pairs for thread in threads
                 do (let ((c client) (th thread))
                      (wait-for (lambda ()
                                  (eq th (sb-thread:mutex-owner
                                          (epsilon.crypto::tls-connection-read-lock c)))))))
           (loop repeat 100
                 while (some #'sb-thread:thread-alive-p threads)
                 do (dolist (th threads)
                      (ignore-errors
                       (sb-thread:interrupt-thread th #'throw-if-armed)))
                    (sleep 0.005))
           (5am:is (every (lambda (r) (eq r :interrupted)) (mapcar #'join threads)))
           (loop for (client server) in pairs
                 do (5am:is (locks-free-p client))
                    (tls-send server "ok")
                    (5am:is (equalp (sb-ext:string-to-octets "ok") (tls-recv client 2 :timeout 10)))))
      (loop for (nil nil cleanup) in pairs do (funcall cleanup)))))
