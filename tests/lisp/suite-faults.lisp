;;;; SPDX-License-Identifier: MIT
;;;; suite-faults.lisp - fault injection against the library directly: small
;;;; servers written here with the public API (an epoll echo server, a
;;;; threaded TLS echo server) meet peers that reset mid-transfer, half-close,
;;;; stop reading, trickle one byte at a time, arrive when descriptors are
;;;; exhausted, or speak broken TLS.  Each server survives and serves a
;;;; normal client afterwards.  (The main job's server gets the same
;;;; treatment in its own suite.)

(defpackage #:epsilon.linux.tests.faults
  (:use #:cl #:epsilon.sys.epoll #:epsilon.net.core #:epsilon.crypto)
  (:import-from #:epsilon.linux.tests #:cert))

(in-package #:epsilon.linux.tests.faults)

(5am:def-suite faults :in epsilon.linux.tests::epsilon-linux
  :description "Peers that misbehave against servers built on the library.")

(5am:in-suite faults)

(defun counts () (epsilon.linux.tests:settled-counts))

(defun octets (n &optional (byte 0))
  (make-array n :element-type '(unsigned-byte 8) :initial-element byte))

(defun join (thread &optional (timeout 60))
  (sb-thread:join-thread thread :default :timeout :timeout timeout))

;;; An epoll echo server: one thread, non-blocking sockets, output buffered
;;; per connection (reading stops while output is pending), idle timeout.

(defstruct (server (:conc-name srv-))
  listener epfd wakeup thread port
  (wakeups 0) (accept-errors '()) (dropped '()) (reaped 0)
  (conns (make-hash-table))
  idle-ms (stop nil))

(defstruct conn fd (out (octets 0)) (last 0))

(defun now-ms () (floor (get-internal-real-time) (/ internal-time-units-per-second 1000)))

(defun close-conn (s c &optional reason)
  (when reason (push reason (srv-dropped s)))
  (remhash (conn-fd c) (srv-conns s))
  (ignore-errors (socket-close (conn-fd c))))

(defun flush (s c)
  "Send what C has pending; watch for writability while some remains."
  (let ((out (conn-out c)))
    (when (plusp (length out))
      (let ((n (or (socket-send (conn-fd c) out +msg-dontwait+) 0)))
        (setf (conn-out c) (subseq out n))))
    (modify-event (srv-epfd s) (conn-fd c)
                  (if (plusp (length (conn-out c))) +epollout+ +epollin+))))

(defun serve-conn (s c events)
  (handler-case
      (progn
        (setf (conn-last c) (now-ms))
        (when (logtest events +epollout+) (flush s c))
        (when (and (logtest events (logior +epollin+ +epollhup+ +epollerr+))
                   (zerop (length (conn-out c))))
          (let ((data (socket-recv (conn-fd c) 65536 +msg-dontwait+)))
            (cond ((null data))
                  ((zerop (length data))
                   ;; EOF (maybe a half-close): everything was echoed.
                   (close-conn s c))
                  (t (setf (conn-out c) data)
                     (flush s c))))))
    (socket-error (e) (close-conn s c (epsilon-error-name e)))))

(defun accept-all (s)
  (loop
    (multiple-value-bind (fd)
        (handler-case (socket-accept (srv-listener s) :nonblocking t)
          (socket-error (e)
            (push (epsilon-error-name e) (srv-accept-errors s))
            ;; Out of descriptors: stop watching the listener for a moment
            ;; (level-triggered, it would wake us at once, again and again).
            (when (member (epsilon-error-name e) '(:emfile :enfile))
              (delete-event (srv-epfd s) (srv-listener s))
              (setf (gethash :listener-off (srv-conns s)) (+ (now-ms) 50)))
            nil))
      (unless fd (return))
      (let ((c (make-conn :fd fd :last (now-ms))))
        (setf (gethash fd (srv-conns s)) c)
        (add-event (srv-epfd s) fd +epollin+)))))

(defun server-loop (s)
  (let ((buffer (make-event-buffer 64)))
    (loop until (srv-stop s)
          do (incf (srv-wakeups s))
             (do-events ((data events) (srv-epfd s) buffer 100)
               (cond ((= data (srv-listener s)) (accept-all s))
                     ((= data (srv-wakeup s)) (eventfd-drain (srv-wakeup s)))
                     (t (let ((c (gethash data (srv-conns s))))
                          (when c (serve-conn s c events))))))
             (let ((now (now-ms)))
               (let ((off (gethash :listener-off (srv-conns s))))
                 (when (and off (>= now off))
                   (remhash :listener-off (srv-conns s))
                   (add-event (srv-epfd s) (srv-listener s) +epollin+)))
               (when (srv-idle-ms s)
                 (loop for c being the hash-values of (srv-conns s)
                       when (and (conn-p c) (> (- now (conn-last c)) (srv-idle-ms s)))
                         collect c into idle
                       finally (dolist (c idle)
                                 (incf (srv-reaped s))
                                 (close-conn s c))))))))

(defun start-server (&key idle-ms)
  (let* ((listener (socket-create +af-inet+ +sock-stream+ 0))
         (s (make-server :listener listener :epfd (epoll-create1) :wakeup (make-eventfd)
                         :idle-ms idle-ms)))
    (set-socket-option listener +sol-socket+ +so-reuseaddr+ t)
    (socket-bind listener (make-inet-address "127.0.0.1" 0))
    (socket-listen listener 128)
    (set-socket-nonblocking listener)
    (setf (srv-port s) (address-port (socket-local-address listener)))
    (add-event (srv-epfd s) listener +epollin+)
    (add-event (srv-epfd s) (srv-wakeup s) +epollin+)
    (setf (srv-thread s)
          (sb-thread:make-thread (lambda ()
                                   (handler-case (progn (server-loop s) :stopped)
                                     (error (e) e)))
                                 :name "epoll echo server"))
    s))

(defun stop-server (s)
  (setf (srv-stop s) t)
  (eventfd-signal (srv-wakeup s))
  (let ((r (join (srv-thread s))))
    (loop for c being the hash-values of (srv-conns s)
          when (conn-p c) do (ignore-errors (socket-close (conn-fd c))))
    (epoll-close (srv-epfd s))
    (epoll-close (srv-wakeup s))
    (socket-close (srv-listener s))
    r))

(defmacro with-server ((s &rest options) &body body)
  `(let ((,s (start-server ,@options)))
     (let ((result :not-stopped))
       (unwind-protect (progn ,@body)
         (setf result (stop-server ,s)))
       (5am:is (eq :stopped result) "the server thread ended with ~S" result))))

(defun client (s)
  (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
    (socket-connect fd (make-inet-address "127.0.0.1" (srv-port s)) :timeout 10)
    fd))

(defun round-trip (s &optional (size 100000))
  "A normal client: send SIZE bytes, read them back; true when intact."
  (let ((fd (client s)))
    (unwind-protect
         (let ((data (octets size 42)) (in (octets size)) (got 0))
           (let ((w (sb-thread:make-thread (lambda () (socket-send fd data :timeout 10)))))
             (loop while (< got size)
                   do (let ((n (socket-recv-into fd in :start got :timeout 10)))
                        (when (zerop n) (return))
                        (incf got n)))
             (join w))
           (and (= got size) (every (lambda (b) (= b 42)) in)))
      (socket-close fd))))

(defmacro fault-test (name &body body)
  `(5am:test ,name
     (let ((before (counts)))
       (unwind-protect (progn ,@body)
         (5am:is (equal before (counts)) "fds and handles ~S before, ~S after"
                 before (counts))))))

(fault-test echo-server-serves
  (with-server (s)
    (5am:is (round-trip s))))

(fault-test peer-reset-mid-transfer
  ;; The peer sends, then resets the connection (SO_LINGER 0) while the
  ;; server's echo is under way.
  (with-server (s)
    (dotimes (i 5)
      (let ((fd (client s)))
        (socket-send fd (octets 200000 1) :timeout 10)
        (set-socket-option fd +sol-socket+ +so-linger+ 0)
        (socket-close fd)))
    (5am:is (round-trip s))
    (loop repeat 100 until (zerop (hash-table-count (srv-conns s))) do (sleep 0.02))
    (5am:is (zerop (hash-table-count (srv-conns s))) "connections left: ~D"
            (hash-table-count (srv-conns s)))
    (5am:is (subsetp (srv-dropped s) '(:econnreset :epipe)) "dropped: ~S" (srv-dropped s))))

(fault-test half-close-still-gets-the-reply
  (with-server (s)
    (let ((fd (client s)))
      (unwind-protect
           (progn
             (socket-send fd "hello, half-closed" :timeout 10)
             (socket-shutdown fd :write)
             (let ((in (octets 64)) (got 0))
               (loop for n = (socket-recv-into fd in :start got :timeout 10)
                     until (zerop n) do (incf got n))
               (5am:is (string= "hello, half-closed"
                                (sb-ext:octets-to-string in :end got)))))
        (socket-close fd)))
    (5am:is (round-trip s))))

(fault-test client-that-stops-reading-does-not-make-the-server-spin
  (with-server (s)
    (let ((fd (client s)))
      (unwind-protect
           (progn
             ;; Fill both directions: the server's echo backs up.
             (set-socket-nonblocking fd)
             (loop repeat 2000
                   while (socket-send fd (octets 65536 3)))
             (sleep 0.2)
             (let ((before (srv-wakeups s)))
               (sleep 0.5)
               ;; The 100 ms wait timeout gives ~5 wakeups; a server polling
               ;; a socket that stays unwritable would wake thousands of times.
               (5am:is (< (- (srv-wakeups s) before) 30)
                       "~D wakeups in 0.5 s" (- (srv-wakeups s) before)))
             (5am:is (round-trip s) "another client is served meanwhile"))
        (socket-close fd)))
    (5am:is (round-trip s))))

(fault-test slow-one-byte-clients-and-the-idle-timeout
  ;; The idle limit is well above the trickle's 50 ms gaps, so that a busy
  ;; machine delaying a thread cannot make a slow client look idle.
  (with-server (s :idle-ms 1000)
    (let ((slow (loop repeat 4 collect (client s)))
          (silent (client s)))
      (unwind-protect
           (let ((trickle (sb-thread:make-thread
                           (lambda ()
                             (loop repeat 10
                                   do (dolist (fd slow) (socket-send fd "x" :timeout 5))
                                      (sleep 0.05))
                             :done))))
             ;; Others are served while the slow ones trickle.
             (5am:is (round-trip s))
             (5am:is (eq :done (join trickle)))
             ;; The silent client is reaped by the idle timeout: it sees EOF.
             (5am:is (equalp #() (socket-recv silent 10 :timeout 5)))
             ;; Each slow one got its bytes echoed.
             (dolist (fd slow)
               (let ((in (octets 10)) (got 0))
                 (loop while (< got 10)
                       do (let ((n (socket-recv-into fd in :start got :timeout 5)))
                            (when (zerop n) (return))
                            (incf got n)))
                 (5am:is (= 10 got)))))
        (mapc #'socket-close slow)
        (socket-close silent))
      (5am:is (>= (srv-reaped s) 1)))))

;;; Descriptor exhaustion

(sb-alien:define-alien-routine ("getrlimit" %getrlimit) sb-alien:int
  (resource sb-alien:int) (limits (* (array sb-alien:unsigned-long 2))))
(sb-alien:define-alien-routine ("setrlimit" %setrlimit) sb-alien:int
  (resource sb-alien:int) (limits (* (array sb-alien:unsigned-long 2))))

(defconstant +rlimit-nofile+ 7)

(defun nofile-limit ()
  (sb-alien:with-alien ((l (array sb-alien:unsigned-long 2)))
    (assert (zerop (%getrlimit +rlimit-nofile+ (sb-alien:addr l))))
    (values (sb-alien:deref l 0) (sb-alien:deref l 1))))

(defun set-nofile-limit (soft)
  (multiple-value-bind (old hard) (nofile-limit)
    (declare (ignore old))
    (sb-alien:with-alien ((l (array sb-alien:unsigned-long 2)))
      (setf (sb-alien:deref l 0) soft (sb-alien:deref l 1) hard)
      (assert (zerop (%setrlimit +rlimit-nofile+ (sb-alien:addr l)))))))

(defun highest-open-fd ()
  "The highest descriptor number open (an entry of /proc/self/fd may list
as a directory, \"3/\": read the number from the text)."
  (loop for p in (directory "/proc/self/fd/*" :resolve-symlinks nil)
        maximize (let* ((text (string-right-trim "/" (namestring p))))
                   (or (parse-integer text :start (1+ (position #\/ text :from-end t))
                                           :junk-allowed t)
                       0))))

(fault-test fd-exhaustion-at-accept-and-recovery
  (with-server (s)
    (let ((fd (socket-create +af-inet+ +sock-stream+ 0))
          (hogs '())
          (old (nofile-limit)))
      (unwind-protect
           (progn
             ;; Only a few descriptors left: take them all.
             (set-nofile-limit (+ (highest-open-fd) 16))
             (handler-case (loop (push (make-eventfd) hogs))
               (epoll-error (e) (5am:is (eq :emfile (epsilon-error-name e)))))
             ;; A connection arrives: the server's accept fails with EMFILE.
             (socket-connect fd (make-inet-address "127.0.0.1" (srv-port s)) :timeout 5)
             (loop repeat 200 until (srv-accept-errors s) do (sleep 0.01))
             (5am:is (member :emfile (srv-accept-errors s)) "accept errors: ~S"
                     (srv-accept-errors s))
             ;; Descriptors come back: the server accepts and serves it.
             (mapc #'epoll-close (shiftf hogs '()))
             (set-nofile-limit old)
             (socket-send fd "still there?" :timeout 10)
             (5am:is (equalp (sb-ext:string-to-octets "still there?")
                             (socket-recv fd 64 :timeout 10))))
        (mapc #'epoll-close hogs)
        (set-nofile-limit old)
        (socket-close fd))
      (5am:is (eq t (sb-thread:thread-alive-p (srv-thread s))))
      (5am:is (round-trip s)))))

;;; TLS: a threaded echo server meets broken peers

(defun call-with-tls-server (function)
  "A TLS echo server on loopback: a thread accepting, one thread per
connection.  Calls FUNCTION with the port and a function returning the
list of per-connection outcomes so far."
  (with-server-socket (listener :host "127.0.0.1")
    (let* ((ctx (make-tls-context :role :server :cert-file (cert "server.pem")
                                  :key-file (cert "server.key")))
           (outcomes '()) (workers '()) (lock (sb-thread:make-mutex))
           (stop nil)
           (acceptor
             (sb-thread:make-thread
              (lambda ()
                (loop until stop
                      do (let ((fd (handler-case (socket-accept listener :timeout 0.1)
                                     (socket-timeout () nil))))
                           (when fd
                             (push (sb-thread:make-thread
                                    (lambda ()
                                      (let ((r (handler-case
                                                   (with-tls-connection (c ctx fd :timeout 5)
                                                     (tls-handshake c)
                                                     (let ((buf (octets 16384)) (total 0))
                                                       (loop for n = (tls-recv-into c buf)
                                                             until (zerop n)
                                                             do (tls-send c buf :end n)
                                                                (incf total n))
                                                       total))
                                                 (error (e) (type-of e)))))
                                        (socket-close fd)
                                        (sb-thread:with-mutex (lock) (push r outcomes)))))
                                   workers))))
                :stopped)
              :name "tls acceptor")))
      (unwind-protect
           (funcall function (address-port (socket-local-address listener))
                    (lambda () (sb-thread:with-mutex (lock) (copy-list outcomes))))
        (setf stop t)
        (5am:is (eq :stopped (join acceptor)))
        (mapc #'join workers)
        (tls-context-free ctx)))))

(defun tls-round-trip (port)
  (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
    (unwind-protect
         (progn
           (socket-connect fd (make-inet-address "127.0.0.1" port) :timeout 10)
           (with-tls-context (ctx :ca-file (cert "ca.pem"))
             (with-tls-connection (c ctx fd :hostname "localhost" :timeout 10)
               (tls-handshake c)
               (tls-send c "ping over TLS")
               (prog1 (equalp (sb-ext:string-to-octets "ping over TLS") (tls-recv c 100))
                 (tls-shutdown c)
                 (loop repeat 100 until (zerop (length (tls-recv c 100))))))))
      (socket-close fd))))

(defun raw-client (port octets &key (then :close))
  "Connect, send OCTETS raw, then close (THEN :CLOSE) or reset (:RESET);
return what the server sent back before closing, as octets."
  (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
    (unwind-protect
         (progn
           (socket-connect fd (make-inet-address "127.0.0.1" port) :timeout 10)
           (when (plusp (length octets)) (socket-send fd octets :timeout 10))
           (ecase then
             (:close (socket-shutdown fd :write))
             (:reset (set-socket-option fd +sol-socket+ +so-linger+ 0)))
           (let ((got (make-array 0 :element-type '(unsigned-byte 8) :adjustable t :fill-pointer 0)))
             (when (eq then :close)
               (handler-case
                   (loop for chunk = (socket-recv fd 4096 :timeout 10)
                         until (zerop (length chunk))
                         do (loop for b across chunk do (vector-push-extend b got)))
                 (socket-error () nil)))
             got))
      (socket-close fd))))

(defun client-hello (port)
  "The first flight of a real client (its ClientHello), captured from a
client connection whose peer only reads."
  (declare (ignore port))
  (multiple-value-bind (a b) (socket-pair)
    (unwind-protect
         (with-tls-context (ctx :verify nil)
           (with-tls-connection (c ctx a :timeout 1)
             (handler-case (tls-handshake c :timeout 0.2)
               (tls-error () nil))
             (socket-recv b 65536 +msg-dontwait+)))
      (socket-close a)
      (socket-close b))))

(fault-test tls-server-survives-broken-peers
  (call-with-tls-server
   (lambda (port outcomes)
     (5am:is (tls-round-trip port))
     (let ((hello (client-hello port)))
       (5am:is (> (length hello) 40))
       ;; A truncated handshake: half a ClientHello, then EOF; then a reset.
       (raw-client port (subseq hello 0 (floor (length hello) 2)))
       (raw-client port (subseq hello 0 10) :then :reset)
       ;; Garbage records: a record header announcing 16 KiB, random bytes.
       (let ((garbage (octets 2000)))
         (replace garbage #(23 3 3 64 0))
         (loop for i from 5 below 2000 do (setf (aref garbage i) (random 256)))
         (raw-client port garbage))
       ;; A valid hello followed by garbage.
       (raw-client port (concatenate '(vector (unsigned-byte 8)) hello (octets 500 255)))
       ;; Plaintext HTTP on the TLS port.
       (let ((reply (raw-client port (sb-ext:string-to-octets
                                      (format nil "GET / HTTP/1.1~C~CHost: x~C~C~C~C"
                                              #\Return #\Newline #\Return #\Newline
                                              #\Return #\Newline)))))
         ;; At most an alert comes back, never an echo of the request.
         (5am:is (not (search (sb-ext:string-to-octets "GET") reply))))
       ;; Nothing at all, then EOF.
       (raw-client port (octets 0)))
     (5am:is (tls-round-trip port) "served after the broken peers")
     (loop repeat 1000 until (>= (length (funcall outcomes)) 8) do (sleep 0.01))
     (let ((o (funcall outcomes)))
       (5am:is (= 2 (count-if #'integerp o)) "outcomes: ~S" o)
       (5am:is (every (lambda (x) (or (integerp x) (subtypep x 'tls-error))) o)
               "outcomes: ~S" o)))))
