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

(defmacro plain-call (in-kernel form)
  "FORM, a call of a plain socket operation (recv, send, connect...: no
handle, no lock, no OpenSSL state in its C frame).  When IN-KERNEL it is
made bare, so that it may sleep in the kernel like a C program's call and
interrupt-thread, WITH-TIMEOUT and the GC's stop signal land there (DESIGN
section 4); otherwise with interrupts deferred, as every shim call."
  `(if ,in-kernel ,form (shim ,form)))

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

(defun transfer-timeout (operation count total &optional octets)
  "Signal SOCKET-TRANSFER-TIMEOUT for OPERATION after COUNT of TOTAL bytes."
  (error 'socket-transfer-timeout
         :code +etimedout+ :operation operation :count count :octets octets
         :detail (and (plusp count)
                      (format nil "~D of ~D bytes ~:[sent~;received~] before the timeout"
                              count total octets))))

(defmacro checked (form operation)
  "FORM's value when not negative, else signal OPERATION's SOCKET-ERROR."
  `(check-result (shim ,form) ,operation 'socket-error))

;;; Listeners are non-blocking in the kernel and blocking for Lisp.
;;;
;;; eps_accept has no per-call "don't wait": on a blocking listener, poll
;;; followed by accept could sleep in C when another thread takes the
;;; connection between the two.  So SOCKET-LISTEN makes every listener
;;; O_NONBLOCK in the kernel and remembers here the ones whose Lisp callers
;;; asked for blocking behaviour; SOCKET-ACCEPT waits for them in Lisp.

(defvar *blocking-listeners* (make-hash-table :synchronized t)
  "Descriptors of listeners that are O_NONBLOCK in the kernel but blocking
for Lisp callers.")

(declaim (inline forget-fd))
(defun forget-fd (fd)
  "FD was just created, accepted or closed: it is no blocking listener."
  (remhash fd *blocking-listeners*))

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
