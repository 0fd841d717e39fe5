;;;; SPDX-License-Identifier: MIT
;;;; suite-epoll.lisp - epsilon.sys.epoll: instances, registrations, waits,
;;;; level and edge triggering, one-shot, hang-ups, eventfds and timerfds,
;;;; 1,000 ready descriptors, errors, EINTR, timeouts, and the zero-consing
;;;; loop.  Every test checks that it leaves the library's descriptor count
;;;; and the process's descriptor count as it found them.

(in-package #:epsilon.linux.tests)

(def-suite epoll :in epsilon-linux :description "epsilon.sys.epoll.")
(in-suite epoll)

;;; Helpers

(defun process-fd-count ()
  (length (directory "/proc/self/fd/*" :resolve-symlinks nil)))

(defmacro epoll-test (name &body body)
  "A test that also checks BODY leaves no descriptor open."
  `(test ,name
     (let ((lib-before (epsilon.linux:open-fd-count))
           (proc-before (process-fd-count)))
       (unwind-protect (progn ,@body)
         (is (= lib-before (epsilon.linux:open-fd-count))
             "library descriptors: ~D before, ~D after"
             lib-before (epsilon.linux:open-fd-count))
         (is (= proc-before (process-fd-count))
             "process descriptors: ~D before, ~D after"
             proc-before (process-fd-count))))))

(defun now-ms ()
  "Milliseconds on CLOCK_MONOTONIC, as a real (for elapsed-time checks)."
  (/ (epsilon.sys.epoll::monotonic-us) 1000))

(defun close-raw (fd)
  (is (zerop (epsilon.linux.bindings:%eps-close fd))))

(defmacro with-socketpair ((a b &optional (type 'epsilon.linux.bindings:+sock-stream+)) &body body)
  "Bind A and B to a connected pair of Unix stream sockets, closed after BODY."
  (let ((fds (gensym "FDS")))
    `(let ((,fds (make-array 2 :element-type '(signed-byte 32))))
       (is (zerop (epsilon.linux.bindings:%eps-socketpair
                   epsilon.linux.bindings:+af-unix+ ,type 0 ,fds)))
       (let ((,a (aref ,fds 0)) (,b (aref ,fds 1)))
         (unwind-protect (progn ,@body)
           (close-raw ,a)
           (close-raw ,b))))))

(defun send-octets (fd n)
  (let ((buf (make-array n :element-type '(unsigned-byte 8) :initial-element 42)))
    (is (= n (epsilon.linux.bindings:%eps-send fd buf n 0)))))

(defun recv-octets (fd n)
  (let ((buf (make-array n :element-type '(unsigned-byte 8))))
    (epsilon.linux.bindings:%eps-recv fd buf n epsilon.linux.bindings:+msg-dontwait+)))

(defun fds-of (events)
  (sort (mapcar #'epsilon.sys.epoll:epoll-event-data events) #'<))

(defmacro signals-epoll-code (code &body body)
  "BODY signals an EPOLL-ERROR whose code is CODE and whose name matches."
  `(let ((c (handler-case (progn ,@body nil)
              (epsilon.sys.epoll:epoll-error (e) e))))
     (is (typep c 'epsilon.sys.epoll:epoll-error) "no epoll-error from ~S" ',body)
     (when c
       (is (= ,code (epsilon.sys.epoll:epoll-error-code c)))
       (is (eq (epsilon.linux:error-name ,code) (epsilon.linux.errors:epsilon-error-name c))))))

(defun raise-fd-limit (n)
  "Raise the soft limit on open descriptors to at least N (within the hard
limit), through getrlimit/setrlimit (RLIMIT_NOFILE is 7 on Linux)."
  (let ((lim (make-array 2 :element-type '(unsigned-byte 64))))
    (assert (zerop (epsilon.foreign:shared-call "getrlimit" :int '(:int :pointer) 7 lim)))
    (when (< (aref lim 0) n)
      (setf (aref lim 0) (min n (aref lim 1)))
      (assert (zerop (epsilon.foreign:shared-call "setrlimit" :int '(:int :pointer) 7 lim))))
    (aref lim 0)))

;;; Use from a package that uses every public package

(test epoll-package-shares-the-error-symbols
  (is (eq 'epsilon.linux.errors:epoll-error 'epsilon.sys.epoll:epoll-error))
  (is (eq 'epsilon.linux.errors:+ebadf+ 'epsilon.sys.epoll:+ebadf+))
  (is (eq 'epsilon.linux.bindings:+epollin+ 'epsilon.sys.epoll:+epollin+))
  (let ((missing '()))
    (do-external-symbols (s :epsilon.sys.epoll)
      (unless (or (eq :external (nth-value 1 (find-symbol (symbol-name s) :epsilon.linux.errors)))
                  (documentation s 'function) (documentation s 'variable)
                  (documentation s 'type) (documentation s 'structure))
        (push s missing)))
    (is (null missing) "undocumented: ~S" missing)))

(test epoll-constants-have-the-kernel-values
  (is (= 1 epsilon.sys.epoll:+epollin+))
  (is (= 4 epsilon.sys.epoll:+epollout+))
  (is (= #x2000 epsilon.sys.epoll:+epollrdhup+))
  (is (= (expt 2 31) epsilon.sys.epoll:+epollet+))
  (is (= (expt 2 30) epsilon.sys.epoll:+epolloneshot+))
  (is (= 1 epsilon.sys.epoll:+epoll-ctl-add+))
  (is (= 3 epsilon.sys.epoll:+epoll-ctl-mod+))
  (is (= 2 epsilon.sys.epoll:+epoll-ctl-del+))
  (is (= #x80000 epsilon.sys.epoll:+epoll-cloexec+)))

;;; Instances

(epoll-test epoll-create-and-close
  (let ((a (epsilon.sys.epoll:epoll-create1))
        (b (epsilon.sys.epoll:epoll-create1 epsilon.sys.epoll:+epoll-cloexec+))
        (c (epsilon.sys.epoll:epoll-create 10)))
    (is (every #'integerp (list a b c)))
    (is (= 3 (length (remove-duplicates (list a b c)))))
    (is (eq t (epsilon.sys.epoll:epoll-close a)))
    (is (eq t (epsilon.sys.epoll:epoll-close b)))
    (is (eq t (epsilon.sys.epoll:epoll-close c)))
    ;; Closing twice is an error: the number may already be someone else's.
    (signals-epoll-code epsilon.sys.epoll:+ebadf+ (epsilon.sys.epoll:epoll-close a))
    (signals-epoll-code epsilon.sys.epoll:+einval+ (epsilon.sys.epoll:epoll-create1 1))
    (signals type-error (epsilon.sys.epoll:epoll-create 0))))

(epoll-test with-epoll-closes-on-every-exit
  (let ((seen nil))
    (is (eq :done (epsilon.sys.epoll:with-epoll (epfd)
                    (setf seen epfd)
                    :done)))
    (is (integerp seen))
    (signals-epoll-code epsilon.sys.epoll:+ebadf+ (epsilon.sys.epoll:epoll-close seen)))
  (let ((before (epsilon.linux:open-fd-count)))
    (signals simple-error
      (epsilon.sys.epoll:with-epoll (epfd epsilon.sys.epoll:+epoll-cloexec+)
        (is (= (1+ before) (epsilon.linux:open-fd-count)))
        (error "leaving")))
    (is (= before (epsilon.linux:open-fd-count)))
    (is (= 7 (catch 'out
               (epsilon.sys.epoll:with-epoll (epfd)
                 (throw 'out 7)))))
    (is (= before (epsilon.linux:open-fd-count)))))

;;; Events and data words

(test epoll-event-and-data-accessors
  (let ((e (epsilon.sys.epoll:make-epoll-event :events epsilon.sys.epoll:+epollin+ :data 7)))
    (is (= 7 (epsilon.sys.epoll:epoll-event-data e)))
    (is (= 1 (epsilon.sys.epoll:epoll-event-events e)))
    (is (epsilon.sys.epoll:epoll-event-p e)))
  (let ((e (epsilon.sys.epoll:make-epoll-event)))
    (is (= 0 (epsilon.sys.epoll:epoll-event-events e) (epsilon.sys.epoll:epoll-event-data e))))
  (let ((d (epsilon.sys.epoll:make-epoll-data :u64 (+ (expt 2 40) 5))))
    (is (= (+ (expt 2 40) 5) (epsilon.sys.epoll:epoll-data-u64 d)))
    (is (= 5 (epsilon.sys.epoll:epoll-data-u32 d)))
    (is (= 5 (epsilon.sys.epoll:epoll-data-fd d)))
    (is (= (+ (expt 2 40) 5)
           (epsilon.sys.epoll:epoll-event-data (epsilon.sys.epoll:make-epoll-event :data d)))))
  (let ((d (epsilon.sys.epoll:make-epoll-data :fd 12)))
    (is (= 12 (epsilon.sys.epoll:epoll-data-fd d) (epsilon.sys.epoll:epoll-data-u64 d))))
  (let ((d (epsilon.sys.epoll:make-epoll-data :u32 #xffffffff)))
    (is (= -1 (epsilon.sys.epoll:epoll-data-fd d)))
    (is (= #xffffffff (epsilon.sys.epoll:epoll-data-u32 d))))
  (let ((d (epsilon.sys.epoll:make-epoll-data :ptr (sb-sys:int-sap #x1000))))
    (is (= #x1000 (sb-sys:sap-int (epsilon.sys.epoll:epoll-data-ptr d)))))
  (is (= (1- (expt 2 64))
         (epsilon.sys.epoll:epoll-event-data
          (epsilon.sys.epoll:make-epoll-event :data (1- (expt 2 64))))))
  (signals type-error (epsilon.sys.epoll:make-epoll-event :data -1))
  (signals type-error (epsilon.sys.epoll:make-epoll-event :data (expt 2 64)))
  (signals type-error (epsilon.sys.epoll:make-epoll-event :events (expt 2 32)))
  (signals type-error (epsilon.sys.epoll:make-epoll-data :u32 (expt 2 32)))
  (signals error (epsilon.sys.epoll:make-epoll-data :fd 1 :u32 2)))

(test epoll-event-predicates
  (flet ((ev (mask) (epsilon.sys.epoll:make-epoll-event :events mask)))
    (is-true (epsilon.sys.epoll:epoll-event-readable-p (ev epsilon.sys.epoll:+epollin+)))
    (is-false (epsilon.sys.epoll:epoll-event-readable-p (ev epsilon.sys.epoll:+epollout+)))
    (is-true (epsilon.sys.epoll:epoll-event-writable-p (ev epsilon.sys.epoll:+epollout+)))
    (is-false (epsilon.sys.epoll:epoll-event-writable-p (ev 0)))
    (is-true (epsilon.sys.epoll:epoll-event-error-p (ev epsilon.sys.epoll:+epollerr+)))
    (is-false (epsilon.sys.epoll:epoll-event-error-p (ev epsilon.sys.epoll:+epollhup+)))
    (is-true (epsilon.sys.epoll:epoll-event-hangup-p (ev epsilon.sys.epoll:+epollhup+)))
    (is-true (epsilon.sys.epoll:epoll-event-hangup-p (ev epsilon.sys.epoll:+epollrdhup+)))
    (is-false (epsilon.sys.epoll:epoll-event-hangup-p (ev epsilon.sys.epoll:+epollin+)))
    ;; A bare mask works too (DO-EVENTS hands out masks).
    (is-true (epsilon.sys.epoll:epoll-event-readable-p
              (logior epsilon.sys.epoll:+epollin+ epsilon.sys.epoll:+epollout+)))
    (signals type-error (epsilon.sys.epoll:epoll-event-readable-p "x"))))

;;; Sources, level and edge triggering

(epoll-test socketpair-level-triggered-reports-until-drained
  (with-socketpair (a b)
    (epsilon.sys.epoll:with-epoll (epfd)
      (is (eq t (epsilon.sys.epoll:add-event epfd a epsilon.sys.epoll:+epollin+)))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0)))
      (send-octets b 100)
      (dotimes (i 3)
        (let ((events (epsilon.sys.epoll:wait-for-events epfd 10 1000)))
          (is (= 1 (length events)))
          (is (= a (epsilon.sys.epoll:epoll-event-data (first events))))
          (is-true (epsilon.sys.epoll:epoll-event-readable-p (first events)))))
      (is (= 60 (recv-octets a 60)))
      (is (= 1 (length (epsilon.sys.epoll:wait-for-events epfd 10 0))))
      (is (= 40 (recv-octets a 100)))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0))))))

(epoll-test socketpair-edge-triggered-reports-once-per-edge
  (with-socketpair (a b)
    (epsilon.sys.epoll:with-epoll (epfd)
      (epsilon.sys.epoll:add-event epfd a (logior epsilon.sys.epoll:+epollin+
                                                  epsilon.sys.epoll:+epollet+))
      (send-octets b 10)
      (is (= 1 (length (epsilon.sys.epoll:wait-for-events epfd 10 1000))))
      ;; Still readable, but no new edge: nothing more.
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0)))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 20)))
      (send-octets b 10)
      (is (= 1 (length (epsilon.sys.epoll:wait-for-events epfd 10 1000))))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0)))
      (is (= 20 (recv-octets a 100))))))

(epoll-test writable-and-modify-event
  (with-socketpair (a b)
    (epsilon.sys.epoll:with-epoll (epfd)
      (epsilon.sys.epoll:add-event epfd a epsilon.sys.epoll:+epollin+ 1000)
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0)))
      (is (eq t (epsilon.sys.epoll:modify-event epfd a epsilon.sys.epoll:+epollout+ 2000)))
      (let ((events (epsilon.sys.epoll:wait-for-events epfd 10 1000)))
        (is (= 1 (length events)))
        (is (= 2000 (epsilon.sys.epoll:epoll-event-data (first events))))
        (is-true (epsilon.sys.epoll:epoll-event-writable-p (first events)))
        (is-false (epsilon.sys.epoll:epoll-event-readable-p (first events))))
      ;; MODIFY-EVENT's data defaults to the descriptor.
      (epsilon.sys.epoll:modify-event epfd a epsilon.sys.epoll:+epollout+)
      (is (equal (list a) (fds-of (epsilon.sys.epoll:wait-for-events epfd 10 0))))
      (is (eq t (epsilon.sys.epoll:delete-event epfd a)))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0))))))

(epoll-test epoll-ctl-with-events-and-nil-for-delete
  (with-socketpair (a b)
    (epsilon.sys.epoll:with-epoll (epfd)
      (is (eq t (epsilon.sys.epoll:epoll-ctl
                 epfd epsilon.sys.epoll:+epoll-ctl-add+ a
                 (epsilon.sys.epoll:make-epoll-event
                  :events (logior epsilon.sys.epoll:+epollin+ epsilon.sys.epoll:+epollet+)
                  :data a))))
      (epsilon.sys.epoll:epoll-ctl epfd epsilon.sys.epoll:+epoll-ctl-mod+ a
                                   (epsilon.sys.epoll:make-epoll-event
                                    :events epsilon.sys.epoll:+epollout+ :data 99))
      (is (equal '(99) (fds-of (epsilon.sys.epoll:wait-for-events epfd 4 1000))))
      (is (eq t (epsilon.sys.epoll:epoll-ctl epfd epsilon.sys.epoll:+epoll-ctl-del+ a nil)))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 4 0)))
      (signals type-error (epsilon.sys.epoll:epoll-ctl epfd epsilon.sys.epoll:+epoll-ctl-add+ a nil))
      (signals type-error (epsilon.sys.epoll:epoll-ctl epfd 9 a nil)))))

(epoll-test oneshot-disarms-until-modify-event
  (with-socketpair (a b)
    (epsilon.sys.epoll:with-epoll (epfd)
      (epsilon.sys.epoll:add-event epfd a (logior epsilon.sys.epoll:+epollin+
                                                  epsilon.sys.epoll:+epolloneshot+))
      (send-octets b 5)
      (is (= 1 (length (epsilon.sys.epoll:wait-for-events epfd 10 1000))))
      ;; Data is still there, but the registration is disarmed.
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0)))
      (send-octets b 5)
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 20)))
      (epsilon.sys.epoll:modify-event epfd a (logior epsilon.sys.epoll:+epollin+
                                                     epsilon.sys.epoll:+epolloneshot+))
      (is (equal (list a) (fds-of (epsilon.sys.epoll:wait-for-events epfd 10 1000))))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0)))
      (is (= 10 (recv-octets a 100))))))

(epoll-test rdhup-on-peer-shutdown
  (with-socketpair (a b)
    (epsilon.sys.epoll:with-epoll (epfd)
      (epsilon.sys.epoll:add-event epfd a (logior epsilon.sys.epoll:+epollin+
                                                  epsilon.sys.epoll:+epollrdhup+))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0)))
      (is (zerop (epsilon.linux.bindings:%eps-shutdown b epsilon.linux.bindings:+shut-wr+)))
      (let ((events (epsilon.sys.epoll:wait-for-events epfd 10 1000)))
        (is (= 1 (length events)))
        (let ((mask (epsilon.sys.epoll:epoll-event-events (first events))))
          (is (logtest mask epsilon.sys.epoll:+epollrdhup+))
          (is-true (epsilon.sys.epoll:epoll-event-hangup-p (first events))))))))

(epoll-test hangup-when-peer-closes
  (let ((fds (make-array 2 :element-type '(signed-byte 32))))
    (is (zerop (epsilon.linux.bindings:%eps-socketpair
                epsilon.linux.bindings:+af-unix+ epsilon.linux.bindings:+sock-stream+ 0 fds)))
    (epsilon.sys.epoll:with-epoll (epfd)
      (epsilon.sys.epoll:add-event epfd (aref fds 0) epsilon.sys.epoll:+epollin+)
      (close-raw (aref fds 1))
      (let ((events (epsilon.sys.epoll:wait-for-events epfd 10 1000)))
        (is (= 1 (length events)))
        ;; EPOLLHUP is reported without being asked for.
        (is (logtest (epsilon.sys.epoll:epoll-event-events (first events))
                     epsilon.sys.epoll:+epollhup+))
        (is-true (epsilon.sys.epoll:epoll-event-hangup-p (first events)))))
    (close-raw (aref fds 0))))

(epoll-test exclusive-accepted-on-add
  (epsilon.sys.epoll:with-eventfd (e)
    (epsilon.sys.epoll:with-epoll (ep1)
      (epsilon.sys.epoll:with-epoll (ep2)
        (dolist (ep (list ep1 ep2))
          (is (eq t (epsilon.sys.epoll:add-event
                     ep e (logior epsilon.sys.epoll:+epollin+ epsilon.sys.epoll:+epollexclusive+)))))
        (epsilon.sys.epoll:eventfd-signal e)
        (is (= 1 (length (epsilon.sys.epoll:wait-for-events ep1 4 1000))))
        ;; The kernel refuses EPOLLEXCLUSIVE on a modification.
        (signals-epoll-code epsilon.sys.epoll:+einval+
          (epsilon.sys.epoll:modify-event
           ep1 e (logior epsilon.sys.epoll:+epollin+ epsilon.sys.epoll:+epollexclusive+)))))))

(epoll-test tcp-sockets-as-sources
  ;; A listener on 127.0.0.1, port 0: readable when a client connects; the
  ;; accepted socket readable when the client sends.
  (let ((addr (make-array 128 :element-type '(unsigned-byte 8)))
        (len (make-array 1 :element-type '(unsigned-byte 32) :initial-element 128))
        (listener (epsilon.linux.bindings:%eps-socket epsilon.linux.bindings:+af-inet+
                                                      epsilon.linux.bindings:+sock-stream+ 0))
        (client nil) (server nil))
    (is (>= listener 0))
    (unwind-protect
         (let ((alen (epsilon.linux.bindings:%eps-addr-inet "127.0.0.1" 0 addr 128)))
           (is (zerop (epsilon.linux.bindings:%eps-bind listener addr alen)))
           (is (zerop (epsilon.linux.bindings:%eps-listen listener 8)))
           (is (plusp (epsilon.linux.bindings:%eps-getsockname listener addr 128)))
           (epsilon.sys.epoll:with-epoll (epfd)
             (epsilon.sys.epoll:add-event epfd listener epsilon.sys.epoll:+epollin+)
             (is (null (epsilon.sys.epoll:wait-for-events epfd 4 0)))
             (setf client (epsilon.linux.bindings:%eps-socket epsilon.linux.bindings:+af-inet+
                                                              epsilon.linux.bindings:+sock-stream+ 0))
             (is (zerop (epsilon.linux.bindings:%eps-connect client addr alen)))
             (is (equal (list listener) (fds-of (epsilon.sys.epoll:wait-for-events epfd 4 1000))))
             (setf server (epsilon.linux.bindings:%eps-accept listener 0 addr len))
             (is (>= server 0))
             (epsilon.sys.epoll:add-event epfd server (logior epsilon.sys.epoll:+epollin+
                                                              epsilon.sys.epoll:+epollrdhup+))
             (send-octets client 3)
             (let ((events (epsilon.sys.epoll:wait-for-events epfd 4 1000)))
               (is (equal (list server) (fds-of events)))
               (is-true (epsilon.sys.epoll:epoll-event-readable-p (first events))))
             (is (= 3 (recv-octets server 10)))))
      (when server (close-raw server))
      (when client (close-raw client))
      (close-raw listener))))

;;; Eventfds and timerfds

(epoll-test eventfd-wakes-a-loop-from-another-thread
  (epsilon.sys.epoll:with-eventfd (e)
    (epsilon.sys.epoll:with-epoll (epfd)
      (epsilon.sys.epoll:add-event epfd e epsilon.sys.epoll:+epollin+)
      (is (null (epsilon.sys.epoll:wait-for-events epfd 4 0)))
      (is (= 0 (epsilon.sys.epoll:eventfd-drain e)))
      (let ((thread (sb-thread:make-thread
                     (lambda () (epsilon.sys.epoll:eventfd-signal e 3)))))
        (let ((events (epsilon.sys.epoll:wait-for-events epfd 4 10000)))
          (is (equal (list e) (fds-of events))))
        (sb-thread:join-thread thread))
      (epsilon.sys.epoll:eventfd-signal e)
      (is (= 4 (epsilon.sys.epoll:eventfd-drain e)))
      (is (= 0 (epsilon.sys.epoll:eventfd-drain e)))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 4 0))))))

(epoll-test eventfd-semaphore-and-initial
  (epsilon.sys.epoll:with-eventfd (e :initial 2 :semaphore t)
    (is (= 1 (epsilon.sys.epoll:eventfd-drain e)))
    (is (= 1 (epsilon.sys.epoll:eventfd-drain e)))
    (is (= 0 (epsilon.sys.epoll:eventfd-drain e))))
  (let ((e (epsilon.sys.epoll:make-eventfd :initial 5)))
    (is (= 5 (epsilon.sys.epoll:eventfd-drain e)))
    ;; A counter at its maximum: the signal is not needed, and says so.
    (is (eq t (epsilon.sys.epoll:eventfd-signal e (- (expt 2 64) 2))))
    (is (null (epsilon.sys.epoll:eventfd-signal e)))
    (is (= (- (expt 2 64) 2) (epsilon.sys.epoll:eventfd-drain e)))
    (is (eq t (epsilon.sys.epoll:epoll-close e))))
  (signals type-error (epsilon.sys.epoll:make-eventfd :initial -1))
  (signals type-error (epsilon.sys.epoll:eventfd-signal 0 0)))

(epoll-test timerfd-one-shot-and-periodic
  (epsilon.sys.epoll:with-timerfd (tfd)
    (epsilon.sys.epoll:with-epoll (epfd)
      (epsilon.sys.epoll:add-event epfd tfd epsilon.sys.epoll:+epollin+)
      (is (= 0 (epsilon.sys.epoll:timerfd-read tfd)))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 4 0)))
      (let ((start (now-ms)))
        (is (eq t (epsilon.sys.epoll:timerfd-arm tfd 0.05)))
        (is (equal (list tfd) (fds-of (epsilon.sys.epoll:wait-for-events epfd 4 10000))))
        (is (>= (- (now-ms) start) 50)))
      (is (= 1 (epsilon.sys.epoll:timerfd-read tfd)))
      (is (null (epsilon.sys.epoll:wait-for-events epfd 4 0)))
      ;; Periodic: every 10 ms; wait for three ticks.
      (epsilon.sys.epoll:timerfd-arm tfd 1/100 1/100)
      (let ((ticks 0))
        (loop repeat 100 while (< ticks 3)
              do (when (epsilon.sys.epoll:wait-for-events epfd 4 10000)
                   (incf ticks (epsilon.sys.epoll:timerfd-read tfd))))
        (is (>= ticks 3)))
      ;; 0 disarms.
      (epsilon.sys.epoll:timerfd-arm tfd 0)
      (epsilon.sys.epoll:timerfd-read tfd)
      (is (null (epsilon.sys.epoll:wait-for-events epfd 4 30)))
      (is (= 0 (epsilon.sys.epoll:timerfd-read tfd)))))
  (let ((tfd (epsilon.sys.epoll:make-timerfd :clock :boottime)))
    (is (eq t (epsilon.sys.epoll:epoll-close tfd))))
  (signals type-error (epsilon.sys.epoll:timerfd-arm 0 -1))
  (signals error (epsilon.sys.epoll:make-timerfd :clock :sundial))
  ;; An eventfd is not a timerfd.
  (epsilon.sys.epoll:with-eventfd (e)
    (signals-epoll-code epsilon.sys.epoll:+einval+ (epsilon.sys.epoll:timerfd-read e))
    (signals-epoll-code epsilon.sys.epoll:+einval+ (epsilon.sys.epoll:timerfd-arm e 1))))

;;; 1,000 ready descriptors at once

(defun big-data (i)
  "Data words at and above 2^32, up to 2^64-1."
  (if (evenp i)
      (+ (expt 2 32) i)
      (- (expt 2 64) 1 i)))

(epoll-test a-thousand-ready-descriptors-in-one-wait
  (raise-fd-limit 4096)
  (let ((fds '()))
    (unwind-protect
         (epsilon.sys.epoll:with-epoll (epfd)
           (dotimes (i 1000)
             (let ((e (epsilon.sys.epoll:make-eventfd :initial 1)))
               (push e fds)
               (epsilon.sys.epoll:add-event epfd e epsilon.sys.epoll:+epollin+ (big-data i))))
           (let ((expected (sort (loop for i below 1000 collect (big-data i)) #'<)))
             ;; The list form.
             (let ((events (epsilon.sys.epoll:wait-for-events epfd 1000 1000)))
               (is (= 1000 (length events)))
               (is (equal expected (fds-of events)))
               (is (every #'epsilon.sys.epoll:epoll-event-readable-p events)))
             (let ((events (epsilon.sys.epoll:epoll-wait epfd 1000 1000)))
               (is (equal expected (fds-of events))))
             ;; The vector form, into zeros (the documented MAKE-ARRAY).
             (let ((vector (make-array 1000 :element-type 'epsilon.sys.epoll:epoll-event)))
               (is (= 1000 (epsilon.sys.epoll:epoll-wait epfd vector 1000 1000)))
               (is (equal expected (fds-of (coerce vector 'list))))
               ;; Again, into the same structures.
               (let ((first (aref vector 0)))
                 (is (= 1000 (epsilon.sys.epoll:epoll-wait epfd vector 1000 1000)))
                 (is (eq first (aref vector 0)))
                 (is (equal expected (fds-of (coerce vector 'list))))))
             ;; DO-EVENTS.
             (let ((buffer (epsilon.sys.epoll:make-event-buffer 1000))
                   (seen '()))
               (is (= 1000 (epsilon.sys.epoll:do-events ((data mask) epfd buffer 1000)
                             (when (epsilon.sys.epoll:epoll-event-readable-p mask)
                               (push data seen)))))
               (is (equal expected (sort seen #'<))))
             ;; Fewer than are ready: each wait gives distinct ones.
             (let ((a (fds-of (epsilon.sys.epoll:wait-for-events epfd 10 0))))
               (is (= 10 (length a))))))
      (mapc #'epsilon.sys.epoll:epoll-close fds))))

;;; Errors

(epoll-test errors-are-epoll-errors-with-the-right-code
  (epsilon.sys.epoll:with-eventfd (e)
    (let ((closed (epsilon.sys.epoll:epoll-create1)))
      (epsilon.sys.epoll:epoll-close closed)
      ;; A bad epfd: closed, or not an epoll instance.
      (signals-epoll-code epsilon.sys.epoll:+ebadf+ (epsilon.sys.epoll:wait-for-events closed 1 0))
      (signals-epoll-code epsilon.sys.epoll:+ebadf+
        (epsilon.sys.epoll:epoll-wait closed (make-array 4) 4 0))
      (signals-epoll-code epsilon.sys.epoll:+ebadf+
        (epsilon.sys.epoll:add-event closed e epsilon.sys.epoll:+epollin+))
      (signals-epoll-code epsilon.sys.epoll:+einval+ (epsilon.sys.epoll:wait-for-events e 1 0))
      (signals-epoll-code epsilon.sys.epoll:+einval+
        (epsilon.sys.epoll:add-event e e epsilon.sys.epoll:+epollin+))
      (epsilon.sys.epoll:with-epoll (epfd)
        (epsilon.sys.epoll:add-event epfd e epsilon.sys.epoll:+epollin+)
        ;; Double add.
        (signals-epoll-code epsilon.sys.epoll:+eexist+
          (epsilon.sys.epoll:add-event epfd e epsilon.sys.epoll:+epollin+))
        (epsilon.sys.epoll:delete-event epfd e)
        ;; Delete or modify of an unregistered descriptor.
        (signals-epoll-code epsilon.sys.epoll:+enoent+ (epsilon.sys.epoll:delete-event epfd e))
        (signals-epoll-code epsilon.sys.epoll:+enoent+
          (epsilon.sys.epoll:modify-event epfd e epsilon.sys.epoll:+epollin+))
        ;; The instance added to itself.
        (signals-epoll-code epsilon.sys.epoll:+einval+
          (epsilon.sys.epoll:add-event epfd epfd epsilon.sys.epoll:+epollin+))
        ;; A closed descriptor (closed just now: its number is not reused
        ;; before the calls below).
        (setf closed (epsilon.sys.epoll:make-eventfd))
        (epsilon.sys.epoll:epoll-close closed)
        (signals-epoll-code epsilon.sys.epoll:+ebadf+
          (epsilon.sys.epoll:add-event epfd closed epsilon.sys.epoll:+epollin+))
        ;; The documented reader and the keyword name.
        (handler-case (epsilon.sys.epoll:add-event epfd closed epsilon.sys.epoll:+epollin+)
          (epsilon.sys.epoll:epoll-error (c)
            (is (= (epsilon.sys.epoll:epoll-error-code c) epsilon.sys.epoll:+ebadf+))
            (is (eq :ebadf (epsilon.sys.epoll:epsilon-error-name c)))
            (is (eq 'epsilon.sys.epoll:add-event (epsilon.sys.epoll:epsilon-error-operation c)))
            (is (search "add-event" (princ-to-string c)))))))))

(epoll-test bounds-are-type-errors-before-any-call
  (epsilon.sys.epoll:with-epoll (epfd)
    (signals type-error (epsilon.sys.epoll:wait-for-events epfd 0 0))
    (signals type-error (epsilon.sys.epoll:wait-for-events epfd (1+ (expt 2 20)) 0))
    (signals type-error (epsilon.sys.epoll:wait-for-events epfd 1.5 0))
    (signals type-error (epsilon.sys.epoll:wait-for-events epfd 10 -2))
    (signals type-error (epsilon.sys.epoll:wait-for-events epfd 10 0.5))
    (signals type-error (epsilon.sys.epoll:wait-for-events "3" 10 0))
    (signals type-error (epsilon.sys.epoll:epoll-wait epfd 0 0))
    (signals type-error (epsilon.sys.epoll:epoll-wait epfd (make-array 4) 5 0))
    (signals type-error (epsilon.sys.epoll:epoll-wait epfd (make-array 4) 0 0))
    (signals type-error (epsilon.sys.epoll:epoll-wait
                         epfd (make-array 4 :element-type '(unsigned-byte 8)) 4 0))
    (signals type-error (epsilon.sys.epoll:make-event-buffer 0))
    (signals type-error (epsilon.sys.epoll:make-event-buffer (1+ (expt 2 20))))
    (signals type-error (epsilon.sys.epoll:add-event epfd "4" epsilon.sys.epoll:+epollin+))
    (signals type-error (epsilon.sys.epoll:add-event epfd 4.0 epsilon.sys.epoll:+epollin+))
    (signals type-error (epsilon.sys.epoll:add-event epfd nil epsilon.sys.epoll:+epollin+))
    (signals type-error (epsilon.sys.epoll:add-event epfd -1 epsilon.sys.epoll:+epollin+))
    (signals type-error (epsilon.sys.epoll:add-event epfd 0 -1))
    (signals type-error (epsilon.sys.epoll:add-event epfd 0 epsilon.sys.epoll:+epollin+ -1))
    (signals type-error (epsilon.sys.epoll:delete-event epfd :fd))
    (signals type-error (epsilon.sys.epoll:epoll-close "7"))
    (signals error (epsilon.sys.epoll:epoll-wait epfd 4 0 0))
    ;; The largest count is accepted.
    (is (null (epsilon.sys.epoll:wait-for-events epfd (expt 2 20) 0)))))

;;; EINTR and timeouts

(epoll-test timeout-zero-returns-at-once
  (epsilon.sys.epoll:with-epoll (epfd)
    (is (null (epsilon.sys.epoll:wait-for-events epfd 10 0)))
    (is (null (epsilon.sys.epoll:epoll-wait epfd 10 0)))
    (is (= 0 (epsilon.sys.epoll:epoll-wait epfd (make-array 10) 10 0)))
    (let ((buffer (epsilon.sys.epoll:make-event-buffer 4)))
      (is (= 0 (epsilon.sys.epoll:do-events ((d m) epfd buffer 0)
                 (error "no event expected ~D ~D" d m)))))))

(epoll-test positive-timeout-no-earlier-than-asked
  (epsilon.sys.epoll:with-epoll (epfd)
    (dolist (ms '(1 20 100))
      (let ((start (now-ms)))
        (is (null (epsilon.sys.epoll:wait-for-events epfd 10 ms)))
        (is (>= (- (now-ms) start) ms))))
    (let ((start (now-ms)))
      (is (= 0 (epsilon.sys.epoll:epoll-wait epfd (make-array 4) 4 50)))
      (is (>= (- (now-ms) start) 50)))
    (let ((start (now-ms)) (buffer (epsilon.sys.epoll:make-event-buffer 4)))
      (is (= 0 (epsilon.sys.epoll:do-events ((d m) epfd buffer 50) (list d m))))
      (is (>= (- (now-ms) start) 50)))))

(epoll-test eintr-is-retried-and-the-timeout-honoured
  ;; A thread blocked in WAIT-FOR-EVENTS for 400 ms is interrupted with a
  ;; no-op until it returns: no error, nothing reported, no early return.
  (epsilon.sys.epoll:with-epoll (epfd)
    (let* ((interrupts (list 0))
           (result nil)
           (thread (sb-thread:make-thread
                    (lambda ()
                      (let ((start (now-ms)))
                        (handler-case
                            (setf result (list :events
                                               (epsilon.sys.epoll:wait-for-events epfd 10 400)
                                               :elapsed (- (now-ms) start)))
                          (error (e) (setf result (list :error e))))))
                    :name "epoll-eintr")))
      ;; Interrupt until the thread ends (bounded: at most ~5 s).
      (loop repeat 500
            while (sb-thread:thread-alive-p thread)
            do (ignore-errors
                (sb-thread:interrupt-thread
                 thread (lambda () (sb-ext:atomic-incf (car interrupts)))))
               (sleep 0.01))
      (sb-thread:join-thread thread :default nil)
      (is (eq :events (first result)) "the wait failed: ~S" result)
      (is (null (getf result :events)))
      (is (>= (getf result :elapsed 0) 400))
      (is (plusp (car interrupts))))))

(epoll-test eintr-retried-by-every-wait-form
  (epsilon.sys.epoll:with-epoll (epfd)
    (let* ((results (list nil nil nil))
           (thread (sb-thread:make-thread
                    (lambda ()
                      (handler-case
                          (let ((buffer (epsilon.sys.epoll:make-event-buffer 4)))
                            (setf (first results) (epsilon.sys.epoll:epoll-wait epfd 4 150)
                                  (second results) (epsilon.sys.epoll:epoll-wait
                                                    epfd (make-array 4) 4 150)
                                  (third results) (epsilon.sys.epoll:do-events
                                                      ((d m) epfd buffer 150)
                                                    (list d m))))
                        (error (e) (setf (first results) e)))))))
      (loop repeat 500
            while (sb-thread:thread-alive-p thread)
            do (ignore-errors (sb-thread:interrupt-thread thread (lambda () nil)))
               (sleep 0.01))
      (sb-thread:join-thread thread :default nil)
      (is (equal '(nil 0 0) results)))))

(epoll-test with-timeout-unwinds-out-of-a-wait
  ;; epoll_wait holds nothing, so an interrupt may unwind out of it: the
  ;; wait ends with SB-EXT:TIMEOUT and the instance still works afterwards.
  (epsilon.sys.epoll:with-epoll (epfd)
    (let ((start (now-ms)))
      (signals sb-ext:timeout
        (sb-ext:with-timeout 0.1
          (epsilon.sys.epoll:wait-for-events epfd 10 -1)))
      (is (>= (- (now-ms) start) 90)))
    (signals sb-ext:timeout
      (sb-ext:with-timeout 0.05
        (epsilon.sys.epoll:epoll-wait epfd (make-array 4) 4 nil)))
    (epsilon.sys.epoll:with-eventfd (e :initial 1)
      (epsilon.sys.epoll:add-event epfd e epsilon.sys.epoll:+epollin+)
      (is (equal (list e) (fds-of (epsilon.sys.epoll:wait-for-events epfd 10 1000)))))))

(epoll-test concurrent-waits-share-the-pool-safely
  ;; Four threads wait on one instance at once, each into its own vector,
  ;; sizes mixed so that pooled buffers are swapped about.
  (epsilon.sys.epoll:with-epoll (epfd)
    (epsilon.sys.epoll:with-eventfd (a :initial 1)
      (epsilon.sys.epoll:with-eventfd (b :initial 1)
        (epsilon.sys.epoll:add-event epfd a epsilon.sys.epoll:+epollin+ (+ (expt 2 33) a))
        (epsilon.sys.epoll:add-event epfd b epsilon.sys.epoll:+epollin+ (+ (expt 2 34) b))
        (let* ((expected (list (+ (expt 2 33) a) (+ (expt 2 34) b)))
               (threads
                 (loop for size in '(2 100 300 5000)
                       collect (let ((size size))
                                 (sb-thread:make-thread
                                  (lambda ()
                                    (let ((v (make-array size)) (bad 0))
                                      (dotimes (i 2000 bad)
                                        (let ((n (epsilon.sys.epoll:epoll-wait epfd v size 1000)))
                                          (unless (and (= n 2)
                                                       (equal expected
                                                              (sort (list (epsilon.sys.epoll:epoll-event-data (aref v 0))
                                                                          (epsilon.sys.epoll:epoll-event-data (aref v 1)))
                                                                    #'<)))
                                            (incf bad)))))))))))
          (is (equal '(0 0 0 0) (mapcar #'sb-thread:join-thread threads))))))))

;;; The zero-consing loop

(defun consing-of-epoll-wait (epfd vector n)
  "Bytes consed by N 4-argument EPOLL-WAITs into VECTOR, and the events seen."
  (let ((events 0)
        (before (sb-ext:get-bytes-consed)))
    (declare (type fixnum events))
    (dotimes (i n)
      (incf events (the fixnum (epsilon.sys.epoll:epoll-wait epfd vector 8 0))))
    (values (- (sb-ext:get-bytes-consed) before) events)))

(defun consing-of-do-events (epfd buffer n)
  "Bytes consed by N DO-EVENTS waits, and the readable events seen."
  (let ((events 0)
        (before (sb-ext:get-bytes-consed)))
    (declare (type fixnum events))
    (dotimes (i n)
      (epsilon.sys.epoll:do-events ((fd mask) epfd buffer 0)
        (when (and (epsilon.sys.epoll:epoll-event-readable-p mask) (>= fd 0))
          (incf events))))
    (values (- (sb-ext:get-bytes-consed) before) events)))

(epoll-test zero-consing-waits
  ;; An eventfd that stays readable (level-triggered, never drained): every
  ;; wait returns one event.
  (epsilon.sys.epoll:with-eventfd (e :initial 1)
    (epsilon.sys.epoll:with-epoll (epfd)
      (epsilon.sys.epoll:add-event epfd e epsilon.sys.epoll:+epollin+)
      (let ((vector (make-array 8 :element-type 'epsilon.sys.epoll:epoll-event))
            (buffer (epsilon.sys.epoll:make-event-buffer 8)))
        ;; Warm up: the events' structures, the pool's buffer.
        (consing-of-epoll-wait epfd vector 1000)
        (consing-of-do-events epfd buffer 1000)
        ;; GET-BYTES-CONSED counts every thread, and a GC in the window
        ;; runs the finalizer thread: the least of three runs is ours.
        ;; Consing in the wait path itself would show in all three.
        (multiple-value-bind (bytes events)
            (least-consing (lambda () (consing-of-epoll-wait epfd vector 100000)))
          (is (= 100000 events))
          (is (= 0 bytes) "EPOLL-WAIT consed ~D bytes in 100,000 waits" bytes))
        (multiple-value-bind (bytes events)
            (least-consing (lambda () (consing-of-do-events epfd buffer 100000)))
          (is (= 100000 events))
          (is (= 0 bytes) "DO-EVENTS consed ~D bytes in 100,000 waits" bytes))
        (is (= e (epsilon.sys.epoll:epoll-event-data (aref vector 0))))))))

(epoll-test eventfd-and-timerfd-reads-cons-nothing
  (epsilon.sys.epoll:with-eventfd (e)
    (flet ((measure (n)
             (let ((before (sb-ext:get-bytes-consed)))
               (dotimes (i n)
                 (epsilon.sys.epoll:eventfd-signal e)
                 (epsilon.sys.epoll:eventfd-drain e))
               (- (sb-ext:get-bytes-consed) before))))
      (measure 100)
      (is (= 0 (least-consing (lambda () (values (measure 10000) 0))))))))
