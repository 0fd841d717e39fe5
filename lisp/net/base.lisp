;;;; SPDX-License-Identifier: MIT
;;;; base.lisp - types, the shim-call wrapper, and which callers block.

(in-package #:epsilon.net.core.internal)

(deftype size ()
  "A byte count or index the C ABI accepts: 0 .. 2^31-1."
  '(integer 0 #.(1- (expt 2 31))))

(deftype fd ()
  "A file descriptor."
  '(integer 0 #.(1- (expt 2 31))))

(deftype octets () '(simple-array (unsigned-byte 8) (*)))

(deftype int32 () '(signed-byte 32))

(defmacro shim (form)
  "Run FORM, a call into the C library, with interrupts deferred: an unwind
out of a call that holds the library's descriptor table lock would leave
it locked.  Conditions are signalled by the caller, outside."
  `(sb-sys:without-interrupts ,form))

;;; Deferred kernel sleeps (receives: io.lisp).

(defmacro deferred (&body body)
  "Run BODY with interrupts deferred like SHIM, except that one that came
meanwhile is not run when BODY ends: it stays pending until the thread next
lets interrupts in (RUN-PENDING, the end of any WITHOUT-INTERRUPTS, a
WITH-INTERRUPTS; the next call of this package that may sleep begins with
one).  For a receive that may have taken bytes: running the interrupt at its
end would unwind past the count before the caller has it."
  `(let ((sb-sys:*interrupts-enabled* nil)
         (sb-sys:*allow-with-interrupts* nil))
     ,@body))

(declaim (inline interruptible-p))
(defun interruptible-p ()
  "True when the caller lets interrupts in: they are enabled, or deferred by
a WITHOUT-INTERRUPTS whose body allows them in waits (ALLOW-WITH-INTERRUPTS,
as for SB-THREAD:GRAB-MUTEX).  A receive's caller of the second kind has no
window at all between the call's return and its use of the count."
  (or sb-sys:*interrupts-enabled* sb-sys:*allow-with-interrupts*))

(defmacro run-pending ()
  "Inside DEFERRED, of a caller that was INTERRUPTIBLE-P: run a pending
interrupt now (it may unwind: only where no byte has moved, or where an
unwind is provided for)."
  `(when sb-sys:*interrupt-pending*
     (let ((sb-sys:*allow-with-interrupts* t))
       ;; Receives the pending interrupt as it enables interrupts.
       (sb-sys:with-interrupts nil))))

(define-condition socket-transfer-timeout (socket-timeout)
  ((count :initarg :count :initform 0 :reader socket-timeout-count)
   (octets :initarg :octets :initform nil :reader socket-timeout-octets))
  (:documentation "A send or receive did not complete within its :TIMEOUT
(a SOCKET-TIMEOUT, code +ETIMEDOUT+) after moving some bytes, which are not
lost: SOCKET-TIMEOUT-COUNT is the number of bytes sent or received before
the timeout (0 when none), and for a receive SOCKET-TIMEOUT-OCTETS is a
fresh vector of those bytes (SOCKET-RECV-INTO also left them in its buffer
from START on; NIL for a send)."))

(setf (documentation 'socket-timeout-count 'function)
      "The number of bytes a SOCKET-TRANSFER-TIMEOUT's operation sent or
received before its timeout."
      (documentation 'socket-timeout-octets 'function)
      "The bytes a receive got before its SOCKET-TRANSFER-TIMEOUT (a fresh
octet vector), or NIL for a send.")

(defun transfer-timeout-condition (operation count total &optional octets)
  "A SOCKET-TRANSFER-TIMEOUT for OPERATION after COUNT of TOTAL bytes (made
where a receive's bytes are still safe from an interrupt, signalled later)."
  (make-condition 'socket-transfer-timeout
                  :code +etimedout+ :operation operation :count count :octets octets
                  :detail (and (plusp count)
                               (format nil "~D of ~D bytes ~:[sent~;received~] before the timeout"
                                       count total octets))))

(defun transfer-timeout (operation count total &optional octets)
  "Signal SOCKET-TRANSFER-TIMEOUT for OPERATION after COUNT of TOTAL bytes."
  (error (transfer-timeout-condition operation count total octets)))

(defmacro checked (form operation)
  "FORM's value when not negative, else signal OPERATION's SOCKET-ERROR."
  `(check-result (shim ,form) ,operation 'socket-error))

;;; The kernel's own timeouts (SO_RCVTIMEO / SO_SNDTIMEO).
;;;
;;; A blocking receive sleeps in the kernel with interrupts deferred
;;; (io.lisp), and its SO_RCVTIMEO is what makes a signal end that sleep: on
;;; a socket with one, the kernel never restarts the call after a signal
;;; handler, it fails with EINTR (signal(7)).  So before each sleep it is made
;;; +KERNEL-SLEEP-MS+, or the time left when that is nearer (ARM-KERNEL-WAIT).
;;;
;;; A blocking send with a :TIMEOUT sleeps in the kernel too, bounded by the
;;; socket's kernel timeout, which must then be at most the time left.  The
;;; value this package last set on each descriptor is kept here (in ms, per
;;; descriptor and direction; 0: none set or not known) so that it is set
;;; again only when it would be longer than the time left: a loop of calls
;;; with the same :TIMEOUT sets it once.  A kernel timeout shorter than the
;;; time left is harmless (the call reports would-block, the rest is waited
;;; in poll), a longer one is not: so an entry is trusted only between a
;;; setsockopt of ours and the descriptor's close, and reset to 0 whenever
;;; the descriptor is created, accepted, closed or set by SET-SOCKET-OPTION.

(sb-ext:defglobal *kernel-timeouts*
    (make-array 0 :element-type '(unsigned-byte 32)))
(declaim (type (simple-array (unsigned-byte 32) (*)) *kernel-timeouts*))
(sb-ext:defglobal *kernel-timeouts-lock* (sb-thread:make-mutex :name "kernel timeouts"))

(declaim (inline timeout-slot))
(defun timeout-slot (fd option)
  (+ (* 2 fd) (if (= option +so-rcvtimeo+) 0 1)))

(declaim (inline kernel-timeout-ms))
(defun kernel-timeout-ms (fd option)
  "The kernel timeout OPTION of FD this package set and still trusts, in
ms, or 0."
  (let ((table *kernel-timeouts*)
        (i (timeout-slot fd option)))
    (if (< i (length table)) (aref table i) 0)))

(defun note-kernel-timeout (fd option ms)
  "Record that FD's kernel timeout OPTION is MS (0: not known).  Called with
*KERNEL-TIMEOUTS-LOCK* held, or for a descriptor no call is using."
  (let ((i (timeout-slot fd option))
        (table *kernel-timeouts*))
    (when (>= i (length table))
      (when (zerop ms)
        (return-from note-kernel-timeout))
      (let ((new (make-array (max 1024 (* 2 (1+ i))) :element-type '(unsigned-byte 32)
                                                     :initial-element 0)))
        (replace new table)
        (setf *kernel-timeouts* new table new)))
    (setf (aref table i) ms)))

(defun forget-kernel-timeouts (fd)
  (when (< (timeout-slot fd +so-rcvtimeo+) (length *kernel-timeouts*))
    (sb-thread:with-mutex (*kernel-timeouts-lock*)
      (note-kernel-timeout fd +so-rcvtimeo+ 0)
      (note-kernel-timeout fd +so-sndtimeo+ 0))))

(defun set-kernel-timeout (fd option ms)
  "Set FD's kernel timeout OPTION to MS milliseconds and note it.  True when
it was set (not on a descriptor that is no socket, say: the call itself
then reports what is wrong)."
  (shim (sb-thread:with-mutex (*kernel-timeouts-lock*)
          (note-kernel-timeout fd option 0)
          (when (zerop (%eps-setsockopt-timeout fd option (* ms 1000)))
            (note-kernel-timeout fd option ms)
            t))))

(defun kernel-timeout-within (fd option deadline)
  "True when FD's kernel timeout OPTION is now at most the time left until
DEADLINE (setting it to the whole milliseconds left when it is not), so that
a call may sleep in the kernel; NIL in the last millisecond (poll then)."
  (let ((left (floor (- deadline (monotonic-us)) 1000)))
    (and (plusp left)
         (let ((k (kernel-timeout-ms fd option)))
           (or (and (plusp k) (<= k left))
               (set-kernel-timeout fd option (min left (1- (expt 2 31)))))))))

(defconstant +kernel-sleep-ms+ 100
  "The longest one kernel sleep of a blocking receive, in ms: the bound on
how late an interrupt can land (one whose signal comes between the check
for a pending interrupt and the sleep is seen when the sleep ends).  An idle
blocking receive wakes this often and sleeps again.")

(declaim (inline arm-kernel-wait))
(defun arm-kernel-wait (fd deadline)
  "Before a blocking receive on FD that may sleep in the kernel: make its
SO_RCVTIMEO +KERNEL-SLEEP-MS+, or the whole milliseconds left until
DEADLINE when fewer (set again only when it is too long, or less than half
of what is wanted).  True when the call may sleep in the kernel; NIL in the
last millisecond before DEADLINE (the call is then made non-blocking and
the rest waited in poll), or when the option could not be set."
  (let ((want (if deadline
                  (min +kernel-sleep-ms+ (floor (- deadline (monotonic-us)) 1000))
                  +kernel-sleep-ms+)))
    (and (plusp want)
         (let ((k (kernel-timeout-ms fd +so-rcvtimeo+)))
           (or (and (plusp k) (<= k want) (> (* 2 k) want))
               (set-kernel-timeout fd +so-rcvtimeo+ want))))))

(declaim (inline kernel-wait-p))
(defun kernel-wait-p (fd option nonblocking deadline)
  "True when a call on FD may sleep in the kernel: its caller blocks, and has
no DEADLINE or the kernel timeout OPTION (+SO-RCVTIMEO+ for receiving,
+SO-SNDTIMEO+ for sending) is at most the time left."
  (and (not nonblocking)
       (or (null deadline) (kernel-timeout-within fd option deadline))))

;;; Bytes held for a descriptor's next receive.
;;;
;;; A +MSG-WAITALL+ receive loops until its range is full and lets interrupts
;;; run between its calls, so that one that only returns lets it go on;
;;; when one unwinds out of it, the bytes it had already taken are held here
;;; (per descriptor, in order) and the next receive on the descriptor gets
;;; them first: no byte is lost (io.lisp, %RECV).

(sb-ext:defglobal *held* (make-array 0 :initial-element nil))
(declaim (type simple-vector *held*))
(sb-ext:defglobal *held-lock* (sb-thread:make-mutex :name "held bytes"))

(declaim (inline held-p))
(defun held-p (fd)
  "True when bytes are held for FD's next receive."
  (let ((held *held*))
    (and (< fd (length held)) (svref held fd) t)))

(defun hold-bytes (fd buffer start end)
  "Hold BUFFER[START,END), taken from FD by a receive an interrupt unwound
out of, for FD's next receive, before any bytes still held."
  (shim (sb-thread:with-mutex (*held-lock*)
          (when (>= fd (length *held*))
            (setf *held* (replace (make-array (max 64 (* 2 (1+ fd))) :initial-element nil)
                                  *held*)))
          (let ((old (svref *held* fd)))
            (setf (svref *held* fd)
                  (concatenate 'octets (subseq buffer start end) (or old #())))))))

(defun take-held (fd buffer start end peek)
  "Copy the bytes held for FD into BUFFER from START on (at most to END) and,
unless PEEK, hold them no longer.  Returns the count copied.  Called with
interrupts deferred, by a caller that counts them at once."
  (shim (sb-thread:with-mutex (*held-lock*)
          (let ((old (and (< fd (length *held*)) (svref *held* fd))))
            (if (null old)
                0
                (let ((n (min (length old) (- end start))))
                  (replace buffer old :start1 start :end1 (+ start n))
                  (unless peek
                    (setf (svref *held* fd) (if (= n (length old)) nil (subseq old n))))
                  n))))))

(declaim (inline forget-fd))
(defun forget-fd (fd)
  "FD was just created, accepted or closed: no kernel timeout is known for
it, and no bytes are held for it."
  (forget-kernel-timeouts fd)
  (when (held-p fd)
    (shim (sb-thread:with-mutex (*held-lock*)
            (setf (svref *held* fd) nil)))))

(declaim (inline fd-nonblocking-p))
(defun fd-nonblocking-p (fd)
  "True when FD is O_NONBLOCK in the kernel (from the library's table: no
system call).  A descriptor the library does not own counts as blocking;
the operation itself reports it."
  (eql 1 (shim (%eps-fd-nonblocking-p fd))))

(declaim (inline caller-nonblocking-p))
(defun caller-nonblocking-p (fd flags)
  "True when the caller of a send or receive asked not to block: FLAGS
include +MSG-DONTWAIT+, or FD is O_NONBLOCK."
  (or (logtest flags +msg-dontwait+) (fd-nonblocking-p fd)))

(defun check-bounds (sequence start end)
  "Check START and END (NIL: the length) against SEQUENCE; return the end."
  (check-type start size)
  (check-type end (or null size))
  (let* ((length (length sequence))
         (end (or end length)))
    (unless (<= end length)
      (error 'type-error :datum end :expected-type `(integer ,start ,length)))
    (unless (<= start end)
      (error 'type-error :datum start :expected-type `(integer 0 ,end)))
    end))

(defun as-octets (data start end)
  "DATA (a string, sent as UTF-8, or an octet vector) as a simple octet
vector, with the start and end in it."
  (etypecase data
    (octets (values data start (check-bounds data start end)))
    (string (let ((end (check-bounds data start end)))
              (let ((octets (sb-ext:string-to-octets data :external-format :utf-8
                                                          :start start :end end)))
                (values octets 0 (length octets)))))
    ((vector (unsigned-byte 8))
     (let* ((end (check-bounds data start end))
            (octets (make-array (- end start) :element-type '(unsigned-byte 8))))
       (replace octets data :start2 start :end2 end)
       (values octets 0 (length octets))))))

(defun check-data (data)
  (unless (typep data '(or string (vector (unsigned-byte 8))))
    (error 'type-error :datum data :expected-type '(or string (vector (unsigned-byte 8))))))

(defun check-flags (flags)
  (check-type flags int32))
