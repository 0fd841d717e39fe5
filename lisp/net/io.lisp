;;;; SPDX-License-Identifier: MIT
;;;; io.lisp - sending and receiving: the blocking model of DESIGN section 4.
;;;;
;;;; A caller that asked not to block (+MSG-DONTWAIT+ in its flags, or an
;;;; O_NONBLOCK descriptor) makes a non-blocking call and gets NIL when it
;;;; would block.  A blocking caller sleeps in the kernel's call, as a C
;;;; program does (one system call per wake-up; the GC lands there).
;;;;
;;;; Receives sleep there with interrupts DEFERRED (base.lisp, DEFERRED): a
;;;; signal that came as the kernel's recv completed would otherwise run its
;;;; interrupt on the return to Lisp, and one that unwinds there would lose
;;;; the bytes the call had taken from the socket.  The sleep still ends at
;;;; a signal: before each sleep the socket's SO_RCVTIMEO is made at most
;;;; +KERNEL-SLEEP-MS+ (100 ms) or the time left (ARM-KERNEL-WAIT; set once
;;;; for a loop of calls), and the kernel never restarts a socket call with
;;;; such a timeout after a signal handler: it fails with EINTR (signal(7)).
;;;; A pending interrupt then runs before the next attempt while the call has
;;;; taken nothing; once it has taken bytes the call returns them and the
;;;; interrupt stays pending until the thread next lets interrupts in.  A
;;;; +MSG-WAITALL+ receive lets interrupts run between its attempts and, if
;;;; one unwinds, holds what it had taken for the descriptor's next receive.
;;;; A signal that comes between the last check and the kernel's sleep is
;;;; seen when that sleep ends, at most 100 ms later.
;;;;
;;;; Sends sleep in the kernel with interrupts enabled (PLAIN-IO), so that
;;;; interrupts land in the sleep at once; an interrupt that unwinds out of
;;;; one as it completes abandons the count of what it sent (docs/net.md).
;;;; With a :TIMEOUT the kernel's own SO_SNDTIMEO bounds that sleep: it is
;;;; set to at most the time left, and set again only when it would be
;;;; longer (base.lisp), so calls with the same :TIMEOUT set it once; in the
;;;; last millisecond the call is non-blocking and the rest is waited in
;;;; poll.  A blocking call that reports would-block (the kernel timeout
;;;; passed, or one the user set) waits in poll until the deadline and calls
;;;; again.  bench/README.md has the measurements behind sleeping in the
;;;; kernel.

(in-package #:epsilon.net.core.internal)

(defconstant +max-chunk+ (1- (expt 2 31)))

(defmacro offset-sap (vector offset)
  "The address of VECTOR's element OFFSET, for a :POINTER argument of a
generated function (every one taking a pointer is inline), where it stays
unboxed: nothing is allocated.  The caller holds VECTOR pinned."
  `(sb-sys:sap+ (sb-sys:vector-sap ,vector) ,offset))

(defmacro plain-io ((cflags fd option nonblocking deadline flags) form)
  "Evaluate FORM, a plain socket call on FD that passes CFLAGS: sleeping in
the kernel when KERNEL-WAIT-P allows it (CFLAGS is FLAGS; OPTION is the
direction's kernel timeout, +SO-RCVTIMEO+ or +SO-SNDTIMEO+), else as a
non-blocking call with interrupts deferred (CFLAGS adds +MSG-DONTWAIT+).
The kernel sleep is made bare, so that interrupt-thread, WITH-TIMEOUT and
the GC's stop signal land in it: a plain socket call's C frame holds no
handle, lock or OpenSSL state (DESIGN section 4).  Decided at each attempt:
a loop's later attempts have less time left."
  (let ((k (gensym "KERNEL")))
    `(let ((,k (kernel-wait-p ,fd ,option ,nonblocking ,deadline)))
       (if ,k
           (let ((,cflags ,flags))
             ;; One left pending by a receive (DEFERRED) runs before the
             ;; sleep, which it could not end: nothing has moved yet.
             (when sb-sys:*interrupt-pending*
               (sb-sys:without-interrupts nil))
             ,form)
           (let ((,cflags (logior ,flags +msg-dontwait+))) (shim ,form))))))

