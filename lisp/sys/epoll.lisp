;;;; SPDX-License-Identifier: MIT
;;;; epoll.lisp - epoll instances, registrations and waits.
;;;;
;;;; Blocking.  A wait blocks in epoll_wait(2) itself, in C.  That is the one
;;;; place where waiting in C is right: epoll_wait holds no lock, no handle
;;;; and no library state, so an interrupt (INTERRUPT-THREAD, WITH-TIMEOUT,
;;;; a GC stopping the world) may run its Lisp code there, and may even
;;;; unwind out of it, without harm.  When the interrupt returns instead,
;;;; epoll_wait returns EINTR (it is never restarted by the kernel) and we
;;;; wait again with the time that is left, measured on CLOCK_MONOTONIC and
;;;; rounded so that a wait never ends earlier than asked.  No epoll call
;;;; takes a lock or a handle, so none needs WITHOUT-INTERRUPTS; the calls
;;;; that create or close a descriptor run inside it, so that an interrupt
;;;; cannot separate the descriptor from the code that owns it.
;;;;
;;;; Consing.  The C side fills two parallel unboxed arrays (event bits and
;;;; data words).  Those arrays come from an EVENT-BUFFER: the caller's own
;;;; for DO-EVENTS, or one taken from a small lock-free pool for EPOLL-WAIT
;;;; and WAIT-FOR-EVENTS and put back afterwards.  The 4-argument EPOLL-WAIT
;;;; then updates the caller's EPOLL-EVENT structures in place, whose slots
;;;; are unboxed: in steady state a wait conses nothing (up to 65,536 events
;;;; per wait; bigger buffers are not kept in the pool).

