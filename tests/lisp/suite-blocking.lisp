;;;; SPDX-License-Identifier: MIT
;;;; suite-blocking.lisp - a blocking plain-socket call without :TIMEOUT
;;;; sleeps in the kernel's call, as C does (DESIGN section 4, revised), and
;;;; WITH-TIMEOUT, INTERRUPT-THREAD and the GC still land there (issue 18).

(in-package #:epsilon.linux.tests)

(def-suite blocking :in epsilon-linux
  :description "Blocking calls sleep in the kernel; interrupts, timeouts and GC land there.")

(defpackage #:epsilon.linux.tests.blocking
  (:use #:cl #:fiveam #:epsilon.net.core))

(in-package #:epsilon.linux.tests.blocking)

(defmacro blocking-test (name &body body)
  "A test that also checks no descriptor is left open after BODY."
  `(test (,name :suite epsilon.linux.tests::blocking)
     (let ((fds (epsilon.linux:open-fd-count)))
       (unwind-protect (progn ,@body)
         (is (= fds (epsilon.linux:open-fd-count)) "fd leak in ~A" ',name)))))

(defun now ()
  "Seconds on the monotonic clock."
  (/ (epsilon.linux.runtime:monotonic-us) 1d6))

;;; Where a thread sleeps: /proc/self/task/TID/syscall names the system
;;; call a blocked thread is in.

(defparameter *syscalls*
  (cond ((string= (machine-type) "X86-64")
         '((45 . :recv) (44 . :send) (42 . :connect) (43 . :accept) (288 . :accept)
           (7 . :poll) (271 . :poll)))
        (t                              ; aarch64 (the generic table)
         '((207 . :recv) (206 . :send) (203 . :connect) (202 . :accept) (242 . :accept)
           (73 . :poll))))
  "System call numbers of this machine, by what they do.")

(defun syscall-of (thread)
  "The system call THREAD is in (:RECV, :POLL, ... or the number), or
:RUNNING."
  (let ((tid (sb-thread:thread-os-tid thread)))
    ;; 0 until the new thread has started.
    (if (or (null tid) (zerop tid))
        :running
        (with-open-file (s (format nil "/proc/self/task/~D/syscall" tid))
          (syscall-line (read-line s nil ""))))))

(defun syscall-line (line)
  "What a line of /proc/.../syscall says: :RUNNING, or the call."
  (if (string= line "running" :end1 (min 7 (length line)))
      :running
      (let ((n (parse-integer line :junk-allowed t)))
        (or (cdr (assoc n *syscalls*)) n))))

(defun blocked-in (thread &key (seconds 5))
  "Wait until THREAD sleeps in the same system call at two looks 50 ms
apart, and return it (:RECV, :POLL, ...); :RUNNING if it never does."
  (let ((end (+ (now) seconds)) (last nil))
    (loop
      (let ((s (syscall-of thread)))
        (when (and (eq s last) (not (eq s :running)))
          (return s))
        (setf last s))
      (when (> (now) end) (return :running))
      (sleep 0.05))))

;;; The blocking situations: each makes a thread function that blocks with
;;; no :TIMEOUT, the system call it should sleep in, and a check that the
;;; descriptors are still usable after the interrupt.

(defun pattern (n)
  (let ((v (make-array n :element-type '(unsigned-byte 8))))
    (dotimes (i n v) (setf (aref v i) (mod i 251)))))

(defun full-listener-address (listener)
  "Fill the accept queue of LISTENER (backlog 0, never accepting) so that
the next connect to it waits; returns the address and the descriptors used."
  (let ((address (make-inet-address "127.0.0.1" (address-port (socket-local-address listener))))
        (fds '()))
    (loop repeat 16
          do (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
               (push fd fds)
               (when (handler-case (progn (socket-connect fd address :timeout 0.3) nil)
                       (socket-timeout () t))
                 (return))))
    (values address fds)))

(defun call-with-situation (kind function)
  "Call FUNCTION with a thunk that blocks in KIND (:RECV :SEND :ACCEPT
:CONNECT), the system call it should sleep in, and a thunk that checks
afterwards that the descriptors still work."
  (ecase kind
    (:recv
     (multiple-value-bind (a b) (socket-pair)
       (unwind-protect
            (let ((buffer (make-array 100 :element-type '(unsigned-byte 8))))
              (funcall function
                       (lambda () (socket-recv-into b buffer))
                       :recv
                       (lambda ()
                         (socket-send a "after")
                         (is (equalp (sb-ext:string-to-octets "after")
                                     (socket-recv b 5 +msg-waitall+ :timeout 5))))))
         (socket-close a)
         (socket-close b))))
    (:send
     (multiple-value-bind (a b) (socket-pair)
       (unwind-protect
            (let ((data (make-array (* 32 1024 1024) :element-type '(unsigned-byte 8))))
              (funcall function
                       (lambda () (socket-send-all a data))
                       :send
                       (lambda ()
                         ;; Drain what went out, then the pair works both ways.
                         (loop while (socket-recv b 65536 +msg-dontwait+))
                         (is (= 5 (socket-send a "after" :timeout 5)))
                         (is (equalp (sb-ext:string-to-octets "after")
                                     (socket-recv b 5 +msg-waitall+ :timeout 5))))))
         (socket-close a)
         (socket-close b))))
    (:accept
     (with-server-socket (listener :host "127.0.0.1")
       (funcall function
                (lambda () (socket-close (socket-accept listener)))
                :accept
                (lambda ()
                  (with-client-socket (c :host "127.0.0.1"
                                         :port (address-port (socket-local-address listener))
                                         :timeout 5)
                    (let ((fd (socket-accept listener :timeout 5)))
                      (is (integerp fd))
                      (socket-close fd)))))))
    (:connect
     (with-server-socket (listener :host "127.0.0.1" :backlog 0)
       (multiple-value-bind (address fds) (full-listener-address listener)
         (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
           (unwind-protect
                (funcall function
                         (lambda () (socket-connect fd address))
                         :connect
                         (lambda ()
                           ;; The interrupted socket closes cleanly, and a new
                           ;; one still times out against the full queue.
                           (is (eq t (socket-close fd)))
                           (setf fd nil)
                           (let ((fd2 (socket-create +af-inet+ +sock-stream+ 0)))
                             (unwind-protect
                                  (signals socket-timeout
                                    (socket-connect fd2 address :timeout 0.2))
                               (socket-close fd2)))))
             (when fd (socket-close fd))
             (mapc #'socket-close fds))))))))

(defmacro with-situation ((kind blocker syscall check) &body body)
  `(call-with-situation ,kind (lambda (,blocker ,syscall ,check)
                                (declare (ignorable ,blocker ,syscall ,check))
                                ,@body)))

(defun run-blocker (blocker &optional (wrap #'funcall))
  "A thread that calls BLOCKER through WRAP; it returns :RETURNED, or what
a THROW to STOP carried."
  (sb-thread:make-thread
   (lambda ()
     (handler-case
         (catch 'stop
           (funcall wrap blocker)
           :returned)
       (error (e) e)))
   :name "blocked"))

(defun join (thread &optional (timeout 10))
  (sb-thread:join-thread thread :default :timeout :timeout timeout))

;;; Sleeping in the kernel

(defmacro sleeps-in-test (name kind)
  `(blocking-test ,name
     (with-situation (,kind blocker syscall check)
       (let ((thread (run-blocker blocker)))
         (is (eq syscall (blocked-in thread)))
         (sb-thread:interrupt-thread thread (lambda () (throw 'stop :stopped)))
         (is (eq :stopped (join thread)))
         (funcall check)))))

(sleeps-in-test untimed-recv-sleeps-in-the-kernel :recv)
(sleeps-in-test untimed-send-sleeps-in-the-kernel :send)
(sleeps-in-test untimed-connect-sleeps-in-the-kernel :connect)
(sleeps-in-test untimed-accept-sleeps-in-the-kernel :accept)

(blocking-test timed-recv-sleeps-in-the-kernel
  ;; With :TIMEOUT too: under a kernel timeout of at most the time left.
  (multiple-value-bind (a b) (socket-pair)
    (unwind-protect
         (let ((thread (run-blocker (lambda () (socket-recv b 10 :timeout 30)))))
           (is (eq :recv (blocked-in thread)))
           (socket-send a "x")
           (is (eq :returned (join thread))))
      (socket-close a)
      (socket-close b))))

;;; :TIMEOUT holds with the kernel timeouts: whatever a call before left
;;; set, a call ends at its own timeout, and one without waits for ever.

(defun timed-out-after (thunk)
  "Seconds until THUNK signalled SOCKET-TIMEOUT, run in a thread (NIL when
it returned, or did not end within 10 s)."
  (let* ((t0 (now))
         (thread (sb-thread:make-thread
                  (lambda () (handler-case (progn (funcall thunk) nil)
                               (socket-timeout () (- (now) t0))))))
         (r (join thread)))
    (and (realp r) r)))

(defmacro is-timed-out-after ((seconds) form)
  (let ((s (gensym)))
    `(let ((,s (timed-out-after (lambda () ,form))))
       (is (and ,s (<= ,seconds ,s (+ ,seconds 0.5)))
           "~S: timed out after ~A s, not ~A" ',form ,s ,seconds))))

(blocking-test a-shorter-timeout-after-a-longer-one-holds
  (multiple-value-bind (a b) (socket-pair)
    (unwind-protect
         (progn
           (socket-send a "x")
           (is (= 1 (length (socket-recv b 10 :timeout 30))))
           (is-timed-out-after (0.3) (socket-recv b 10 :timeout 0.3))
           (is-timed-out-after (0.2) (socket-recv b 10 :timeout 0.2))
           (socket-send a "y")
           (is (= 1 (length (socket-recv b 10 :timeout 30)))))
      (socket-close a)
      (socket-close b))))

(blocking-test an-untimed-recv-after-a-timed-one-waits-for-ever
  (multiple-value-bind (a b) (socket-pair)
    (unwind-protect
         (progn
           (is-timed-out-after (0.1) (socket-recv b 10 :timeout 0.1))
           (let ((thread (run-blocker (lambda () (throw 'stop (socket-recv b 10))))))
             (sleep 0.5)
             (is (sb-thread:thread-alive-p thread))
             (socket-send a "late")
             (is (equalp (sb-ext:string-to-octets "late") (join thread)))))
      (socket-close a)
      (socket-close b))))

(blocking-test a-timed-recv-after-set-socket-option-holds
  ;; The user's SO_RCVTIMEO (5 s) replaces the one a call set (0.2 s): the
  ;; next call must not take the kernel's for its own.
  (multiple-value-bind (a b) (socket-pair)
    (unwind-protect
         (progn
           (is-timed-out-after (0.2) (socket-recv b 10 :timeout 0.2))
           (set-socket-option b +sol-socket+ +so-rcvtimeo+ 5)
           (is-timed-out-after (0.6) (socket-recv b 10 :timeout 0.6)))
      (socket-close a)
      (socket-close b))))

(blocking-test a-timed-recv-on-a-reused-descriptor-number-holds
  ;; A call on the old socket set a kernel timeout; the new socket with the
  ;; same number has none, and its timed call must not assume one.
  (let (old)
    (multiple-value-bind (a b) (socket-pair)
      (unwind-protect
           (is-timed-out-after (0.2) (socket-recv b 10 :timeout 0.2))
        (setf old b)
        (socket-close a)
        (socket-close b)))
    (multiple-value-bind (a b) (socket-pair)
      (unwind-protect
           (progn
             (is (member old (list a b)))
             (is-timed-out-after (0.6) (socket-recv a 10 :timeout 0.6))
             (is-timed-out-after (0.6) (socket-recv b 10 :timeout 0.6)))
        (socket-close a)
        (socket-close b)))))

(blocking-test a-timed-send-ends-at-its-timeout
  (multiple-value-bind (a b) (socket-pair)
    (unwind-protect
         (let ((data (make-array (* 32 1024 1024) :element-type '(unsigned-byte 8))))
           (is-timed-out-after (0.3) (socket-send-all a data :timeout 0.3))
           (is-timed-out-after (0.2) (socket-send-all a data :timeout 0.2)))
      (socket-close a)
      (socket-close b))))

;;; Accept: sleeping in accept4, and no descriptor lost to an interrupt

(defun listener-port (listener)
  (address-port (socket-local-address listener)))

(blocking-test timed-accept-sleeps-in-the-kernel
  (with-server-socket (listener :host "127.0.0.1")
    (let ((thread (run-blocker (lambda () (throw 'stop (socket-accept listener :timeout 30))))))
      (is (eq :accept (blocked-in thread)))
      (with-client-socket (c :host "127.0.0.1" :port (listener-port listener) :timeout 5)
        (let ((fd (join thread)))
          (is (integerp fd))
          (when (integerp fd) (socket-close fd)))))))

(blocking-test accept-timeout-holds
  ;; Whatever the kernel timeout a call before left on the listener, a
  ;; call ends at its own :TIMEOUT, never before, and one without waits.
  (with-server-socket (listener :host "127.0.0.1")
    (is-timed-out-after (0.3) (socket-accept listener :timeout 0.3))
    (is-timed-out-after (0.05) (socket-accept listener :timeout 0.05))
    (is-timed-out-after (0.4) (socket-accept listener :timeout 0.4))
    (is-timed-out-after (0) (socket-accept listener :timeout 0))
    (let ((thread (run-blocker (lambda () (throw 'stop (socket-accept listener))))))
      (sleep 0.5)
      (is (sb-thread:thread-alive-p thread))
      (with-client-socket (c :host "127.0.0.1" :port (listener-port listener) :timeout 5)
        (let ((fd (join thread)))
          (is (integerp fd))
          (when (integerp fd) (socket-close fd)))))
    ;; A pending connection is taken even with :TIMEOUT 0.
    (with-client-socket (c :host "127.0.0.1" :port (listener-port listener) :timeout 5)
      (socket-wait listener :input :timeout 5)
      (let ((fd (socket-accept listener :timeout 0)))
        (is (integerp fd))
        (socket-close fd)))))

(blocking-test accept-in-without-interrupts-still-accepts
  ;; A caller that deferred interrupts itself: the call sleeps and accepts.
  (with-server-socket (listener :host "127.0.0.1")
    (let ((thread (run-blocker (lambda ()
                                 (throw 'stop (sb-sys:without-interrupts
                                                (socket-accept listener :timeout 10)))))))
      (is (eq :accept (blocked-in thread)))
      (with-client-socket (c :host "127.0.0.1" :port (listener-port listener) :timeout 5)
        (let ((fd (join thread)))
          (is (integerp fd))
          (when (integerp fd) (socket-close fd)))))))

(defvar *skip* nil "True where the storm's acceptor may be thrown out of.")

(defun accept-storm (listener count)
  "Accept on LISTENER in a thread while COUNT clients connect, each followed
within 0.3 ms (while the kernel accepts it) by an interrupt of the thread:
mostly one that unwinds, else one that returns.  The next interrupt waits
until the last one ran (up to 1 s): queued interrupts that unwind nest
SBCL's handlers past its limit of 8, with any accept.  Returns the list
of descriptors the thread got and the count of interrupts that never ran."
  (let* ((port (listener-port listener))
         (address (make-inet-address "127.0.0.1" port))
         (got '())
         (stop nil)
         (landed (list 0))
         (acceptor (sb-thread:make-thread
                    (lambda ()
                      (loop until stop
                            do (catch 'skip
                                 (let ((*skip* t))
                                   ;; The caller's own window closed: an
                                   ;; unwinding interrupt between the return
                                   ;; and the PUSH would drop a descriptor
                                   ;; the library had handed over.
                                   (sb-sys:without-interrupts
                                     (let ((fd (sb-sys:with-local-interrupts
                                                 (socket-accept listener))))
                                       (when fd (push fd got))))))))
                    :name "acceptor"))
         (lost 0))
    (flet ((interrupt (unwind)
             (let ((target (1+ (car landed)))
                   (end (+ (now) 1)))
               (sb-thread:interrupt-thread acceptor
                                           (lambda ()
                                             (sb-ext:atomic-incf (car landed))
                                             (when (and unwind *skip*) (throw 'skip nil))))
               (loop until (or (>= (car landed) target) (> (now) end))
                     do (sleep 0.0001))
               (when (< (car landed) target)
                 (incf lost)
                 (setf (car landed) target)))))
      (unwind-protect
           (loop repeat count
                 do (let ((c (socket-create +af-inet+ (logior +sock-stream+ +sock-nonblock+) 0)))
                      (ignore-errors (socket-connect c address))
                      (sleep (random 0.0003))
                      (interrupt (plusp (random 4)))
                      (socket-close c)
                      (sleep 0.0005)))
        (setf stop t)
        ;; Wake it from its last accept with one more connection.
        (with-client-socket (c :host "127.0.0.1" :port port :timeout 5)
          (join acceptor))))
    (values got lost)))

(blocking-test no-descriptor-lost-in-an-interrupt-storm-around-accepts
  ;; Every connection the kernel accepted is either in the acceptor's hands
  ;; or closed: the library's count of open descriptors says so.
  (with-server-socket (listener :host "127.0.0.1" :backlog 128)
   (let ((before (epsilon.linux:open-fd-count)))
    (multiple-value-bind (got lost) (accept-storm listener 1500)
      (is (< 100 (length got)) "only ~D accepted" (length got))
      (is (zerop lost) "~D interrupts did not land within 1 s" lost)
      (is (= (+ before (length got)) (epsilon.linux:open-fd-count))
          "~D descriptors open after ~D accepted" (- (epsilon.linux:open-fd-count) before)
          (length got))
      (mapc #'socket-close got)
      ;; The listener still works, with :TIMEOUT and without.
      (loop for fd = (handler-case (socket-accept listener :timeout 0.05)
                       (socket-timeout () nil))
            while fd do (socket-close fd))
      (with-client-socket (c :host "127.0.0.1" :port (listener-port listener) :timeout 5)
        (let ((fd (socket-accept listener)))
          (is (integerp fd))
          (socket-close fd)))
      (is (= before (epsilon.linux:open-fd-count)))))))

;;; Interrupts land within 100 ms

(defconstant +landing+ 0.1 "Seconds an interrupt may take to land.")

(defmacro interrupt-lands-test (name kind)
  `(blocking-test ,name
     (with-situation (,kind blocker syscall check)
       (let ((thread (run-blocker blocker)))
         (blocked-in thread)
         (let ((t0 (now)))
           (sb-thread:interrupt-thread thread (lambda () (throw 'stop (now))))
           (let ((landed (join thread)))
             (is (realp landed))
             (when (realp landed)
               (is (< (- landed t0) +landing+) "interrupt-thread took ~,3F s" (- landed t0)))))
         (funcall check)))))

(interrupt-lands-test interrupt-thread-lands-in-blocked-recv :recv)
(interrupt-lands-test interrupt-thread-lands-in-blocked-send :send)
(interrupt-lands-test interrupt-thread-lands-in-blocked-accept :accept)
(interrupt-lands-test interrupt-thread-lands-in-blocked-connect :connect)

(defmacro with-timeout-lands-test (name kind)
  `(blocking-test ,name
     (with-situation (,kind blocker syscall check)
       (let* ((t0 (now))
              (thread (run-blocker blocker
                                   (lambda (f)
                                     (handler-case (sb-ext:with-timeout 0.5 (funcall f))
                                       (sb-ext:timeout () (throw 'stop (now)))))))
              (landed (join thread)))
         (is (realp landed))
         (when (realp landed)
           (is (< 0.5 (- landed t0) (+ 0.5 +landing+))
               "with-timeout 0.5 ended after ~,3F s" (- landed t0))))
       (funcall check))))

(with-timeout-lands-test with-timeout-lands-in-blocked-recv :recv)
(with-timeout-lands-test with-timeout-lands-in-blocked-send :send)
(with-timeout-lands-test with-timeout-lands-in-blocked-accept :accept)
(with-timeout-lands-test with-timeout-lands-in-blocked-connect :connect)

;;; Signals that do not unwind: the call goes on (EINTR retried)

(blocking-test recv-goes-on-after-interrupts-that-return
  (multiple-value-bind (a b) (socket-pair)
    (unwind-protect
         (let* ((buffer (make-array 2000 :element-type '(unsigned-byte 8)))
                (thread (run-blocker (lambda ()
                                       (throw 'stop (socket-recv-into b buffer
                                                                      :flags +msg-waitall+))))))
           (blocked-in thread)
           (socket-send a (subseq (pattern 2000) 0 1000))
           (sleep 0.1)
           (dotimes (i 3)
             (sb-thread:interrupt-thread thread (lambda () nil))
             (sleep 0.05))
           (sb-ext:gc)
           (socket-send a (subseq (pattern 2000) 1000))
           (is (eql 2000 (join thread)))
           (is (equalp (pattern 2000) buffer)))
      (socket-close a)
      (socket-close b))))

(blocking-test a-kernel-receive-timeout-does-not-end-an-untimed-recv
  ;; SO_RCVTIMEO set by the user makes the kernel's recv give up; a caller
  ;; without :TIMEOUT still waits until the data comes.
  (multiple-value-bind (a b) (socket-pair)
    (unwind-protect
         (progn
           (set-socket-option b +sol-socket+ +so-rcvtimeo+ 0.1)
           (let ((thread (run-blocker (lambda () (throw 'stop (socket-recv b 10))))))
             (sleep 0.4)
             (is (sb-thread:thread-alive-p thread))
             (socket-send a "late")
             (is (equalp (sb-ext:string-to-octets "late") (join thread)))))
      (socket-close a)
      (socket-close b))))

;;; The GC while threads are blocked

(blocking-test full-gc-completes-while-threads-are-blocked
  (with-situation (:recv recv-blocker recv-syscall recv-check)
    (with-situation (:send send-blocker send-syscall send-check)
      (with-situation (:accept accept-blocker accept-syscall accept-check)
        (with-situation (:connect connect-blocker connect-syscall connect-check)
          (let ((threads (mapcar #'run-blocker
                                 (list recv-blocker send-blocker accept-blocker
                                       connect-blocker))))
            (is (equal (list recv-syscall send-syscall accept-syscall connect-syscall)
                       (mapcar #'blocked-in threads)))
            (let* ((t0 (now))
                   (gc (sb-thread:make-thread (lambda () (sb-ext:gc :full t) :done))))
              (is (eq :done (join gc 30)))
              (is (< (- (now) t0) 30)))
            ;; Still blocked where they were, and still interruptible.
            (is (equal (list recv-syscall send-syscall accept-syscall connect-syscall)
                       (mapcar #'blocked-in threads)))
            (dolist (thread threads)
              (sb-thread:interrupt-thread thread (lambda () (throw 'stop :stopped))))
            (is (equal '(:stopped :stopped :stopped :stopped) (mapcar #'join threads)))
            (funcall connect-check)))
        (funcall accept-check))
      (funcall send-check))
    (funcall recv-check)))
