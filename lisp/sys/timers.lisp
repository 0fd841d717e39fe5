;;;; SPDX-License-Identifier: MIT
;;;; timers.lisp - eventfds (wakeups) and timerfds (timers) for an event loop.
;;;;
;;;; Both are made non-blocking: an event loop reads them after epoll said
;;;; they are readable, and a read that finds nothing answers 0 rather than
;;;; putting the thread to sleep in C.  The 8-byte counter is read into a
;;;; vector on the stack, so a read conses nothing (below 2^62).

(in-package #:epsilon.sys.epoll)

;;; Eventfds

(defun eventfd-flags (initial semaphore)
  (check-type initial (unsigned-byte 32))
  (logior +efd-nonblock+ (if semaphore +efd-semaphore+ 0)))

(defun make-eventfd (&key (initial 0) semaphore)
  "Create an eventfd and return its descriptor: a 64-bit counter, readable
(+EPOLLIN+) while it is not zero.  Another thread wakes a loop that watches
it with EVENTFD-SIGNAL; the loop resets it with EVENTFD-DRAIN.  INITIAL (0
to 2^32-1) is the starting count.  With SEMAPHORE true each drain takes 1
from the counter instead of all of it.  The descriptor is non-blocking and
close-on-exec; close it with EPOLL-CLOSE, or use WITH-EVENTFD."
  (let ((flags (eventfd-flags initial semaphore)) (r 0))
    (declare (type (signed-byte 32) r))
    (sb-sys:without-interrupts (setf r (%eps-eventfd-create initial flags)))
    (check-result r 'make-eventfd 'epoll-error)))

(defmacro with-eventfd ((var &key (initial 0) semaphore) &body body)
  "Run BODY with VAR bound to a new eventfd (as MAKE-EVENTFD with INITIAL
and SEMAPHORE), closed on any exit."
  (let ((i (gensym "INITIAL")) (f (gensym "FLAGS")))
    `(let* ((,i ,initial)
            (,f (eventfd-flags ,i ,semaphore)))
       (with-new-fd (,var (%eps-eventfd-create ,i ,f) 'with-eventfd)
         ,@body))))

(defun eventfd-signal (eventfd &optional (n 1))
  "Add N (1 to 2^64-2, default 1) to the counter of EVENTFD, making it
readable: this wakes a loop waiting for it, from any thread.  Returns T, or
NIL when the counter is already at its maximum (it is readable anyway).
Signals EPOLL-ERROR with +EINVAL+ when EVENTFD is not an eventfd."
  (check-type eventfd fd)
  (check-type n (integer 1 #.(- (expt 2 64) 2)))
  (with-retry (r (the (signed-byte 32) (%eps-eventfd-write eventfd n))
               :nonblocking t :on-would-block (return nil)
               :operation 'eventfd-signal :class 'epoll-error)
    (return t)))

(defmacro read-counter ((fd operation) call)
  "Read the 8-byte counter of FD with CALL (a function of the fd and a
one-element (unsigned-byte 64) vector to store it in); 0 when there is
nothing to read.  The vector is on the stack: a read conses nothing."
  (let ((v (gensym "V")) (r (gensym "R")))
    `(let ((,v (make-array 1 :element-type '(unsigned-byte 64))))
       (declare (dynamic-extent ,v))
       (with-retry (,r (the (signed-byte 32) (,call ,fd ,v))
                     :nonblocking t :on-would-block (return 0)
                     :operation ,operation :class 'epoll-error)
         (return (aref ,v 0))))))

(defun eventfd-drain (eventfd)
  "Read and reset the counter of EVENTFD: return its value (with
:SEMAPHORE, 1, taken from it), or 0 when it was already zero.  Signals
EPOLL-ERROR with +EINVAL+ when EVENTFD is not an eventfd."
  (check-type eventfd fd)
  (read-counter (eventfd 'eventfd-drain) %eps-eventfd-read))

;;; Timerfds

(defun timerfd-clock (clock)
  (ecase clock
    (:monotonic +clock-monotonic+)
    (:realtime +clock-realtime+)
    (:boottime +clock-boottime+)))

(defun make-timerfd (&key (clock :monotonic))
  "Create a timerfd and return its descriptor: a timer, readable
(+EPOLLIN+) once it has expired since it was last read.  CLOCK is
:MONOTONIC (the default, unaffected by changes of the date), :REALTIME or
:BOOTTIME (counts suspended time too).  It starts disarmed: arm it with
TIMERFD-ARM.  The descriptor is non-blocking and close-on-exec; close it
with EPOLL-CLOSE, or use WITH-TIMERFD."
  (let ((clock-id (timerfd-clock clock)) (r 0))
    (declare (type (signed-byte 32) r))
    (sb-sys:without-interrupts (setf r (%eps-timerfd-create clock-id +tfd-nonblock+)))
    (check-result r 'make-timerfd 'epoll-error)))

(defmacro with-timerfd ((var &key (clock :monotonic)) &body body)
  "Run BODY with VAR bound to a new timerfd (as MAKE-TIMERFD with CLOCK),
closed on any exit."
  (let ((c (gensym "CLOCK")))
    `(let ((,c (timerfd-clock ,clock)))
       (with-new-fd (,var (%eps-timerfd-create ,c +tfd-nonblock+) 'with-timerfd)
         ,@body))))

(deftype timer-seconds ()
  "A timer delay in seconds: a non-negative real below 2^63 nanoseconds."
  '(real 0 9223372036))

(defun seconds-ns (seconds)
  "SECONDS (a real) in whole nanoseconds, rounded up: a positive delay never
becomes 0, which would disarm the timer."
  (ceiling (* (rational seconds) 1000000000)))

(defun timerfd-arm (timerfd seconds &optional (interval 0))
  "Arm TIMERFD to expire SECONDS from now and then, if INTERVAL is not 0,
every INTERVAL seconds.  Both are non-negative reals of seconds, rounded up
to whole nanoseconds (0.25, 1/1000, 2; a ratio such as 1/1000000000 is
exact).  SECONDS 0 disarms the timer.  Arming replaces any earlier setting
and discards expirations not yet read.  Returns T."
  (check-type timerfd fd)
  (check-type seconds timer-seconds)
  (check-type interval timer-seconds)
  (check-result (%eps-timerfd-arm timerfd (seconds-ns seconds) (seconds-ns interval))
                'timerfd-arm 'epoll-error)
  t)

(defun timerfd-read (timerfd)
  "Return how many times TIMERFD has expired since it was armed or last
read, and reset that count; 0 when it has not expired (the read never
waits: wait for +EPOLLIN+ on it with epoll).  Signals EPOLL-ERROR with
+EINVAL+ when TIMERFD is not a timerfd."
  (check-type timerfd fd)
  (read-counter (timerfd 'timerfd-read) %eps-timerfd-read))
