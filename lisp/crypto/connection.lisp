;;;; SPDX-License-Identifier: MIT
;;;; connection.lisp - TLS connections over a socket fd: the handshake, the
;;;; WANT_READ / WANT_WRITE retry loops, close_notify.
;;;;
;;;; Every connection is non-blocking in C (our BIO passes MSG_DONTWAIT), so
;;;; no Lisp thread ever sleeps inside OpenSSL.  When the fd itself blocks,
;;;; the retry loops wait for readiness here, in poll, bounded by :TIMEOUT;
;;;; when the fd is non-blocking they return NIL instead.  One Lisp lock per
;;;; direction is held for a whole send (or receive), waits included, so a
;;;; retried write can never splice into another thread's.

(in-package #:epsilon.crypto)

(defstruct (tls-connection (:constructor %make-tls-connection
                               (%handle fd context timeout
                                &aux (epoch (epsilon.foreign:image-epoch))))
                           (:copier nil))
  "A TLS connection over one connected stream socket fd.  Make it with
MAKE-TLS-CONNECTION or WITH-TLS-CONNECTION; free it with TLS-CONNECTION-FREE
(idempotent; a finalizer frees a forgotten one).  Freeing never closes the
fd: the socket stays with its owner."
  ;; Read through TLS-CONNECTION-HANDLE, which checks EPOCH.
  (%handle 0 :type sb-ext:word)
  ;; The image epoch it was made in: its handle means nothing in another.
  (epoch 0 :type fixnum :read-only t)
  (fd -1 :type fixnum :read-only t)
  ;; Its role is the context's (TLS-CONNECTION-ROLE): one slot fewer
  ;; keeps the object at 8 words, consed once per connection.
  (context nil :read-only t)
  (timeout nil)
  (read-lock (sb-thread:make-mutex :name "TLS read") :read-only t)
  (write-lock (sb-thread:make-mutex :name "TLS write") :read-only t))

(declaim (inline tls-connection-role))
(defun tls-connection-role (conn)
  "The role of the TLS connection CONN, :CLIENT or :SERVER: its context's."
  (tls-context-role (tls-connection-context conn)))

(declaim (inline tls-connection-handle))
(defun tls-connection-handle (conn)
  "CONN's handle (0 once freed); a TLS-ERROR when CONN was made before the
image was saved, so its handle is never passed to C in another process."
  (if (epsilon.foreign:current-epoch-p (tls-connection-epoch conn))
      (tls-connection-%handle conn)
      (saved-error "connection" 'tls-connection)))

(defun (sb-ext:cas tls-connection-handle) (old new conn)
  (sb-ext:compare-and-swap (tls-connection-%handle conn) old new))

(setf (documentation 'tls-connection-p 'function)
      "True when OBJECT is a TLS-CONNECTION (freed or not).")

(setf (documentation 'tls-connection-fd 'function)
      "The socket fd the TLS connection CONN runs over (still owned by the caller).")

(defmethod print-object ((conn tls-connection) stream)
  (print-unreadable-object (conn stream :type t :identity t)
    (format stream "~(~A~) fd ~D~:[ freed~;~]"
            (tls-connection-role conn) (tls-connection-fd conn)
            (plusp (tls-connection-%handle conn)))))

(defun tls-connection-free (conn)
  "Free the TLS connection CONN without sending anything (TLS-SHUTDOWN first
for a clean close).  The fd stays open.  Idempotent.  Returns NIL."
  (check-type conn tls-connection)
  (free-handle-once (h (tls-connection-%handle conn) (tls-connection-epoch conn) conn)
    (%eps-tls-connection-free h)))

;;; Failures

(defun verify-reason (h)
  "The text of connection H's certificate verification result, or NIL."
  (let* ((buf (make-array 256 :element-type '(unsigned-byte 8)))
         (n (with-shim (%eps-tls-connection-verify-result-string h buf (length buf)))))
    (when (plusp n)
      (sb-ext:octets-to-string buf :external-format '(:utf-8 :replacement #\?)
                                   :end (min n (1- (length buf)))))))

(defun tls-fail (conn result operation)
  "Signal the TLS-ERROR for RESULT, a negative code from a call on CONN.  A
refused certificate carries the verification reason in its detail."
  (let* ((code (- result))
         (detail (last-error-detail result)))
    (when (and (= code +ebadhandle+) (zerop (tls-connection-handle conn)))
      (freed-error "connection" operation))
    (when (or (= code +ecertverify+) (= code +ehostmismatch+))
      (let ((reason (verify-reason (tls-connection-handle conn))))
        (when (and reason (not (search reason (or detail ""))))
          (setf detail (format nil "~A~@[; ~A~]" reason detail)))))
    (error (class-for-code code 'tls-error)
           :code code :operation operation :detail detail)))

(defun tls-usage-error (operation format &rest args)
  (error 'tls-error :code +einval+ :operation operation
                    :detail (apply #'format nil format args)))

;;; Making one

(defun strip-brackets (host)
  (if (and (> (length host) 1)
           (char= (char host 0) #\[)
           (char= (char host (1- (length host))) #\]))
      (subseq host 1 (1- (length host)))
      host))

(defun make-tls-connection (ctx fd &key hostname role timeout session)
  "Make a TLS connection over FD, a connected stream socket, with the
settings of the TLS context CTX.  ROLE, when given, must be CTX's role
(:CLIENT or :SERVER).  HOSTNAME (a client's expected server: a DNS name,
sent as SNI, or an IP literal such as \"127.0.0.1\" or \"[::1]\") is
required when CTX verifies; pass :VERIFY NIL to the context to do without.
TIMEOUT (seconds, NIL for none) is the default :TIMEOUT of the operations on
the connection.  The handshake runs at the first TLS-HANDSHAKE, TLS-SEND or
TLS-RECV.  SESSION (a client's TLS-SESSION, taken from an earlier connection
to the same server with TLS-SESSION) is offered for resumption: see
TLS-SESSION-REUSED-P.  Returns a TLS-CONNECTION; free it with TLS-CONNECTION-FREE, or use
WITH-TLS-CONNECTION.  FD is never closed by this package."
  (check-type ctx tls-context)
  (check-type fd (integer 0 #.(1- (expt 2 31))))
  (check-type hostname (or null string))
  (check-type role (member nil :client :server))
  (check-type timeout (or null (real 0)))
  (check-session-argument session)
  (let ((ctx-role (tls-context-role ctx)))
    (when (and role (not (eq role ctx-role)))
      (tls-usage-error 'make-tls-connection
                       "the context is a ~(~A~) context, not a ~(~A~) one (make it with :role ~S)"
                       ctx-role role role))
    (when (and hostname (eq ctx-role :server))
      (tls-usage-error 'make-tls-connection "a server connection takes no :hostname"))
    (when (and (eq ctx-role :client) (tls-context-verify ctx)
               (or (null hostname) (zerop (length hostname))))
      (tls-usage-error 'make-tls-connection
                       "a verifying client needs the server's name: give :hostname, ~
or make the context with :verify nil (insecure)"))
    (let* ((ch (context-handle ctx 'make-tls-connection))
           ;; The handle and its finalizer in one deferred section: an
           ;; interrupt that arrived during the C call runs as soon as
           ;; interrupts are allowed again, and a throw from it before the
           ;; finalizer existed would lose the handle for good.
           (conn (sb-sys:without-interrupts
                   (let ((h (%eps-tls-connection-new ch fd)))
                     (if (minusp h)
                         h
                         (let ((conn (%make-tls-connection h fd ctx timeout)))
                           (sb-ext:finalize conn (lambda () (with-shim (%eps-tls-connection-free h)))
                                            :dont-save t)
                           conn)))))
           (h (if (integerp conn)
                  (signal-epsilon-error conn 'make-tls-connection 'tls-error)
                  (tls-connection-%handle conn)))
           (ok nil))
      (unwind-protect
           (progn
             (shim-call 'make-tls-connection (%eps-tls-connection-set-nonblocking h 1))
             (when hostname
               (shim-call 'make-tls-connection
                          (%eps-tls-connection-set-hostname h (strip-brackets hostname))))
             (when session
               (offer-session conn session))
             (setf ok t)
             conn)
        (unless ok (tls-connection-free conn))))))

(defun release-tls-connection (conn)
  "The cleanup of WITH-TLS-CONNECTION: send close_notify as a best effort
when the handshake completed, then free CONN.  Never signals."
  (handler-case
      (let ((h (tls-connection-handle conn)))
        (when (and (plusp h)
                   (plusp (with-shim (%eps-tls-connection-version h))))
          (sb-thread:with-mutex ((tls-connection-write-lock conn) :wait-p nil)
            (with-shim (%eps-tls-connection-shutdown h)))))
    (error () nil))
  (handler-case (tls-connection-free conn)
    (error () nil))
  nil)

(defmacro with-tls-connection ((conn ctx fd &key hostname role timeout session) &body body)
  "Bind CONN to a TLS connection over FD made with the context CTX (see
MAKE-TLS-CONNECTION for HOSTNAME, ROLE, TIMEOUT and SESSION), and run BODY.  On every
exit, close_notify is sent (once, without waiting, and only after a
completed handshake), the connection is freed, and nothing is signalled;
FD stays open: its owner closes it."
  `(let ((,conn (make-tls-connection ,ctx ,fd :hostname ,hostname :role ,role
                                              :timeout ,timeout :session ,session)))
     (unwind-protect (progn ,@body)
       (release-tls-connection ,conn))))

;;; Locks

(defmacro with-direction-lock ((lock deadline operation) &body body)
  "Run BODY holding LOCK, one of a connection's two direction locks, waiting
for it no later than DEADLINE (then signal TLS-TIMEOUT for OPERATION)."
  (let ((acquired (gensym "ACQUIRED")) (d (gensym "DEADLINE")))
    `(let ((,acquired nil) (,d ,deadline))
       (multiple-value-prog1
           (sb-thread:with-mutex (,lock :timeout (and ,d (max 0 (/ (- ,d (monotonic-us))
                                                                 1000000))))
             (setf ,acquired t)
             ,@body)
         (unless ,acquired
           (error 'tls-timeout :operation ,operation))))))

;;; Readiness

(declaim (inline fd-nonblocking-p))
(defun fd-nonblocking-p (fd)
  "True when FD is one of the library's descriptors and is in O_NONBLOCK
mode (asked from the library's table: no system call)."
  (= 1 (%eps-fd-nonblocking-p fd)))

(defmacro with-tls-retry ((r call conn fd nonblocking deadline operation
                           &key (done `(>= ,r 0)) on-would-block)
                          &body on-done)
  "WITH-RETRY (the runtime's one retry loop) for CALL, a TLS call on CONN:
a want is a would-block, any other negative result a TLS-ERROR.  Every
connection is non-blocking in C (MAKE-TLS-CONNECTION), where a want means
the socket itself would block: records without data (TLS 1.3 tickets) are
consumed within the call, so no poll is needed to tell the two apart."
  `(with-retry (,r ,call :done ,done :fd ,fd :would-block (tls-want-events ,r)
                         :deadline ,deadline :operation ,operation :class 'tls-error
                         :nonblocking ,nonblocking :on-would-block ,on-would-block
                         :retry nil :fail (tls-fail ,conn ,r ,operation))
     ,@on-done))

(declaim (inline tls-want-events))
(defun tls-want-events (result)
  "The poll events a TLS call's RESULT asks to wait for, or NIL."
  (cond ((= result (- +etlswantread+)) +pollin+)
        ((= result (- +etlswantwrite+)) +pollout+)
        (t nil)))

;;; The handshake

(defun tls-handshake (conn &key (timeout (tls-connection-timeout conn)))
  "Run the TLS handshake of CONN (the client's or the server's side, by its
context's role).  Returns T once it is complete (at once if it already is).
On a blocking fd it waits for the peer, up to TIMEOUT seconds (NIL: no
limit; default: the connection's), then signals TLS-TIMEOUT.  On a
non-blocking fd it returns NIL and :READ or :WRITE when it must wait for the
socket to become readable or writable: call it again then.
Signals TLS-VERIFICATION-ERROR (the reason in the detail: expired,
self-signed, unknown CA), TLS-HOSTNAME-MISMATCH, TLS-HANDSHAKE-ERROR (no
common version or cipher, garbage from the peer), TLS-UNEXPECTED-EOF."
  (check-type conn tls-connection)
  (let ((deadline (deadline timeout))
        (fd (tls-connection-fd conn)))
    (with-direction-lock ((tls-connection-write-lock conn) deadline 'tls-handshake)
      (with-direction-lock ((tls-connection-read-lock conn) deadline 'tls-handshake)
        (let ((nonblocking (fd-nonblocking-p fd)))
          (with-tls-retry (r (with-shim (%eps-tls-connection-handshake
                                         (tls-connection-handle conn)))
                             conn fd nonblocking deadline 'tls-handshake
                             :done (zerop r)
                             :on-would-block (return (values nil (if (= r (- +etlswantread+))
                                                                     :read
                                                                     :write))))
            (return t)))))))

;;; Sending

(defun check-range (sequence start end)
  "Check START and END (NIL: the length) against SEQUENCE; return END."
  (check-type start size)
  (check-type end (or null size))
  (let* ((length (length sequence))
         (end (or end length)))
    (unless (<= end length)
      (error 'type-error :datum end :expected-type `(integer 0 ,length)))
    (unless (<= start end)
      (error 'type-error :datum start :expected-type `(integer 0 ,end)))
    end))

(defun send-octets (conn octets start end timeout)
  (declare (type (simple-array (unsigned-byte 8) (*)) octets)
           (type size start end))
  (when (= start end)
    (return-from send-octets 0))
  (let ((deadline (deadline timeout))
        (fd (tls-connection-fd conn))
        (pos start))
    (declare (type size pos))
    ;; The lock's body is a closure: a RETURN-FROM out of it would cost a
    ;; heap value cell (16 bytes) per call, so the loop's value is the result.
    (with-direction-lock ((tls-connection-write-lock conn) deadline 'tls-send)
      (let ((nonblocking (fd-nonblocking-p fd)))
        (with-tls-retry (r (with-shim
                             ;; Inline call: the SAP is not boxed.
                             (sb-sys:with-pinned-objects (octets)
                               (%eps-tls-connection-write
                                (tls-connection-handle conn)
                                (sb-sys:sap+ (sb-sys:vector-sap octets) pos)
                                (- end pos))))
                           conn fd nonblocking deadline 'tls-send
                           :done (plusp r)
                           :on-would-block (return (if (> pos start) (- pos start) nil)))
          (incf pos r)
          (when (>= pos end) (return (- end start))))))))

(defun tls-send (conn data &key (start 0) end (timeout (tls-connection-timeout conn)))
  "Send DATA on the TLS connection CONN: a string (sent as UTF-8) or a
vector of octets, from START to END (character positions for a string).
On a blocking fd, sends everything, waiting for the socket up to TIMEOUT
seconds (NIL: no limit; default: the connection's), and returns the number
of bytes sent.  On a non-blocking fd, sends what the socket takes now and
returns that number, or NIL when nothing could be sent.  Either way, after a
short count or NIL the next TLS-SEND on CONN must offer the same bytes again,
starting with the first one not sent (OpenSSL's rule); prefer octet vectors
for non-blocking sends.  One thread's TLS-SEND is never interleaved with
another's on the same connection.  Runs the handshake first if needed.
Signals a TLS-ERROR (+EPIPE+ or +ECONNRESET+ when the peer is gone, never
SIGPIPE)."
  (check-type conn tls-connection)
  (etypecase data
    (string
     (let ((end (check-range data start end)))
       (let ((octets (sb-ext:string-to-octets data :external-format :utf-8
                                                   :start start :end end)))
         (send-octets conn octets 0 (length octets) timeout))))
    ((simple-array (unsigned-byte 8) (*))
     (let ((end (check-range data start end)))
       (send-octets conn data start end timeout)))
    ((vector (unsigned-byte 8))
     (let ((end (check-range data start end)))
       (send-octets conn (coerce (subseq data start end) '(simple-array (unsigned-byte 8) (*)))
                    0 (- end start) timeout)))))

;;; Receiving

(defun recv-octets (conn buffer start end timeout)
  (declare (type (simple-array (unsigned-byte 8) (*)) buffer)
           (type size start end))
  (when (= start end)
    (return-from recv-octets 0))
  (let ((deadline (deadline timeout))
        (fd (tls-connection-fd conn)))
    (with-direction-lock ((tls-connection-read-lock conn) deadline 'tls-recv)
      (let ((nonblocking (fd-nonblocking-p fd)))
        (with-tls-retry (r (with-shim
                             ;; Inline call: the SAP is not boxed.
                             (sb-sys:with-pinned-objects (buffer)
                               (%eps-tls-connection-read
                                (tls-connection-handle conn)
                                (sb-sys:sap+ (sb-sys:vector-sap buffer) start)
                                (- end start))))
                           conn fd nonblocking deadline 'tls-recv
                           :on-would-block (return nil))
          (return r))))))

(defun tls-recv-into (conn buffer &key (start 0) end (timeout (tls-connection-timeout conn)))
  "Receive decrypted bytes from the TLS connection CONN into BUFFER, a
(SIMPLE-ARRAY (UNSIGNED-BYTE 8) (*)), between START and END; conses nothing.
Returns the number of bytes stored (> 0); 0 when the peer closed the TLS
session cleanly (close_notify), and also at once for an empty range; NIL
when the fd is non-blocking and nothing is there yet.  On a blocking fd it
waits up to TIMEOUT seconds (NIL: no limit; default: the connection's).
Signals TLS-UNEXPECTED-EOF when the peer closed the socket without
close_notify, another TLS-ERROR on failure."
  (check-type conn tls-connection)
  (check-type buffer (simple-array (unsigned-byte 8) (*)))
  (let ((end (check-range buffer start end)))
    (recv-octets conn buffer start end timeout)))

(defconstant +recv-chunk+ 65536
  "The most TLS-RECV reads at a time (a TLS record holds at most 16 KiB).")

(defun tls-recv (conn size &key (timeout (tls-connection-timeout conn)))
  "Receive up to SIZE decrypted bytes from the TLS connection CONN.  Returns
a fresh octet vector holding what arrived (at most one TLS record's worth);
an empty vector when the peer closed the TLS session cleanly (close_notify),
or when SIZE is 0; NIL when the fd is non-blocking and nothing is there
yet.  On a blocking fd it waits up to TIMEOUT seconds (NIL: no limit;
default: the connection's).  Signals TLS-UNEXPECTED-EOF when the peer
closed the socket without close_notify, another TLS-ERROR on failure."
  (check-type conn tls-connection)
  (check-type size size)
  (if (zerop size)
      (make-array 0 :element-type '(unsigned-byte 8))
      (let* ((buffer (make-array (min size +recv-chunk+) :element-type '(unsigned-byte 8)))
             (n (recv-octets conn buffer 0 (length buffer) timeout)))
        (and n (if (= n (length buffer)) buffer (subseq buffer 0 n))))))

(defun tls-pending (conn)
  "The number of decrypted bytes CONN holds that TLS-RECV returns without
touching the socket.  Poll and epoll do not announce them: after a receive
in an event loop, drain these before waiting on the fd again."
  (check-type conn tls-connection)
  (let ((r (with-shim (%eps-tls-connection-pending (tls-connection-handle conn)))))
    (if (minusp r) (tls-fail conn r 'tls-pending) r)))

;;; Closing

(defun tls-shutdown (conn &key (timeout (tls-connection-timeout conn)))
  "Send close_notify on CONN, telling the peer no more data follows (the
connection can still receive).  Returns T once it is sent; on a
non-blocking fd, NIL when it must wait for the socket (call again).  The
handshake must have completed (else a TLS-ERROR, +EINVAL+).  The fd stays
open; free the connection afterwards (WITH-TLS-CONNECTION does both)."
  (check-type conn tls-connection)
  (let ((deadline (deadline timeout))
        (fd (tls-connection-fd conn)))
    (with-direction-lock ((tls-connection-write-lock conn) deadline 'tls-shutdown)
      (let ((nonblocking (fd-nonblocking-p fd)))
        (with-tls-retry (r (with-shim (%eps-tls-connection-shutdown (tls-connection-handle conn)))
                           conn fd nonblocking deadline 'tls-shutdown
                           :done (plusp r) :on-would-block (return nil))
          (return t))))))