(in-package #:epsilon.sys.epoll)

;;; Event buffers

(defstruct (event-buffer (:constructor %make-event-buffer
                             (size &aux
                                   (events (make-array size :element-type '(unsigned-byte 32)))
                                   (data (make-array size :element-type '(unsigned-byte 64)))))
                         (:copier nil)
                         (:predicate event-buffer-p))
  "Room for SIZE events of one wait, as two preallocated unboxed vectors
(event bits and data words) handed straight to epoll_wait: DO-EVENTS waits
into one and conses nothing.  One buffer serves one wait at a time."
  (size 1 :type max-events :read-only t)
  (events nil :type (simple-array (unsigned-byte 32) (*)) :read-only t)
  (data nil :type (simple-array (unsigned-byte 64) (*)) :read-only t))

(setf (documentation 'event-buffer-size 'function)
      "How many events one wait into BUFFER, an EVENT-BUFFER, can return."
      (documentation 'event-buffer-p 'function)
      "True when the argument is an EVENT-BUFFER.")

(defun make-event-buffer (&optional (size 256))
  "Make an EVENT-BUFFER with room for SIZE events (1 to 2^20) per wait, for
DO-EVENTS.  Make it once and reuse it for every wait of a loop."
  (check-type size max-events)
  (%make-event-buffer size))

;;; The pool behind EPOLL-WAIT and WAIT-FOR-EVENTS: a few buffers in a
;;; vector, taken and given back with compare-and-swap (no lock, no consing).

(sb-ext:defglobal **buffer-pool** (make-array 16 :initial-element nil))
(declaim (type simple-vector **buffer-pool**))

(defun take-buffer (n)
  "A pooled buffer with room for N events, or a new one."
  (declare (type max-events n) (optimize speed))
  (let ((pool **buffer-pool**))
    (dotimes (i (length pool) (%make-event-buffer (max n 64)))
      (let ((b (svref pool i)))
        (when (and b
                   (>= (event-buffer-size (the event-buffer b)) n)
                   (eq b (sb-ext:compare-and-swap (svref pool i) b nil)))
          (return b))))))

(defconstant +largest-pooled-buffer+ 65536
  "Buffers for more events than this (768 KiB of arrays) are not kept: a
rare huge wait should not pin its memory for the life of the image.")

(defun give-buffer (buffer)
  "Put BUFFER back in the pool: in a free slot, else in place of a smaller
buffer, else nowhere (the collector takes it)."
  (declare (type event-buffer buffer) (optimize speed))
  (when (> (event-buffer-size buffer) +largest-pooled-buffer+)
    (return-from give-buffer nil))
  (let ((pool **buffer-pool**))
    (dotimes (i (length pool))
      (when (and (null (svref pool i))
                 (null (sb-ext:compare-and-swap (svref pool i) nil buffer)))
        (return-from give-buffer nil)))
    (dotimes (i (length pool))
      (let ((b (svref pool i)))
        (when (and b
                   (< (event-buffer-size (the event-buffer b)) (event-buffer-size buffer))
                   (eq b (sb-ext:compare-and-swap (svref pool i) b buffer)))
          (return-from give-buffer nil))))
    nil))

(defmacro with-pooled-buffer ((var n) &body body)
  `(let ((,var (take-buffer ,n)))
     (unwind-protect (progn ,@body)
       (give-buffer ,var))))

;;; Creating and closing descriptors

(defun close-fd (fd operation)
  (let ((r 0))
    (declare (type (signed-byte 32) r))
    (sb-sys:without-interrupts (setf r (%eps-close fd)))
    (check-result r operation 'epoll-error)
    t))

(defmacro with-new-fd ((var raw-form operation) &body body)
  "Bind VAR to the descriptor RAW-FORM (a call returning a descriptor or a
negative code) creates, run BODY and close the descriptor on any exit.  The
creation and the record of the descriptor for the cleanup happen with
interrupts deferred, so no interrupt can leak it."
  (let ((fd (gensym "FD")) (raw (gensym "RAW")))
    `(let ((,fd nil) (,raw 0))
       (declare (type (signed-byte 32) ,raw))
       (unwind-protect
            (progn
              (sb-sys:without-interrupts
                (setf ,raw ,raw-form)
                (when (>= ,raw 0) (setf ,fd ,raw)))
              (check-result ,raw ,operation 'epoll-error)
              (let ((,var ,fd)) ,@body))
         (when ,fd (close-fd ,fd ,operation))))))

(defun check-create-flags (flags)
  (check-type flags (signed-byte 32))
  flags)

(defun epoll-create1 (&optional (flags 0))
  "Create an epoll instance and return its descriptor.  FLAGS is 0 or
+EPOLL-CLOEXEC+; the descriptor is close-on-exec either way.  Close it with
EPOLL-CLOSE, or use WITH-EPOLL.  Signals EPOLL-ERROR (+EINVAL+ for other
FLAGS, +EMFILE+ when out of descriptors)."
  (let ((flags (check-create-flags flags)) (r 0))
    (declare (type (signed-byte 32) r))
    (sb-sys:without-interrupts (setf r (%eps-epoll-create flags)))
    (check-result r 'epoll-create1 'epoll-error)))

(defun epoll-create (&optional (size 1))
  "Create an epoll instance and return its descriptor, like EPOLL-CREATE1
with no flags.  SIZE, a positive integer, is accepted for compatibility with
epoll_create(2) and otherwise ignored (the kernel ignores it too)."
  (check-type size (integer 1 #.(1- (expt 2 31))))
  (let ((r 0))
    (declare (type (signed-byte 32) r))
    (sb-sys:without-interrupts (setf r (%eps-epoll-create 0)))
    (check-result r 'epoll-create 'epoll-error)))

(defun epoll-close (fd)
  "Close FD, a descriptor made by this package: an epoll instance, an
eventfd or a timerfd (the watched descriptors of an epoll instance stay
open; their registrations go).  Returns T.  Closing twice, or closing a
descriptor the library did not make, signals EPOLL-ERROR with +EBADF+: a
descriptor number is reused by the kernel, so a second close could hit
someone else's."
  (check-type fd fd)
  (close-fd fd 'epoll-close))

(defmacro with-epoll ((epfd &optional (flags 0)) &body body)
  "Run BODY with EPFD bound to a new epoll instance (made with FLAGS, as
EPOLL-CREATE1), and close it on any exit, normal or not.  Returns BODY's
values.  Do not close EPFD inside BODY."
  (let ((f (gensym "FLAGS")))
    `(let ((,f (check-create-flags ,flags)))
       (with-new-fd (,epfd (%eps-epoll-create ,f) 'with-epoll)
         ,@body))))

;;; Registrations

(declaim (inline ctl))
(defun ctl (epfd op fd events data operation)
  (check-result (%eps-epoll-ctl epfd op fd events data) operation 'epoll-error)
  t)

(defun epoll-ctl (epfd op fd event)
  "Add, change or remove the registration of FD in the epoll instance EPFD.
OP is +EPOLL-CTL-ADD+, +EPOLL-CTL-MOD+ or +EPOLL-CTL-DEL+; EVENT an
EPOLL-EVENT (from MAKE-EPOLL-EVENT) giving the mask to watch and the data
word, ignored for +EPOLL-CTL-DEL+ (pass NIL).  Returns T.  Signals
EPOLL-ERROR: +EEXIST+ adding FD twice, +ENOENT+ changing or removing an FD
that is not registered, +EBADF+ for a closed descriptor, +EINVAL+ when EPFD
is not an epoll instance or FD is EPFD, +EPERM+ for a regular file.  A
non-integer descriptor, an unknown OP or a missing EVENT is a TYPE-ERROR."
  (check-type epfd fd)
  (check-type op (member #.+epoll-ctl-add+ #.+epoll-ctl-mod+ #.+epoll-ctl-del+))
  (check-type fd fd)
  (if (= op +epoll-ctl-del+)
      (ctl epfd op fd 0 0 'epoll-ctl)
      (progn
        (check-type event epoll-event)
        (ctl epfd op fd (epoll-event-events event) (epoll-event-data event) 'epoll-ctl))))

(defun add-event (epfd fd events &optional (data fd))
  "Register FD in the epoll instance EPFD for EVENTS, a mask such as
+EPOLLIN+ or (LOGIOR +EPOLLIN+ +EPOLLET+).  DATA, the word every event of
FD carries (EPOLL-EVENT-DATA), defaults to FD itself; it may be any integer
from 0 to 2^64-1, or an EPOLL-DATA.  Returns T; signals EPOLL-ERROR with
+EEXIST+ when FD is already registered."
  (check-type epfd fd)
  (check-type fd fd)
  (check-type events event-mask)
  (check-type data (or data-word epoll-data))
  (ctl epfd +epoll-ctl-add+ fd events (data-word data) 'add-event))

(defun modify-event (epfd fd events &optional (data fd))
  "Change the registration of FD in EPFD to EVENTS and DATA (default FD);
this also re-arms a +EPOLLONESHOT+ registration that has fired.  Returns T;
signals EPOLL-ERROR with +ENOENT+ when FD is not registered."
  (check-type epfd fd)
  (check-type fd fd)
  (check-type events event-mask)
  (check-type data (or data-word epoll-data))
  (ctl epfd +epoll-ctl-mod+ fd events (data-word data) 'modify-event))

(defun delete-event (epfd fd)
  "Remove the registration of FD from EPFD.  Returns T; signals EPOLL-ERROR
with +ENOENT+ when FD is not registered.  (Closing FD also removes it, once
no other descriptor refers to the same open file.)"
  (check-type epfd fd)
  (check-type fd fd)
  (ctl epfd +epoll-ctl-del+ fd 0 0 'delete-event))

;;; Waiting

(declaim (inline timeout-ms))
(defun timeout-ms (timeout)
  (check-type timeout timeout-ms)
  (or timeout -1))

(defun buffer-wait (epfd buffer max-events timeout operation)
  "Wait on EPFD into BUFFER for at most MAX-EVENTS events and TIMEOUT
milliseconds (-1: no limit); return the count.  EINTR is retried with the
time that is left, never less."
  (declare (type fd epfd) (type event-buffer buffer) (type max-events max-events)
           (type (integer -1 #.(1- (expt 2 31))) timeout))
  (let ((events (event-buffer-events buffer))
        (data (event-buffer-data buffer))
        (start (if (plusp timeout) (monotonic-us) 0))
        (ms timeout))
    (declare (type (integer -1 #.(1- (expt 2 31))) ms))
    (with-retry (r (the (signed-byte 32) (%eps-epoll-wait epfd events data max-events ms))
                 :would-block nil       ; epoll_wait never would-blocks: only EINTR
                 :retry (when (= r (- +eintr+))
                          (when (plusp timeout)
                            ;; Elapsed time rounded down: what is left is never short.
                            (setf ms (max 0 (- timeout (floor (- (monotonic-us) start) 1000)))))
                          t)
                 :operation operation :class 'epoll-error)
      (return r))))

(defun fill-events (vector buffer n)
  "Copy the first N events of BUFFER into VECTOR's epoll-event structures,
making one for any slot that does not hold one."
  (declare (type event-buffer buffer) (type (integer 0 #.+epoll-max-events+) n)
           (optimize speed))
  (let ((ev (event-buffer-events buffer))
        (data (event-buffer-data buffer)))
    (macrolet ((fill-with (ref)
                 `(dotimes (i n)
                    (let ((slot (,ref vector i)))
                      (if (epoll-event-p slot)
                          (setf (epoll-event-events slot) (aref ev i)
                                (epoll-event-data slot) (aref data i))
                          (setf (,ref vector i)
                                (%make-epoll-event (aref ev i) (aref data i))))))))
      (if (simple-vector-p vector)
          (fill-with svref)
          (fill-with aref)))
    n))

(defun wait-into-vector (epfd vector max-events timeout)
  (check-type epfd fd)
  (unless (eq t (array-element-type vector))
    (error 'type-error :datum vector :expected-type '(vector t)))
  (let ((max-events (or max-events (length vector)))
        (timeout (timeout-ms timeout)))
    (check-type max-events max-events)
    (unless (<= max-events (length vector))
      (error 'type-error :datum max-events
                         :expected-type `(integer 1 ,(length vector))))
    (with-pooled-buffer (buffer max-events)
      (fill-events vector buffer (buffer-wait epfd buffer max-events timeout 'epoll-wait)))))

(defun collect-events (buffer n)
  (declare (type event-buffer buffer) (type (integer 0 #.+epoll-max-events+) n))
  (let ((ev (event-buffer-events buffer))
        (data (event-buffer-data buffer)))
    (loop for i below n
          collect (%make-epoll-event (aref ev i) (aref data i)))))

(defun wait-list (epfd max-events timeout operation)
  (check-type epfd fd)
  (check-type max-events max-events)
  (let ((timeout (timeout-ms timeout)))
    (with-pooled-buffer (buffer max-events)
      (collect-events buffer (buffer-wait epfd buffer max-events timeout operation)))))

(defun epoll-wait (epfd events-or-max &optional max-events timeout)
  "Wait for events on the epoll instance EPFD, in one of two forms:

  (epoll-wait epfd events max-events timeout) => count
    EVENTS is a vector of element type T; the first COUNT slots are set to
    the events that occurred (at most MAX-EVENTS, at most (LENGTH EVENTS),
    which is the default).  An EPOLL-EVENT already in a slot is updated in
    place, any other slot gets a fresh one, so a vector made with
    (make-array n :element-type 'epoll-event), which holds zeros, works.
    Reusing the vector, a wait conses nothing.

  (epoll-wait epfd max-events timeout) => list
    A fresh list of at most MAX-EVENTS new EPOLL-EVENTs, as WAIT-FOR-EVENTS.

TIMEOUT is in milliseconds: 0 looks and returns at once, NIL or -1 (the
default) waits without limit.  The wait ends no earlier than TIMEOUT unless
events arrive; a signal (EINTR) does not end it.  MAX-EVENTS is 1 to 2^20,
else a TYPE-ERROR.  Signals EPOLL-ERROR with +EBADF+ when EPFD is closed,
+EINVAL+ when it is not an epoll instance."
  (if (vectorp events-or-max)
      (wait-into-vector epfd events-or-max max-events timeout)
      (if timeout
          (error "EPOLL-WAIT takes 3 arguments when the second is a count ~
                  (EPFD MAX-EVENTS TIMEOUT), or a vector of events second.")
          (wait-list epfd events-or-max max-events 'epoll-wait))))

(defun wait-for-events (epfd max-events timeout)
  "Wait up to TIMEOUT milliseconds (0: just look; NIL or -1: no limit) for
events on EPFD and return a fresh list of at most MAX-EVENTS (1 to 2^20)
new EPOLL-EVENTs, NIL on timeout.  A signal does not end the wait early: it
is retried with the time that is left.  For a loop that conses nothing, use
DO-EVENTS or the 4-argument EPOLL-WAIT."
  (wait-list epfd max-events timeout 'wait-for-events))

(defun event-buffer-wait (epfd buffer timeout)
  "Wait on EPFD into BUFFER, an EVENT-BUFFER, for up to TIMEOUT
milliseconds (NIL or -1: no limit); return how many events it holds."
  (check-type epfd fd)
  (check-type buffer event-buffer)
  (buffer-wait epfd buffer (event-buffer-size buffer) (timeout-ms timeout) 'do-events))

(defmacro do-events (((data events) epfd buffer &optional timeout) &body body)
  "Wait once on EPFD into BUFFER (an EVENT-BUFFER, from MAKE-EVENT-BUFFER)
for up to TIMEOUT milliseconds (NIL, the default, or -1: no limit; 0: just
look), then run BODY for each event with DATA bound to its data word (an
integer: the descriptor, unless ADD-EVENT was given other data) and EVENTS
to its mask of +EPOLL...+ bits.  Returns the number of events, or the value
of a RETURN from BODY (which skips the remaining events: an edge-triggered
one skipped is not reported again).  With data words below 2^62 (every
descriptor) nothing is consed.  EINTR is retried, as in WAIT-FOR-EVENTS.

  (do-events ((fd mask) epfd buffer 1000)
    (when (logtest mask +epollin+) (handle-read fd)))"
  (let ((b (gensym "BUFFER")) (n (gensym "N")) (i (gensym "I"))
        (ev (gensym "EV")) (dv (gensym "DV")) (top (gensym "TOP")))
    `(block nil
       (let* ((,b ,buffer)
              (,n (event-buffer-wait ,epfd ,b ,timeout))
              (,ev (event-buffer-events ,b))
              (,dv (event-buffer-data ,b))
              (,i 0))
         (declare (type (integer 0 ,+epoll-max-events+) ,n ,i)
                  (type (simple-array (unsigned-byte 32) (*)) ,ev)
                  (type (simple-array (unsigned-byte 64) (*)) ,dv))
         (tagbody
            ,top
            (when (< ,i ,n)
              (let ((,data (aref ,dv ,i))
                    (,events (aref ,ev ,i)))
                (declare (type (unsigned-byte 64) ,data)
                         (type (unsigned-byte 32) ,events)
                         (ignorable ,data ,events))
                ,@body)
              (incf ,i)
              (go ,top)))
         ,n))))
