;;;; SPDX-License-Identifier: MIT
;;;; events.lisp - epoll events, data words, the argument types and the
;;;; constants' documentation.

(in-package #:epsilon.sys.epoll)

;;; Argument types, checked at the API boundary before any call.

(deftype fd ()
  "A file descriptor: a non-negative C int."
  '(integer 0 #.(1- (expt 2 31))))

(deftype max-events ()
  "How many events one wait may return: 1 to 2^20."
  `(integer 1 ,+epoll-max-events+))

(deftype event-mask ()
  "A mask of +EPOLL...+ bits."
  '(unsigned-byte 32))

(deftype data-word ()
  "The 64-bit data word of a registration."
  '(unsigned-byte 64))

(deftype timeout-ms ()
  "A wait's timeout: milliseconds, -1 or NIL for no limit, 0 to just look."
  '(or null (integer -1 #.(1- (expt 2 31)))))

;;; Data words

(defstruct (epoll-data (:constructor %make-epoll-data (word))
                       (:copier nil))
  "The 64-bit data word of a registration, read as the C union epoll_data:
EPOLL-DATA-FD (the low 32 bits as a signed int), EPOLL-DATA-U32 (the low 32
bits), EPOLL-DATA-U64 (the whole word) or EPOLL-DATA-PTR (the word as a
SAP).  MAKE-EPOLL-EVENT accepts one as its :DATA, or a plain integer."
  (word 0 :type data-word))

(defun make-epoll-data (&key fd u32 u64 ptr)
  "Make an EPOLL-DATA from exactly one of: FD (a descriptor), U32 (a 32-bit
unsigned integer), U64 (a 64-bit unsigned integer) or PTR (a SAP or an
address).  With none of them the word is 0."
  (let ((given (count-if-not #'null (list fd u32 u64 ptr))))
    (when (> given 1)
      (error "MAKE-EPOLL-DATA takes one of :FD, :U32, :U64 and :PTR, not ~D." given)))
  (%make-epoll-data
   (cond (fd (check-type fd fd) fd)
         (u32 (check-type u32 (unsigned-byte 32)) u32)
         (u64 (check-type u64 data-word) u64)
         (ptr (etypecase ptr
                (sb-sys:system-area-pointer (sb-sys:sap-int ptr))
                (data-word ptr)))
         (t 0))))

(defun epoll-data-fd (data)
  "The descriptor stored in DATA, an EPOLL-DATA: its low 32 bits as a signed
C int."
  (let ((low (ldb (byte 32 0) (epoll-data-word data))))
    (if (logbitp 31 low) (- low (expt 2 32)) low)))

(defun epoll-data-u32 (data)
  "The low 32 bits of DATA, an EPOLL-DATA, as an unsigned integer."
  (ldb (byte 32 0) (epoll-data-word data)))

(defun epoll-data-u64 (data)
  "The whole 64-bit word of DATA, an EPOLL-DATA, as an unsigned integer."
  (epoll-data-word data))

(defun epoll-data-ptr (data)
  "The word of DATA, an EPOLL-DATA, as a system area pointer."
  (sb-sys:int-sap (epoll-data-word data)))

;;; Events

(defstruct (epoll-event (:constructor %make-epoll-event (events data))
                        (:copier nil))
  "One event: EPOLL-EVENT-EVENTS is the mask of +EPOLL...+ bits (what is
ready, or what a registration watches), EPOLL-EVENT-DATA the registration's
64-bit data word as an integer (the descriptor, unless ADD-EVENT was given
other data).  Both slots are unboxed: updating an event in place conses
nothing."
  (events 0 :type event-mask)
  (data 0 :type data-word))

(setf (documentation 'epoll-event-events 'function)
      "The mask of +EPOLL...+ bits of EVENT: test it with LOGTEST (not LOGAND,
which returns 0, a true value) or with the EPOLL-EVENT-...-P predicates."
      (documentation 'epoll-event-data 'function)
      "The 64-bit data word of EVENT as a non-negative integer: the
descriptor itself unless the registration was given other data."
      (documentation 'epoll-event-p 'function)
      "True when the argument is an EPOLL-EVENT."
      (documentation 'epoll-data-p 'function)
      "True when the argument is an EPOLL-DATA.")

(defun data-word (data)
  "The integer word of DATA, an integer or an EPOLL-DATA."
  (etypecase data
    (data-word data)
    (epoll-data (epoll-data-word data))))

(defun make-epoll-event (&key (events 0) (data 0))
  "Make an EPOLL-EVENT for EPOLL-CTL: EVENTS is a mask of +EPOLL...+ bits,
DATA the word handed back with every event of the registration: an integer
from 0 to 2^64-1 (usually the descriptor) or an EPOLL-DATA."
  (check-type events event-mask)
  (check-type data (or data-word epoll-data))
  (%make-epoll-event events (data-word data)))

(defmethod print-object ((event epoll-event) stream)
  (print-unreadable-object (event stream :type t)
    (format stream "~D #x~X" (epoll-event-data event) (epoll-event-events event))))

;;; Predicates, on an event or a bare mask.

(declaim (inline event-bits))
(defun event-bits (event)
  (etypecase event
    (epoll-event (epoll-event-events event))
    (event-mask event)))

(declaim (inline epoll-event-readable-p epoll-event-writable-p
                 epoll-event-error-p epoll-event-hangup-p))

(defun epoll-event-readable-p (event)
  "True when EVENT (an EPOLL-EVENT, or an event mask) reports +EPOLLIN+."
  (logtest (event-bits event) +epollin+))

(defun epoll-event-writable-p (event)
  "True when EVENT (an EPOLL-EVENT, or an event mask) reports +EPOLLOUT+."
  (logtest (event-bits event) +epollout+))

(defun epoll-event-error-p (event)
  "True when EVENT (an EPOLL-EVENT, or an event mask) reports +EPOLLERR+."
  (logtest (event-bits event) +epollerr+))

(defun epoll-event-hangup-p (event)
  "True when EVENT (an EPOLL-EVENT, or an event mask) reports a hang-up:
+EPOLLHUP+ (both directions closed) or +EPOLLRDHUP+ (the peer shut down its
writing side)."
  (logtest (event-bits event) (logior +epollhup+ +epollrdhup+)))

;;; The constants come from the generated bindings; their meaning, here.

(macrolet ((doc (&rest pairs)
             `(progn
                ,@(loop for (name text) on pairs by #'cddr
                        collect `(setf (documentation ',name 'variable) ,text)))))
  (doc +epollin+ "Event bit: the descriptor is readable (data, a connection to accept, EOF)."
       +epollout+ "Event bit: the descriptor is writable."
       +epollrdhup+ "Event bit: the peer of a stream socket shut down its writing side (or closed)."
       +epollpri+ "Event bit: urgent (out-of-band) data, or another exceptional condition."
       +epollerr+ "Event bit: an error on the descriptor; always reported, asked for or not."
       +epollhup+ "Event bit: hang-up; always reported, asked for or not."
       +epollrdnorm+ "Event bit: normal data readable (as +EPOLLIN+)."
       +epollrdband+ "Event bit: priority band data readable."
       +epollwrnorm+ "Event bit: writable (as +EPOLLOUT+)."
       +epollwrband+ "Event bit: priority data writable."
       +epollmsg+ "Event bit: unused by Linux."
       +epollet+ "Registration flag: edge-triggered, report each readiness change once."
       +epolloneshot+ "Registration flag: report one event, then disarm until MODIFY-EVENT."
       +epollwakeup+ "Registration flag: hold a wakeup source while the event is pending (needs CAP_BLOCK_SUSPEND, else ignored)."
       +epollexclusive+ "Registration flag, ADD only: of several epoll instances watching one descriptor, wake one (avoids thundering herds)."
       +epoll-ctl-add+ "EPOLL-CTL operation: register a descriptor."
       +epoll-ctl-mod+ "EPOLL-CTL operation: change a registration (re-arms a one-shot one)."
       +epoll-ctl-del+ "EPOLL-CTL operation: remove a registration."
       +epoll-cloexec+ "EPOLL-CREATE1 flag: close on exec (always set anyway)."
       +epoll-max-events+ "The largest MAX-EVENTS a wait accepts: 2^20."))
