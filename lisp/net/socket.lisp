;;;; SPDX-License-Identifier: MIT
;;;; socket.lisp - creating, binding, listening, accepting, connecting,
;;;; closing sockets, and their options.

(in-package #:epsilon.net.core.internal)

(defun socket-create (domain type protocol)
  "Create a socket and return its descriptor (an integer).  DOMAIN is
+AF-INET+, +AF-INET6+ or +AF-UNIX+; TYPE is +SOCK-STREAM+, +SOCK-DGRAM+ or
+SOCK-SEQPACKET+, optionally LOGIOR'd with +SOCK-NONBLOCK+; PROTOCOL is 0
(the usual one), +IPPROTO-TCP+ or +IPPROTO-UDP+.  The socket is always
close-on-exec.  Close it with SOCKET-CLOSE."
  (check-type domain int32)
  (check-type type int32)
  (check-type protocol int32)
  (let ((fd (checked (%eps-socket domain type protocol) 'socket-create)))
    (forget-fd fd)
    fd))

(defun socket-pair (&key (type +sock-stream+) nonblocking)
  "Create a connected pair of Unix sockets of TYPE (+SOCK-STREAM+ by default)
and return their descriptors as two values; both are non-blocking when
NONBLOCKING is true."
  (check-type type int32)
  (let ((fds (make-array 2 :element-type '(signed-byte 32))))
    (checked (%eps-socketpair +af-unix+ (logior type (if nonblocking +sock-nonblock+ 0)) 0 fds)
             'socket-pair)
    (forget-fd (aref fds 0))
    (forget-fd (aref fds 1))
    (values (aref fds 0) (aref fds 1))))

(defun socket-bind (fd address)
  "Bind socket FD to ADDRESS, a SOCKET-ADDRESS.  Returns T; signals
SOCKET-ERROR (+EADDRINUSE+, +EACCES+, ...)."
  (check-type fd fd)
  (check-type address socket-address)
  (checked (%eps-bind fd (socket-address-octets address) (socket-address-length address))
           'socket-bind)
  t)

(defun socket-listen (fd backlog)
  "Mark socket FD as listening with room for BACKLOG pending connections
(the kernel cuts it to +SOMAXCONN+).  Returns T.  The listener keeps its
blocking mode, which is SOCKET-ACCEPT's (see there)."
  (check-type fd fd)
  (check-type backlog size)
  (checked (%eps-listen fd backlog) 'socket-listen)
  t)

;;; A blocking accept sleeps in the kernel's accept4, as C does, yet with
;;; interrupts deferred (SHIM): eps_accept registers the new descriptor
;;; after accept4 returns, and an interrupt that unwound out of C there (or
;;; at accept4's very return, the likeliest moment for a signal sent while
;;; the connection came) would lose the descriptor.  Deferred, an interrupt
;;; still ends the sleep: the listener's kernel receive timeout is set
;;; (ARM-ACCEPT), and on a socket with one the kernel ends accept4 with
;;; EINTR at any signal, even one whose handler asked for SA_RESTART
;;; (socket(7)); SBCL's handler defers the interrupt, C returns, and the
;;; interrupt runs when SHIM ends, with the descriptor, if any, in NFD for
;;; SOCKET-ACCEPT's cleanup to close.  Left: a signal that comes in the
;;; instructions between the *INTERRUPT-PENDING* check and the kernel's
;;; sleep is run when that sleep ends, at most +ACCEPT-SLEEP-MS+ later;
;;; and threads accepting on one listener share its kernel timeout, so one
;;; with a :TIMEOUT can sleep up to +ACCEPT-SLEEP-MS+ past its deadline when
;;; another set a longer one just before its accept4 began.
;;; (tests/c/test_net.c checks the kernel's part, suite-blocking the rest.)

(defconstant +accept-sleep-ms+ 100
  "The longest one accept4 sleep of a blocking SOCKET-ACCEPT, in ms: the
bound on how late an interrupt can land (see above).  An idle blocking
accept wakes this often and sleeps again.")

(defun arm-accept (fd deadline)
  "Before a blocking accept4 on listener FD: set its kernel receive timeout
to +ACCEPT-SLEEP-MS+, or less when DEADLINE is nearer (at least 1 ms; it is
set again only when it is too long or less than half of that).  In the
last millisecond before DEADLINE, wait in poll for what is left first, and
signal SOCKET-TIMEOUT when nothing came (accept4 then sleeps at most 1 ms,
should another thread take the connection)."
  (let ((left (if deadline (floor (- deadline (monotonic-us)) 1000) +accept-sleep-ms+)))
    (when (< left 1)
      (unless (wait-ready fd +pollin+ deadline 'socket-accept 'socket-error)
        (signal-timeout 'socket-accept 'socket-error)))
    (let ((want (max 1 (min left +accept-sleep-ms+)))
          (k (kernel-timeout-ms fd +so-rcvtimeo+)))
      (unless (and (<= k want) (> (* 2 k) want))
        (set-kernel-timeout fd +so-rcvtimeo+ want)))))

(defun socket-accept (fd &key timeout nonblocking (address t))
  "Accept a connection on listening socket FD.  Returns the new descriptor
and, as a second value, the peer's SOCKET-ADDRESS; NIL when FD is a
non-blocking listener and nothing is pending.  On a blocking listener it
sleeps in the kernel's accept as C does (interrupts and WITH-TIMEOUT land
there) up to TIMEOUT seconds (NIL: no limit), then signals SOCKET-TIMEOUT;
it sets the listener's SO_RCVTIMEO for that.  The new socket is blocking
unless NONBLOCKING is true.  ADDRESS NIL says the peer's address is not
wanted: the second value is NIL and a non-blocking accept conses nothing
(an event loop's accept path).  An interrupt that unwinds out of
SOCKET-ACCEPT after the kernel accepted closes the new descriptor."
  (check-type fd fd)
  (let* ((deadline (deadline timeout))
         (state (shim (%eps-fd-nonblocking-p fd)))
         (blocking (eql state 0))
         (flags (if nonblocking +sock-nonblock+ 0))
         (buffer (and address (new-address-buffer)))
         (cell (and address (make-array 1 :element-type '(unsigned-byte 32))))
         ;; NIL when the caller deferred interrupts itself: nothing to land.
         (interruptible sb-sys:*interrupts-enabled*)
         ;; The accepted descriptor until it is handed over (see above).
         (nfd -1))
    (declare (type fixnum nfd))
    (when (minusp state)
      (signal-epsilon-error state 'socket-accept 'socket-error))
    (unwind-protect
         (with-retry (r (progn
                          (when cell
                            (setf (aref cell 0) (length buffer)))
                          (when blocking
                            (arm-accept fd deadline))
                          (shim (setf nfd (if (and interruptible sb-sys:*interrupt-pending*)
                                              (- +eintr+) ; run it first
                                              (%eps-accept fd flags buffer cell)))))
                      :operation 'socket-accept :class 'socket-error
                      :would-block (and (not blocking) (= r (- +eagain+)) +pollin+)
                      :nonblocking t :on-would-block (return nil)
                      ;; EAGAIN on a blocking listener: one sleep of ARM-ACCEPT's ended.
                      :retry (or (= r (- +eintr+)) (= r (- +econnaborted+)) (= r (- +eagain+))))
           (forget-fd r)
           (let ((peer (and buffer (copy-address buffer (aref cell 0)))))
             (setf nfd -1)
             (return (values r peer))))
      (when (>= nfd 0)
        (shim (progn (forget-fd nfd) (%eps-close nfd)))))))

(defun socket-connect (fd address &key timeout)
  "Connect socket FD to ADDRESS, a SOCKET-ADDRESS.  Returns T when connected.
On a non-blocking FD a connection that cannot complete at once returns NIL:
wait until FD is writable (poll, epoll), then call SOCKET-FINISH-CONNECT.
On a blocking FD without TIMEOUT it sleeps in the kernel's connect, as C
does (interrupts and WITH-TIMEOUT land there); with TIMEOUT (seconds) the
connect is made non-blocking and waited for in poll, then SOCKET-TIMEOUT,
and FD's blocking mode is restored on every exit.
Failure signals SOCKET-ERROR (+ECONNREFUSED+, +ENETUNREACH+, ...)."
  (check-type fd fd)
  (check-type address socket-address)
  (let ((deadline (deadline timeout))
        (octets (socket-address-octets address))
        (length (socket-address-length address)))
    (flet ((start ()
             (with-retry (r (shim (%eps-connect fd octets length))
                          :done (zerop r)
                          ;; In progress, or interrupted: it goes on asynchronously.
                          :would-block (or (= r (- +einprogress+)) (= r (- +eagain+))
                                           (= r (- +eintr+)))
                          :nonblocking t :on-would-block (return nil)
                          :operation 'socket-connect :class 'socket-error)
               (return t)))
           (finish ()
             (wait-until-ready fd +pollout+ deadline 'socket-connect 'socket-error)
             (socket-finish-connect fd)))
      (cond ((fd-nonblocking-p fd) (start))
            ((null deadline)
             ;; Untimed: sleep in the kernel's connect, as C does, with
             ;; interrupts enabled (its C frame holds nothing: DESIGN section
             ;; 4).  One that a signal interrupted goes on in the kernel:
             ;; wait for it.
             (let ((r (%eps-connect fd octets length)))
               (cond ((zerop r) t)
                     ((or (= r (- +eintr+)) (= r (- +ealready+)) (= r (- +einprogress+))
                          (= r (- +eagain+)))
                      (finish))
                     (t (signal-epsilon-error r 'socket-connect 'socket-error)))))
            (t
             (checked (%eps-fd-set-nonblocking fd 1) 'socket-connect)
             (unwind-protect (or (start) (finish))
               (shim (%eps-fd-set-nonblocking fd 0))))))))

(defun socket-finish-connect (fd)
  "The outcome of a non-blocking connect on FD, once FD is writable: T when
it succeeded, else signals its SOCKET-ERROR (+ECONNREFUSED+, ...).  Reads
and clears the socket's pending error (SO_ERROR)."
  (check-type fd fd)
  (let ((r (shim (%eps-socket-error fd))))
    (when (minusp r)
      (signal-epsilon-error r 'socket-connect 'socket-error))
    t))

(defun socket-shutdown (fd &optional (how +shut-rdwr+))
  "Shut down reading, writing or both on connected socket FD; the descriptor
stays open.  HOW is +SHUT-RD+ (or :READ), +SHUT-WR+ (:WRITE) or +SHUT-RDWR+
(:BOTH, the default).  Returns T."
  (check-type fd fd)
  (let ((how (case how (:read +shut-rd+) (:write +shut-wr+) (:both +shut-rdwr+) (t how))))
    (check-type how int32)
    (checked (%eps-shutdown fd how) 'socket-shutdown)
    t))

(defun socket-close (fd)
  "Close socket FD, a descriptor this package created or accepted.  Returns
T.  Closing a descriptor that is already closed (or was never the
library's) signals SOCKET-ERROR (+EBADF+): descriptors are integers the
kernel reuses, so a second close could close someone else's socket."
  (check-type fd fd)
  (forget-fd fd)
  (checked (%eps-close fd) 'socket-close)
  t)

(defun socket-nonblocking-p (fd)
  "True when FD is non-blocking for this package's calls."
  (check-type fd fd)
  (= 1 (checked (%eps-fd-nonblocking-p fd) 'socket-nonblocking-p)))

(defun set-socket-nonblocking (fd &optional (on t))
  "Make FD non-blocking (ON true, the default) or blocking.  Returns ON as a
boolean."
  (check-type fd fd)
  (checked (%eps-fd-set-nonblocking fd (if on 1 0)) 'set-socket-nonblocking)
  (and on t))

;;; Options

(defun timeout-option-p (level option)
  (and (= level +sol-socket+) (or (= option +so-rcvtimeo+) (= option +so-sndtimeo+))))

(defun linger-option-p (level option)
  (and (= level +sol-socket+) (= option +so-linger+)))

(defun set-socket-option (fd level option value)
  "Set socket option OPTION at LEVEL on FD to VALUE and return VALUE.
Integer options (+SO-REUSEADDR+, +TCP-NODELAY+, +SO-RCVBUF+, ...) take an
integer, or T / NIL for 1 / 0.  +SO-LINGER+ takes NIL (off) or seconds to
linger (0: reset at close).  +SO-RCVTIMEO+ / +SO-SNDTIMEO+ take NIL or 0
(none) or seconds as a real; the operations' :TIMEOUT is the way to bound
a wait: a blocking receive (or accept) sets +SO-RCVTIMEO+ itself before it
sleeps in the kernel (to 100 ms, or its time left), replacing a value set
here, and a send with a :TIMEOUT sets +SO-SNDTIMEO+ to at most its time
left (one set here only makes a blocking send without :TIMEOUT wait in poll
after it passes)."
  (check-type fd fd)
  (check-type level int32)
  (check-type option int32)
  (cond ((linger-option-p level option)
         (check-type value (or null size))
         (checked (%eps-setsockopt-linger fd (if value 1 0) (or value 0)) 'set-socket-option))
        ((timeout-option-p level option)
         (check-type value (or null (real 0 (#.(expt 2 31)))))
         (shim (sb-thread:with-mutex (*kernel-timeouts-lock*)
                 (note-kernel-timeout fd option 0)))
         (checked (%eps-setsockopt-timeout fd option (if value (round (* value 1000000)) 0))
                  'set-socket-option))
        (t
         (check-type value (or boolean int32))
         (checked (%eps-setsockopt-int fd level option
                                       (case value ((t) 1) ((nil) 0) (t value)))
                  'set-socket-option)))
  value)

(defun get-socket-option (fd level option)
  "The value of socket option OPTION at LEVEL on FD: an integer for integer
options (booleans are 0 or 1; +SO-ERROR+ is a positive code or 0); for
+SO-LINGER+, NIL or the linger seconds; for +SO-RCVTIMEO+ / +SO-SNDTIMEO+,
NIL (none) or the timeout in seconds (a rational)."
  (check-type fd fd)
  (check-type level int32)
  (check-type option int32)
  (cond ((linger-option-p level option)
         (let ((on (make-array 1 :element-type '(signed-byte 32)))
               (seconds (make-array 1 :element-type '(signed-byte 32))))
           (checked (%eps-getsockopt-linger fd on seconds) 'get-socket-option)
           (if (zerop (aref on 0)) nil (aref seconds 0))))
        ((timeout-option-p level option)
         (let ((usec (checked (%eps-getsockopt-timeout fd option) 'get-socket-option)))
           (if (zerop usec) nil (/ usec 1000000))))
        (t (checked (%eps-getsockopt-int fd level option) 'get-socket-option))))

(defun socket-wait (fd direction &key timeout)
  "Wait until FD is ready for DIRECTION (:INPUT: readable, or a connection
to accept; :OUTPUT: writable, or a non-blocking connect done), up to
TIMEOUT seconds (NIL: no limit).  Returns T when ready (an error or hang-up
on FD counts as ready: the next call reports it), NIL on timeout.  The wait
is a poll in Lisp: interrupts land here."
  (check-type fd fd)
  (check-type direction (member :input :output))
  (handler-case
      (progn (wait-until-ready fd (if (eq direction :input) +pollin+ +pollout+)
                               (deadline timeout) 'socket-wait 'socket-error)
             t)
    (socket-timeout () nil)))