(defun %send (fd octets start end flags deadline wait-all operation)
  "Send OCTETS[START,END) on FD.  WAIT-ALL: always wait until everything is
sent.  Otherwise a non-blocking caller makes one attempt (NIL on
would-block) and a blocking one waits until everything is sent.  Returns
the count sent, or NIL.  A timeout signals SOCKET-TRANSFER-TIMEOUT with the
count sent."
  (declare (type octets octets) (type size start end) (type int32 flags)
           (type fd fd))
  (let* ((nonblocking (and (not wait-all) (caller-nonblocking-p fd flags)))
         (sent 0))
    (declare (type size sent))
    (with-retry (r (plain-io (cflags fd +so-sndtimeo+ nonblocking deadline flags)
                     (sb-sys:with-pinned-objects (octets)
                       (%eps-send fd (offset-sap octets (+ start sent))
                                  (min +max-chunk+ (- end start sent)) cflags)))
                 :fd fd :events +pollout+ :deadline deadline :operation operation
                 :class 'socket-error :nonblocking nonblocking
                 :on-would-block (return (if (plusp sent) sent nil))
                 :on-timeout (transfer-timeout operation sent (- end start)))
      (incf sent r)
      (when (or nonblocking (>= (+ start sent) end))
        (return sent)))))

;;; Receives (the header says why they are so).

(declaim (inline expired-p))
(defun expired-p (deadline)
  (and deadline (>= (monotonic-us) deadline)))

(declaim (inline wait-ms))
(defun wait-ms (deadline)
  "The poll timeout of one wait of a blocking receive: the ms left, at most
+KERNEL-SLEEP-MS+, so that a pending interrupt is seen at least that often."
  (let ((ms (remaining-ms deadline)))
    (if (or (minusp ms) (> ms +kernel-sleep-ms+)) +kernel-sleep-ms+ ms)))

