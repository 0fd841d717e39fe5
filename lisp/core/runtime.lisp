;;;; SPDX-License-Identifier: MIT
;;;; runtime.lisp - C results to conditions, and the blocking model.
;;;;
;;;; TLS, handles and locks never sleep inside C (DESIGN section 4): their
;;;; calls are non-blocking, and when one would block and the caller wants
;;;; blocking behaviour it waits here, in poll(2), where interrupt-thread and
;;;; with-timeout land safely.  Plain socket calls may sleep in the kernel
;;;; instead (epsilon.net.core decides).  EINTR is retried with the time that
;;;; is left.  WITH-RETRY is the one retry loop every package uses.

(in-package #:epsilon.linux.runtime)

(defun last-error-detail (result)
  "The calling thread's detail text for the library's failure that returned
RESULT (a negative code), or NIL when that failure set none."
  (let* ((buf (make-array 1024 :element-type '(unsigned-byte 8)))
         (n (%eps-last-error-detail result buf (length buf))))
    (when (plusp n)
      (sb-ext:octets-to-string buf :external-format '(:utf-8 :replacement #\?)
                                   :end (min n (1- (length buf)))))))

(defun signal-epsilon-error (result operation &optional (class 'epsilon-error))
  "Signal the condition for RESULT, a negative return value of the C library,
raised by OPERATION (a symbol) in the subsystem whose root condition class is
CLASS.  Never returns."
  (let ((code (abs result)))
    (error (class-for-code code class)
           :code code :operation operation :detail (last-error-detail result))))

(defmacro check-result (form operation &optional (class ''epsilon-error))
  "Evaluate FORM, a call into the C library; return its value when it is not
negative, else signal the matching condition for OPERATION.  The failure
branch is a call out of line, so the success path is a compare and a jump."
  (let ((r (gensym "R")))
    `(let ((,r ,form))
       (if (minusp ,r)
           (signal-epsilon-error ,r ,operation ,class)
           ,r))))

(deftype timeout () '(or null (real 0)))

(declaim (inline monotonic-us))
(defun monotonic-us ()
  "Microseconds on CLOCK_MONOTONIC, the clock poll(2) and epoll_wait(2)
count their timeouts on.  (GET-INTERNAL-REAL-TIME ticks in 4 ms steps here:
too coarse to keep the promise that a wait never ends early.)"
  (multiple-value-bind (sec nsec) (sb-unix::clock-gettime +clock-monotonic+)
    (+ (* sec 1000000) (floor nsec 1000))))

(defun deadline (timeout)
  "The time (MONOTONIC-US) at which TIMEOUT seconds from now have passed, or
NIL when TIMEOUT is NIL (no limit).  TIMEOUT is a non-negative real."
  (check-type timeout timeout)
  (when timeout
    (+ (monotonic-us) (ceiling (* timeout 1000000)))))

(defconstant +max-poll-ms+ (1- (expt 2 31)))

(defun remaining-ms (deadline)
  "Milliseconds left until DEADLINE, rounded up (so a wait never ends
early), at least 0; -1 (no limit) when DEADLINE is NIL."
  (if deadline
      (min +max-poll-ms+ (max 0 (ceiling (- deadline (monotonic-us)) 1000)))
      -1))

(defun wait-ready (fd events deadline operation &optional (class 'socket-error))
  "Wait in poll(2) until FD is ready for EVENTS (+POLLIN+ or +POLLOUT+).
Returns the ready events (an error or hang-up on FD counts as ready, so
that the retried operation reports it), or NIL once DEADLINE (from
DEADLINE; NIL waits for ever) has passed.  A failing poll signals CLASS's
condition for OPERATION; EINTR is retried with the time that is left."
  (loop
    (let* ((ms (remaining-ms deadline))
           (r (%eps-fd-poll fd events ms)))
      (cond ((plusp r) (return r))
            ((zerop r)
             (when (and deadline (<= (remaining-ms deadline) 0))
               (return nil)))
            ((= r (- +eintr+)))
            (t (signal-epsilon-error r operation class))))))

(defun signal-timeout (operation &optional (class 'socket-error))
  "Signal the timeout condition of CLASS's family (+ETIMEDOUT+) for OPERATION."
  (error (class-for-code +etimedout+ class) :code +etimedout+ :operation operation))

(defun wait-until-ready (fd events deadline operation
                         &optional (class 'socket-error))
  "Wait in poll(2) until FD is ready for EVENTS (+POLLIN+ or +POLLOUT+), or
until DEADLINE (from DEADLINE; NIL waits for ever) passes, then signal a
timeout condition of CLASS's family (+ETIMEDOUT+) for OPERATION.  Returns the
ready events; an error or hang-up on FD counts as ready, so that the retried
operation reports it.  EINTR is retried with the time that is left."
  (or (wait-ready fd events deadline operation class)
      (signal-timeout operation class)))

;;; The retry loop.  Every call that can would-block is written as
;;;
;;;   (with-retry (r (call ...) :fd fd :events +pollin+ ...)
;;;     ...what to do with a result that is done, usually (return r)...)
;;;
;;; and the failure half (wait, give up, retry, signal) is RETRY-FAILED-CALL,
;;; which loops of their own (the TLS stream's) use directly.

(defmacro retry-failed-call ((result &key fd (events '+pollin+) (would-block nil would-block-p)
                                          deadline operation (class ''epsilon-error)
                                          nonblocking on-would-block on-timeout
                                          (retry nil retry-p) fail))
  "The failure half of WITH-RETRY for RESULT, a result that is not done.
WOULD-BLOCK is a form giving the poll events RESULT asks to wait for, or
NIL when it is no would-block (default: EVENTS when RESULT is -EAGAIN).
On a would-block: NONBLOCKING true evaluates ON-WOULD-BLOCK (usually a
RETURN); otherwise wait for FD's readiness until DEADLINE, and when it
passes evaluate ON-TIMEOUT (default: signal the timeout of CLASS's family
for OPERATION).  Else, when RETRY (default: RESULT is -EINTR) is true,
nothing: the loop calls again.  Else FAIL (default: signal RESULT's
condition of CLASS for OPERATION)."
  (let ((ev (gensym "EVENTS")))
    `(let ((,ev ,(if would-block-p would-block `(and (= ,result (- +eagain+)) ,events))))
       (cond (,ev
              (if ,nonblocking
                  ,on-would-block
                  (unless (wait-ready ,fd ,ev ,deadline ,operation ,class)
                    ,(or on-timeout `(signal-timeout ,operation ,class)))))
             (,(if retry-p retry `(= ,result (- +eintr+))))
             (t ,(or fail `(signal-epsilon-error ,result ,operation ,class)))))))

(defmacro with-retry ((result call &rest keys &key (done nil done-p) &allow-other-keys)
                      &body on-done)
  "The retry loop of a call into C that can would-block.  Repeat: bind
RESULT to the value of CALL; when DONE (default: RESULT is not negative)
run ON-DONE, which leaves the loop with RETURN (falling through calls
again, as a send that went out in part does); otherwise RETRY-FAILED-CALL
with KEYS (:FD :EVENTS :WOULD-BLOCK :DEADLINE :OPERATION :CLASS
:NONBLOCKING :ON-WOULD-BLOCK :ON-TIMEOUT :RETRY :FAIL, see there).  The
loop is a LOOP: RETURN in ON-DONE or ON-WOULD-BLOCK returns from it."
  (let ((keys (loop for (k v) on keys by #'cddr unless (eq k :done) append (list k v))))
    `(loop
       (let ((,result ,call))
         (if ,(if done-p done `(>= ,result 0))
             (progn ,@on-done)
             (retry-failed-call (,result ,@keys)))))))

(defmacro define-public-package (name &body options)
  "Define the public package NAME like DEFPACKAGE with OPTIONS, using
EPSILON.LINUX.ERRORS and exporting every one of its external symbols (the
conditions, their readers and the +E...+ code constants) in addition to
OPTIONS's own :EXPORTs.  All public packages thus share the same error
symbols, and a program can :USE them together without conflicts."
  (let ((shared '()))
    (do-external-symbols (s :epsilon.linux.errors)
      (push (make-symbol (symbol-name s)) shared))
    (setf shared (sort shared #'string< :key #'symbol-name))
    `(defpackage ,name
       (:use #:cl #:epsilon.linux.errors)
       ,@options
       ;; The error model, shared by every public package.
       (:export ,@shared))))
