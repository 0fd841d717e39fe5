;;;; SPDX-License-Identifier: MIT
;;;; suite-interrupt-storm.lisp - 10,000 INTERRUPT-THREAD calls, and
;;;; WITH-TIMEOUT expiries, at random moments into threads doing socket and
;;;; TLS I/O on loopback: blocking connect, send and recv, TLS handshakes,
;;;; tls-send and tls-recv, socket stream reads.  Afterwards: every thread
;;;; joined in bounded time (no deadlock), no descriptor or handle leaked,
;;;; every connection completed (its bytes intact) or ended by a condition
;;;; or by the interrupt's throw, and a fresh round trip works.  The seed is
;;;; printed; STORM_SEED (environment) replays its random choices (sizes,
;;;; kinds, pauses; not the threads' timing).  Interrupts are sent one in
;;;; flight per thread: SBCL aborts ("maximum interrupt nesting depth (8)
;;;; exceeded") when a backlog of them runs nested.

(defpackage #:epsilon.linux.tests.storm
  (:use #:cl #:epsilon.sys.epoll #:epsilon.net.core #:epsilon.crypto)
  (:import-from #:epsilon.linux.tests #:cert))

(in-package #:epsilon.linux.tests.storm)

(5am:def-suite interrupt-storm :in epsilon.linux.tests::epsilon-linux
  :description "Interrupts at random moments into socket and TLS I/O.")

(5am:in-suite interrupt-storm)

(defparameter *interrupts* 10000 "How many INTERRUPT-THREAD calls the storm makes.")
(defparameter *victims* 4 "How many client threads it interrupts.")
(defparameter *servers* 3 "Server threads per listener (plain, TLS).")
(defparameter *storm-seconds* 40 "The storm stops after this long even if not all were sent.")

(defvar *armed* nil
  "True in a client thread while it runs inside the CATCH its interrupts throw to.")

(defun throw-if-armed ()
  "The interrupt: unwind the client out of what it is doing, unless it is
between operations (then the interrupt is ignored)."
  (when *armed* (throw 'interrupted :interrupted)))

(defun octets (n &optional (byte 0))
  (make-array n :element-type '(unsigned-byte 8) :initial-element byte))

(defun pattern (n seed)
  (let ((v (octets n)))
    (dotimes (i n v) (setf (aref v i) (logand #xff (+ seed (* i 7)))))))

;;; The servers (never interrupted): echo, over plain TCP and over TLS.

(defun echo-plain (fd)
  (let ((buf (octets 65536)))
    (loop for n = (socket-recv-into fd buf :timeout 5)
          until (zerop n)
          do (socket-send-all fd buf :end n :timeout 5))))

(defun echo-tls (ctx fd)
  (with-tls-connection (c ctx fd :timeout 5)
    (tls-handshake c)
    (let ((buf (octets 65536)))
      (loop for n = (tls-recv-into c buf)
            until (zerop n)
            do (tls-send c buf :end n)))))

(defun serve (listener stop handler)
  "Accept on LISTENER until STOP's car is true; HANDLER serves each fd.
Every failure of a session is the client's doing (it was interrupted)."
  (loop until (car stop)
        do (let ((fd (handler-case (socket-accept listener :timeout 0.2 :address nil)
                       (socket-timeout () nil))))
             (when fd
               (unwind-protect (handler-case (funcall handler fd) (error () nil))
                 (socket-close fd))))))

;;; The clients' operations, each on a fresh connection.

(defmacro with-connected ((fd port) &body body)
  "FD, a TCP socket connected to 127.0.0.1:PORT, for BODY; closed on every
exit.  It is made and closed with interrupts deferred (only the connect and
BODY take them), so that a throw cannot land between the two and lose it."
  `(let ((,fd nil))
     (sb-sys:without-interrupts
       (unwind-protect
            (progn (setf ,fd (socket-create +af-inet+ +sock-stream+ 0))
                   (sb-sys:with-local-interrupts
                     (socket-connect ,fd (make-inet-address "127.0.0.1" ,port) :timeout 5)
                     ,@body))
         (when ,fd (socket-close ,fd))))))

(defun recv-exactly (fd buf n)
  (let ((got 0))
    (loop while (< got n)
          do (let ((k (socket-recv-into fd buf :start got :end n :timeout 5)))
               (when (zerop k) (return))
               (incf got k)))
    got))

(defun op-plain (port rs)
  "Connect, send, receive the echo: true when the bytes came back intact."
  (let* ((n (1+ (random 200000 rs)))
         (out (pattern n (random 256 rs)))
         (in (octets n)))
    (with-connected (fd port)
      (socket-send-all fd out :timeout 5)
      (and (= n (recv-exactly fd in n)) (equalp out in)))))

(defun op-tls (port ctx rs &key handshake-only)
  (let* ((n (1+ (random 60000 rs)))
         (out (pattern n (random 256 rs)))
         (in (octets n)))
    (with-connected (fd port)
      (with-tls-connection (c ctx fd :hostname "localhost" :timeout 5)
        (tls-handshake c)
        (or handshake-only
            (progn
              (tls-send c out)
              (let ((got 0))
                (loop while (< got n)
                      do (let ((k (tls-recv-into c in :start got)))
                           (when (zerop k) (return))
                           (incf got k)))
                (tls-shutdown c :timeout 5)
                (and (= got n) (equalp out in)))))))))

(defun op-stream (port rs)
  "A line over a socket stream, read back with READ-LINE."
  (let ((line (make-string (1+ (random 3000 rs)) :initial-element #\x)))
    (with-connected (fd port)
      (with-socket-stream (s fd :timeout 5 :close-fd nil)
        (write-line line s)
        (finish-output s)
        (string= line (read-line s))))))

(defun client-op (kind plain-port tls-port ctx rs)
  "One operation, armed for interrupts, maybe under WITH-TIMEOUT.  Its
outcome: :COMPLETED, :WRONG (bytes not intact), :INTERRUPTED, :TIMEOUT,
(:CONDITION c) for a library condition or (:UNEXPECTED c) for anything else."
  (let ((limit (when (< (random 1.0 rs) 0.3) (+ 0.001 (random 0.05 rs)))))
    (catch 'interrupted
      (let ((*armed* t))
        (handler-case
            (flet ((run ()
                     (ecase kind
                       (:plain (op-plain plain-port rs))
                       (:stream (op-stream plain-port rs))
                       (:tls (op-tls tls-port ctx rs))
                       (:handshake (op-tls tls-port ctx rs :handshake-only t)))))
              (if (if limit (sb-ext:with-timeout limit (run)) (run)) :completed :wrong))
          (sb-ext:timeout () :timeout)
          ((or epsilon-error stream-error) (c) (list :condition c))
          (error (c) (list :unexpected c)))))))

(defun outcome-key (o) (if (consp o) (first o) o))

(defun run-storm (seed)
  "The storm with SEED; a plist of what happened."
  (let* ((stop (list nil))
         (sctx (make-tls-context :role :server :cert-file (cert "server.pem")
                                 :key-file (cert "server.key")))
         (cctx (make-tls-context :ca-file (cert "ca.pem")))
         (outcomes (make-hash-table))
         (unexpected '())
         (lock (sb-thread:make-mutex :name "storm outcomes"))
         (sent 0))
    (unwind-protect
         (with-server-socket (plain :host "127.0.0.1")
           (with-server-socket (tls :host "127.0.0.1")
             (let* ((plain-port (address-port (socket-local-address plain)))
                    (tls-port (address-port (socket-local-address tls)))
                    (servers (append
                              (loop repeat *servers*
                                    collect (sb-thread:make-thread
                                             (lambda () (serve plain stop #'echo-plain))
                                             :name "storm plain server"))
                              (loop repeat *servers*
                                    collect (sb-thread:make-thread
                                             (lambda () (serve tls stop (lambda (fd) (echo-tls sctx fd))))
                                             :name "storm tls server"))))
                    (done (list nil))
                    (victims
                      (loop for i below *victims*
                            collect (let ((rs (sb-ext:seed-random-state (+ seed i 1))))
                                      (sb-thread:make-thread
                                       (lambda ()
                                         (loop until (car done)
                                               do (let* ((kind (nth (random 4 rs) '(:plain :tls :stream :handshake)))
                                                         (o (client-op kind plain-port tls-port cctx rs)))
                                                    (sb-thread:with-mutex (lock)
                                                      (incf (gethash (outcome-key o) outcomes 0))
                                                      (when (member (outcome-key o) '(:unexpected :wrong))
                                                        (push (list kind o) unexpected)))))
                                         :finished)
                                       :name (format nil "storm client ~D" i)))))
                    (pending (coerce (loop repeat *victims* collect (list 0)) 'vector))
                    (rs (sb-ext:seed-random-state seed))
                    (deadline (+ (get-internal-real-time)
                                 (* *storm-seconds* internal-time-units-per-second))))
               (unwind-protect
                    (loop while (and (< sent *interrupts*) (< (get-internal-real-time) deadline))
                          do (let* ((i (random *victims* rs))
                                    (v (nth i victims))
                                    (box (svref pending i)))
                               ;; One interrupt in flight per thread: SBCL dies
                               ;; ("maximum interrupt nesting depth (8) exceeded")
                               ;; when a backlog of them runs nested, each inside
                               ;; the unwinding of the one before.
                               (when (zerop (car box))
                                 (sb-ext:atomic-incf (car box))
                                 (if (ignore-errors
                                      (sb-thread:interrupt-thread
                                       v (lambda () (sb-ext:atomic-decf (car box)) (throw-if-armed)))
                                      t)
                                     (incf sent)
                                     (sb-ext:atomic-decf (car box))))
                               ;; Random moments: most within a millisecond, some longer.
                               (case (random 4 rs)
                                 (0 nil)
                                 (1 (sb-thread:thread-yield))
                                 (t (sleep (random 0.002 rs))))))
                 (setf (car done) t)
                 (let* ((joined (mapcar (lambda (v) (sb-thread:join-thread v :default :deadlock :timeout 60))
                                        victims))
                        ;; The image still works: a fresh round trip of each kind.
                        (round-trip
                          (handler-case (list (op-plain plain-port (sb-ext:seed-random-state 1))
                                              (op-tls tls-port cctx (sb-ext:seed-random-state 2))
                                              (op-stream plain-port (sb-ext:seed-random-state 3)))
                            (error (e) e))))
                   (setf (car stop) t)
                   (let ((server-joins (mapcar (lambda (s) (sb-thread:join-thread s :default :deadlock :timeout 60))
                                               servers)))
                     (return-from run-storm
                       (list :sent sent :victims joined :servers server-joins
                             :outcomes (loop for k being the hash-keys of outcomes using (hash-value v)
                                             collect (cons k v))
                             :unexpected unexpected
                             :round-trip round-trip))))))))
      (setf (car stop) t)
      (tls-context-free cctx)
      (tls-context-free sctx))))

(5am:test interrupt-storm-leaves-nothing-behind
  (let* ((seed (let ((env (sb-ext:posix-getenv "STORM_SEED")))
                 (if (and env (plusp (length env)))
                     (parse-integer env)
                     (random 1000000 (make-random-state t)))))
         (before (epsilon.linux.tests:settled-counts))
         (t0 (get-internal-real-time)))
    (format t "~&interrupt storm: seed ~D (STORM_SEED=~D replays its choices)~%" seed seed)
    (let* ((r (run-storm seed))
           (outcomes (getf r :outcomes))
           ;; A few tries: the conservative stack scan may keep a dropped
           ;; connection (freed by its finalizer, no leak) alive for one GC.
           (after (loop repeat 5
                        for counts = (epsilon.linux.tests:settled-counts)
                        until (equal counts before)
                        do (sleep 0.2)
                        finally (return counts))))
      (format t "~&interrupt storm: ~D interrupts in ~,1F s; outcomes ~S~%"
              (getf r :sent) (/ (- (get-internal-real-time) t0) internal-time-units-per-second)
              outcomes)
      (5am:is (= *interrupts* (getf r :sent)) "only ~D interrupts were sent" (getf r :sent))
      (5am:is (every (lambda (x) (eq x :finished)) (getf r :victims))
              "client threads: ~S (seed ~D)" (getf r :victims) seed)
      (5am:is (notany (lambda (x) (eq x :deadlock)) (getf r :servers))
              "server threads: ~S (seed ~D)" (getf r :servers) seed)
      (5am:is (null (getf r :unexpected)) "seed ~D: ~{~S~^; ~}" seed (getf r :unexpected))
      ;; The storm did land: operations completed, were interrupted, and timed out.
      (dolist (k '(:completed :interrupted :timeout))
        (5am:is (plusp (or (cdr (assoc k outcomes)) 0)) "no operation ended ~S: ~S" k outcomes))
      (5am:is (equal '(t t t) (getf r :round-trip)) "the round trip after the storm: ~S" (getf r :round-trip))
      (5am:is (equal before after) "fds and handles ~S before, ~S after (seed ~D)" before after seed))))