(defmacro recv-attempts ((result cflags call
                          &key fd flags deadline nonblocking interruptible
                               (taken nil) (on-unwind nil))
                         &body body)
  "The attempts of a receive on FD, to be run inside DEFERRED.  Each binds
RESULT to CALL, which passes CFLAGS: FLAGS when the call may sleep in the
kernel (a blocking caller; SO_RCVTIMEO armed first), else FLAGS with
+MSG-DONTWAIT+.  A result that is not negative runs the body, which ends
with (RETURN (VALUES :DONE value)) or falls through to call again.
Returns :DONE and NIL on would-block when NONBLOCKING; :ERROR and the
negative code; :TIMEOUT and NIL once DEADLINE has passed.  Before each
attempt a pending interrupt runs when INTERRUPTIBLE; when TAKEN is true
(bytes were taken already) and it unwinds, ON-UNWIND runs first."
  (let ((kernel (gensym "KERNEL")) (w (gensym "W")) (ok (gensym "OK")))
    `(loop
       (when (and ,interruptible sb-sys:*interrupt-pending*)
         (if ,taken
             (let ((,ok nil))
               (unwind-protect (progn (run-pending) (setf ,ok t))
                 (unless ,ok ,on-unwind)))
             (run-pending)))
       (let* ((,kernel (and (not ,nonblocking) (arm-kernel-wait ,fd ,deadline)))
              (,result (let ((,cflags (if ,kernel ,flags (logior ,flags +msg-dontwait+))))
                         ,call)))
         (declare (type (signed-byte 64) ,result))
         (cond ((>= ,result 0) ,@body)
               ((= ,result (- +eintr+)))
               ((/= ,result (- +eagain+)) (return (values :error ,result)))
               (,nonblocking (return (values :done nil)))
               (,kernel                 ; one kernel sleep ended
                (when (expired-p ,deadline)
                  (return (values :timeout nil))))
               (t (let ((,w (epsilon.linux.bindings:%eps-fd-poll
                             ,fd +pollin+ (wait-ms ,deadline))))
                    (cond ((plusp ,w))
                          ((or (zerop ,w) (= ,w (- +eintr+)))
                           (when (expired-p ,deadline)
                             (return (values :timeout nil))))
                          (t (return (values :error ,w)))))))))))

(defun %recv (fd buffer start end flags deadline nonblocking interruptible)
  "Receive into BUFFER[START,END) from FD, inside DEFERRED.  Returns :DONE
and the count (0 at end of stream, NIL on would-block when NONBLOCKING),
:ERROR and the negative code, or :TIMEOUT and the count that arrived.
Bytes held for FD (base.lisp) come first.  With +MSG-WAITALL+ (and no
+MSG-PEEK+) a blocking caller gets the whole range, less only at end of
stream; an interrupt that unwinds out of it between its attempts, or a
failure after some bytes came, holds what it had taken for FD's next
receive."
  (declare (type octets buffer) (type size start end) (type int32 flags)
           (type fd fd))
  (let* (;; The kernel drops MSG_WAITALL from a non-blocking call, and even a
         ;; blocking one returns early when a signal lands or a kernel
         ;; timeout passes: the loop goes on until the range is full.
         (peek (logtest flags +msg-peek+))
         (wait-all (and (not nonblocking) (logtest flags +msg-waitall+) (not peek)))
         (pos start))
    (declare (type size pos))
    (when (held-p fd)
      (incf pos (take-held fd buffer pos end peek))
      (when (or (not wait-all) (>= pos end))
        (return-from %recv (values :done (- pos start)))))
    (multiple-value-bind (status value)
        (recv-attempts (r cflags (sb-sys:with-pinned-objects (buffer)
                                   (%eps-recv fd (offset-sap buffer pos) (- end pos) cflags))
                          :fd fd :flags flags :deadline deadline :nonblocking nonblocking
                          :interruptible interruptible
                          :taken (> pos start) :on-unwind (hold-bytes fd buffer start pos))
          (incf pos r)
          (when (or (not wait-all) (zerop r) (>= pos end))
            (return (values :done (- pos start)))))
      (case status
        (:done (values :done (or value (if (> pos start) (- pos start) nil))))
        (:timeout (values :timeout (- pos start)))
        (t (when (> pos start)
             (hold-bytes fd buffer start pos))
           (values :error value))))))

(defmacro receiving ((nonblocking) &body body)
  "Run BODY, which calls %RECV, with interrupts deferred: for a blocking
caller, an interrupt that came meanwhile stays pending (DEFERRED); for a
non-blocking one (no sleep) it runs as BODY ends, as after SHIM."
  `(multiple-value-prog1 (deferred ,@body)
     (when (and ,nonblocking sb-sys:*interrupt-pending*)
       (sb-sys:without-interrupts nil))))

(defun recv-failed (status value operation)
  "Signal the failure of a receive whose %RECV gave STATUS (not :DONE) and
VALUE (:ERROR: the code; :TIMEOUT: the condition, or NIL for a plain
SOCKET-TIMEOUT)."
  (if (eq status :error)
      (signal-epsilon-error value operation 'socket-error)
      (if value (error value) (signal-timeout operation 'socket-error))))

(defmacro recv-result (status value operation)
  "What a receive returns after RECEIVING gave STATUS and VALUE: VALUE when
done, at once (these are the only instructions between the end of the
deferred section and the return, where an interrupt that unwinds still
loses the count), else the failure, signalled out of line."
  `(if (eq ,status :done) ,value (recv-failed ,status ,value ,operation)))

(defmacro with-flags-and-keys ((flags options &rest keys) &body body)
  "Parse OPTIONS, an optional integer FLAGS then the keyword arguments KEYS."
  `(let ((,flags (if (and ,options (not (keywordp (first ,options)))) (pop ,options) 0)))
     (destructuring-bind (&key ,@keys) ,options
       ,@body)))

;;; SOCKET-SEND and SOCKET-RECV have the documented lambda lists
;;; (fd data &optional flags &key ...); they parse their arguments
;;; themselves so that (socket-send fd data :end 10) works too, without
;;; flags, which &OPTIONAL followed by &KEY would take as FLAGS = :END.

(defun socket-send (fd data &rest options)
  "Send DATA (a string, sent as UTF-8, or an octet vector), or its part from
START to END, on connected socket FD, with FLAGS (+MSG-DONTWAIT+,
+MSG-MORE+, ...; +MSG-NOSIGNAL+ is implied: a closed peer is a SOCKET-ERROR
+EPIPE+ or +ECONNRESET+, never SIGPIPE).  Returns the number of bytes sent.
A blocking caller waits (up to TIMEOUT seconds, then SOCKET-TIMEOUT, a
SOCKET-TRANSFER-TIMEOUT with the count already sent) until all of it is
sent; a non-blocking one (+MSG-DONTWAIT+ or an O_NONBLOCK FD)
makes one attempt: a count, possibly short, or NIL when nothing could be
sent.  A blocking send sleeps in the kernel with interrupts enabled: an
interrupt that unwinds out of it as the kernel completes it leaves the
count of what went out unknown (docs/net.md, Blocking model; a TIMEOUT
never does).  For strings, START and END index characters.
Lambda list: (FD DATA &OPTIONAL (FLAGS 0) &KEY (START 0) END TIMEOUT); FLAGS
may be left out before the keywords."
  (declare (dynamic-extent options))
  (with-flags-and-keys (flags options (start 0) end timeout)
    (check-type fd fd)
    (check-data data)
    (check-flags flags)
    (let ((deadline (deadline timeout)))
      (multiple-value-bind (octets start end) (as-octets data start end)
        (%send fd octets start end flags deadline nil 'socket-send)))))

(setf (sb-kernel:%fun-lambda-list #'socket-send)
      '(fd data &optional (flags 0) &key (start 0) end timeout))

(defun socket-send-all (fd data &key (start 0) end (flags 0) timeout)
  "Send all of DATA (a string as UTF-8, or an octet vector; from START to
END) on FD, waiting for the socket as needed even when FD is non-blocking,
up to TIMEOUT seconds in all (then SOCKET-TIMEOUT, a SOCKET-TRANSFER-TIMEOUT
with the count already sent).  Returns the number of bytes sent."
  (check-type fd fd)
  (check-data data)
  (check-flags flags)
  (let ((deadline (deadline timeout)))
    (multiple-value-bind (octets start end) (as-octets data start end)
      (%send fd octets start end (logandc2 flags +msg-dontwait+) deadline t 'socket-send-all))))

(defun socket-recv (fd size &rest options)
  "Receive up to SIZE bytes from socket FD and return them as a fresh octet
vector; an empty vector at end of stream; NIL when nothing is there and the
caller asked not to block (FLAGS include +MSG-DONTWAIT+, or FD is
O_NONBLOCK).  A blocking caller waits up to TIMEOUT seconds (NIL: no limit),
then SOCKET-TIMEOUT.  FLAGS: +MSG-DONTWAIT+, +MSG-PEEK+, +MSG-WAITALL+.
With +MSG-WAITALL+ a blocking caller gets all SIZE bytes, fewer only at end
of stream; when TIMEOUT passes first, the SOCKET-TIMEOUT is a
SOCKET-TRANSFER-TIMEOUT holding the bytes that did arrive
(SOCKET-TIMEOUT-OCTETS).  (+MSG-PEEK+ with +MSG-WAITALL+ and a TIMEOUT
returns once anything is there.)  A blocking caller sleeps in the kernel
with interrupts deferred: an interrupt (INTERRUPT-THREAD, WITH-TIMEOUT)
runs while nothing has been taken, else after the call has returned its
bytes, at the thread's next interrupt point; with +MSG-WAITALL+ one that
unwinds between attempts leaves what had arrived for the next receive on
FD.  Nothing is lost inside the call; a caller that must not lose the count
to an interrupt after the return takes it inside WITHOUT-INTERRUPTS with
the call in ALLOW-WITH-INTERRUPTS (docs/net.md, Blocking model).
Lambda list: (FD SIZE &OPTIONAL (FLAGS 0) &KEY TIMEOUT); FLAGS may be left
out before the keywords."
  (declare (dynamic-extent options))
  (with-flags-and-keys (flags options timeout)
    (check-type fd fd)
    (check-type size size)
    (check-flags flags)
    (check-type timeout (or null (real 0)))
    (let ((nonblocking (caller-nonblocking-p fd flags))
          (interruptible (interruptible-p)))
      (multiple-value-bind (status value)
            ;; Everything that may cons is inside: an interrupt that unwound
            ;; at the result's allocation would lose the bytes in BUFFER, and
            ;; in SBCL 2.2.9 a GC that comes with interrupts deferred but
            ;; allowed (a caller's ALLOW-WITH-INTERRUPTS) dies at a signal in
            ;; its POST-GC ("pending handler changed in gc", seen in
            ;; suite-nolose).
            (receiving (nonblocking)
              (let ((buffer (make-array size :element-type '(unsigned-byte 8)))
                    (deadline (deadline timeout)))
                (multiple-value-bind (status n)
                    (%recv fd buffer 0 size flags deadline nonblocking interruptible)
                  (case status
                    (:done (values :done (cond ((null n) nil)
                                               ((>= n size) buffer)
                                               (t (subseq buffer 0 n)))))
                    (:timeout (values :timeout (transfer-timeout-condition
                                                'socket-recv n size (subseq buffer 0 n))))
                    (t (values status n))))))
        (recv-result status value 'socket-recv)))))

(setf (sb-kernel:%fun-lambda-list #'socket-recv)
      '(fd size &optional (flags 0) &key timeout))

(defun socket-recv-into (fd buffer &key (start 0) end (flags 0) timeout)
  "Receive into BUFFER (a simple octet vector) from START to END, without
allocating.  Returns the number of bytes received, 0 at end of stream (or
when START = END), NIL when nothing is there and the caller asked not to
block.  Blocking, interrupts, TIMEOUT and +MSG-WAITALL+ (the whole range)
as for SOCKET-RECV; after a SOCKET-TRANSFER-TIMEOUT the SOCKET-TIMEOUT-COUNT bytes
that arrived are in BUFFER from START on."
  (check-type fd fd)
  (check-type buffer octets)
  (check-flags flags)
  (check-type timeout (or null (real 0)))
  (let* ((end (check-bounds buffer start end))
         (nonblocking (caller-nonblocking-p fd flags))
         (interruptible (interruptible-p)))
    (multiple-value-bind (status value)
        ;; The deadline too is computed inside: see SOCKET-RECV.
        (receiving (nonblocking)
          (multiple-value-bind (status n)
              (%recv fd buffer start end flags (deadline timeout) nonblocking interruptible)
            (if (eq status :timeout)
                (values :timeout (transfer-timeout-condition
                                  'socket-recv-into n (- end start)
                                  (subseq buffer start (+ start n))))
                (values status n))))
      (recv-result status value 'socket-recv-into))))

;;; Gather sends

(defconstant +max-iov+ 1024)

(defun call-pinned (vectors thunk)
  "Call THUNK with every vector of the simple vector VECTORS pinned."
  (declare (type simple-vector vectors) (type function thunk))
  (labels ((pin (i)
             (if (< i (length vectors))
                 (let ((v (svref vectors i)))
                   (sb-sys:with-pinned-objects (v) (pin (1+ i))))
                 (funcall thunk))))
    (pin 0)))

(defun socket-send-vector (fd buffers &key (flags 0) timeout)
  "Send BUFFERS, a sequence of at most 1024 octet vectors or strings (sent as
UTF-8), in order on FD with one system call per attempt (gather I/O).
Returns the number of bytes sent.  A blocking caller waits (up to TIMEOUT
seconds; then a SOCKET-TRANSFER-TIMEOUT with the count sent) until
everything is sent; a non-blocking one makes one attempt: a count, possibly
short, or NIL when nothing could be sent."
  (check-type fd fd)
  (check-type buffers sequence)
  (check-flags flags)
  (let ((count (length buffers)))
    (unless (<= count +max-iov+)
      (error 'type-error :datum buffers
                         :expected-type `(satisfies ,(format nil "a sequence of at most ~D buffers"
                                                             +max-iov+))))
    (map nil #'check-data buffers)
    (let* ((deadline (deadline timeout))
           (vectors (map 'simple-vector
                         (lambda (b) (if (typep b 'octets) b (values (as-octets b 0 nil))))
                         buffers))
           (total (reduce #'+ vectors :key #'length))
           (iov (make-array (* 2 count) :element-type '(unsigned-byte 64)))
           (nonblocking (caller-nonblocking-p fd flags))
           (first 0)
           (sent 0))
      (declare (type fixnum first sent))
      (call-pinned
       vectors
       (lambda ()
         (loop for v across vectors
               for i from 0 by 2
               do (setf (aref iov i) (sb-sys:sap-int (sb-sys:vector-sap v))
                        (aref iov (1+ i)) (length v)))
         (with-retry (r (plain-io (cflags fd +so-sndtimeo+ nonblocking deadline flags)
                          (sb-sys:with-pinned-objects (iov)
                            (%eps-sendv fd (offset-sap iov (* 16 first))
                                        (- count first) cflags)))
                      :fd fd :events +pollout+ :deadline deadline
                      :operation 'socket-send-vector :class 'socket-error
                      :nonblocking nonblocking :on-would-block (return)
                      :on-timeout (transfer-timeout 'socket-send-vector sent total))
           (incf sent r)
           (when (or nonblocking (>= sent total))
             (return))
           ;; Skip what went out; advance into a partly sent buffer.
           (loop while (and (< first count) (>= r (aref iov (1+ (* 2 first)))))
                 do (decf r (aref iov (1+ (* 2 first))))
                    (incf first))
           (when (plusp r)
             (incf (aref iov (* 2 first)) r)
             (decf (aref iov (1+ (* 2 first))) r)))))
      (if (and nonblocking (zerop sent) (plusp total)) nil sent))))

;;; Datagrams

(defun socket-send-to (fd data address &key (flags 0) (start 0) end timeout)
  "Send DATA (a string as UTF-8, or an octet vector; from START to END) as
one datagram on FD to ADDRESS, a SOCKET-ADDRESS.  Returns the number of
bytes sent; NIL when it would block and the caller asked not to block.  A
blocking caller waits up to TIMEOUT seconds."
  (check-type fd fd)
  (check-data data)
  (check-type address socket-address)
  (check-flags flags)
  (let* ((deadline (deadline timeout))
         (nonblocking (caller-nonblocking-p fd flags))
         (aoctets (socket-address-octets address))
         (alength (socket-address-length address)))
    (multiple-value-bind (octets start end) (as-octets data start end)
      (with-retry (r (plain-io (cflags fd +so-sndtimeo+ nonblocking deadline flags)
                       (sb-sys:with-pinned-objects (octets)
                         (%eps-sendto fd (offset-sap octets start)
                                      (- end start) cflags aoctets alength)))
                   :fd fd :events +pollout+ :deadline deadline
                   :operation 'socket-send-to :class 'socket-error
                   :nonblocking nonblocking :on-would-block (return nil))
        (return r)))))

(defun socket-recv-from (fd size &key (flags 0) timeout)
  "Receive one datagram of up to SIZE bytes on FD.  Returns a fresh octet
vector and the sender's SOCKET-ADDRESS (NIL when there is none, as on a
connected stream); NIL when nothing is there and the caller asked not to
block.  A blocking caller waits up to TIMEOUT seconds; interrupts as for
SOCKET-RECV."
  (check-type fd fd)
  (check-type size size)
  (check-flags flags)
  (check-type timeout (or null (real 0)))
  (let* ((nonblocking (caller-nonblocking-p fd flags))
         (interruptible (interruptible-p)))
    (multiple-value-bind (status value)
        (receiving (nonblocking)
          ;; One datagram per call: nothing is taken before the attempt
          ;; that ends the loop, so a pending interrupt may always run.
          ;; What may cons is inside, as in SOCKET-RECV.
          (let ((deadline (deadline timeout))
                (buffer (make-array size :element-type '(unsigned-byte 8)))
                (abuffer (new-address-buffer))
                (cell (make-array 1 :element-type '(unsigned-byte 32))))
              (recv-attempts (r cflags (progn
                                         (setf (aref cell 0) (length abuffer))
                                         (%eps-recvfrom fd buffer size cflags abuffer cell))
                              :fd fd :flags flags :deadline deadline
                              :nonblocking nonblocking :interruptible interruptible)
                (let ((n (min r size)))
                  (return (values :done
                                  (cons (if (= n size) buffer (subseq buffer 0 n))
                                        (if (plusp (aref cell 0))
                                            (%make-socket-address abuffer (aref cell 0))
                                            nil))))))))
      (let ((result (recv-result status value 'socket-recv-from)))
        (and result (values (car result) (cdr result)))))))
