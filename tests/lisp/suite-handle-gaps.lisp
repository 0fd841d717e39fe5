;;;; SPDX-License-Identifier: MIT
;;;; suite-handle-gaps.lisp - no handle or descriptor lost when an unwinding
;;;; interrupt (INTERRUPT-THREAD with a THROW, or a WITH-TIMEOUT expiry) lands
;;;; between the C library making a handle and the Lisp side registering who
;;;; frees it, or between freeing and forgetting: MAKE-TLS-CONTEXT,
;;;; TLS-CONTEXT-FREE, TLS-SESSION, OCTETS-TO-TLS-SESSION, TLS-SESSION-FREE,
;;;; RESOLVE-HOST.  Each storm is bounded in interrupts and seconds; an
;;;; interrupt that arrives in a deferred C call runs as that call's section
;;;; ends, which is where the windows were.

(in-package #:epsilon.linux.tests)

(def-suite handle-gaps :in epsilon-linux
  :description "No handle or fd leaked by interrupts around handle creation and freeing.")
(in-suite handle-gaps)

(defvar *storm-armed* nil
  "True in a storm's victim while it runs inside the CATCH its interrupts throw to.")

(defun storm-throw ()
  (when *storm-armed* (throw 'storm :interrupted)))

(defun proc-fd-count ()
  "How many descriptors this process has open (all of them, the C
library's or not: glibc's /etc/hosts included)."
  (length (directory "/proc/self/fd/*.*" :resolve-symlinks nil)))

(defun all-counts ()
  "The library's fds and live handles after a GC and its finalizers, and
the process's open descriptors."
  (append (settled-counts) (list (proc-fd-count))))

(defun counts-back-to (before)
  "The counts, retried for up to 2 s until they equal BEFORE: an abandoned
lookup thread or a finalizer may still be finishing."
  (loop with deadline = (+ (get-internal-real-time) (* 2 internal-time-units-per-second))
        for counts = (all-counts)
        until (or (equal counts before) (> (get-internal-real-time) deadline))
        do (sleep 0.05)
        finally (return counts)))

(defun run-storm (work &key (interrupts 600) (seconds 3) (iterations 100000) (seed 1))
  "Call WORK over and over in a victim thread (at most ITERATIONS times,
some calls under a WITH-TIMEOUT of 0.1 to 2 ms) while this thread sends up
to INTERRUPTS unwinding interrupts at random moments, one in flight at a
time (SBCL dies with more than 8 queued); stop after SECONDS.  Returns a
plist: :sent, :calls, :outcomes (an alist), :victim (:finished or
:deadlock)."
  (let* ((done (list nil))
         (box (list 0))
         (lock (sb-thread:make-mutex :name "storm outcomes"))
         (outcomes '())
         (calls 0)
         (rs (sb-ext:seed-random-state seed))
         (vrs (sb-ext:seed-random-state (1+ seed)))
         (victim
           (sb-thread:make-thread
            (lambda ()
              ;; A timer's interrupt that comes after its WITH-TIMEOUT ended
              ;; signals outside the handler below: continue it.
              (handler-bind ((sb-ext:timeout
                               (lambda (c)
                                 (let ((r (find-restart 'continue c)))
                                   (when r (invoke-restart r))))))
                (loop repeat iterations
                      until (car done)
                      do (let* ((limit (when (< (random 1.0 vrs) 0.3)
                                         (+ 0.0001 (random 0.002 vrs))))
                                (o (catch 'storm
                                     (let ((*storm-armed* t))
                                       (handler-case
                                           (progn (if limit
                                                      (sb-ext:with-timeout limit (funcall work))
                                                      (funcall work))
                                                  :completed)
                                         (sb-ext:timeout () :timeout)
                                         (error (e) (princ-to-string e)))))))
                           (incf calls)
                           (sb-thread:with-mutex (lock)
                             (let ((cell (assoc o outcomes :test #'equal)))
                               (if cell (incf (cdr cell)) (push (cons o 1) outcomes)))))))
              :finished)
            :name "handle-gaps victim"))
         (sent 0)
         (deadline (+ (get-internal-real-time) (* seconds internal-time-units-per-second))))
    (unwind-protect
         (loop while (and (< sent interrupts) (< (get-internal-real-time) deadline)
                          (sb-thread:thread-alive-p victim))
               do (when (zerop (car box))
                    (sb-ext:atomic-incf (car box))
                    (if (ignore-errors
                         (sb-thread:interrupt-thread
                          victim (lambda () (sb-ext:atomic-decf (car box)) (storm-throw)))
                         t)
                        (incf sent)
                        (sb-ext:atomic-decf (car box))))
                  ;; Now and then a pause long enough for a slow call (a
                  ;; server context loads three files) to complete.
                  (case (random 16 rs)
                    ((0 1 2 3) nil)
                    ((4 5 6 7) (sb-thread:thread-yield))
                    (8 (sleep 0.02))
                    (t (sleep (random 0.001 rs)))))
      (setf (car done) t))
    (let ((joined (sb-thread:join-thread victim :default :deadlock :timeout 20)))
      (list :sent sent :calls calls :victim joined
            :outcomes (sb-thread:with-mutex (lock) (copy-list outcomes))))))

(defun check-storm (name r before after)
  "The checks of every storm: R from RUN-STORM; BEFORE and AFTER the counts
around it.  The victim finished, the storm landed (calls completed and
were interrupted), nothing unexpected was signalled, the counts are back."
  (let ((outcomes (getf r :outcomes)))
    (format t "~&~(~A~): ~D interrupts, ~D calls; ~S~%" name
            (getf r :sent) (getf r :calls) outcomes)
    (is (eq :finished (getf r :victim)) "the victim: ~S" (getf r :victim))
    (is (plusp (or (cdr (assoc :completed outcomes)) 0)) "no call completed: ~S" outcomes)
    (is (plusp (or (cdr (assoc :interrupted outcomes)) 0)) "no call was interrupted: ~S" outcomes)
    (is (every (lambda (o) (member (car o) '(:completed :interrupted :timeout))) outcomes)
        "unexpected outcomes: ~S" outcomes)
    (is (equal before after)
        "library fds, live handles, process fds: ~S before, ~S after" before after)))

(defmacro storm-test (name (&rest storm-keys) &body work)
  "A test: before the storm, the counts; a storm over WORK; after it, the
victim finished, the storm landed (calls completed and were interrupted),
nothing unexpected was signalled, and the counts are back."
  `(test ,name
     (cert-dir)                         ; made before the counts, not in the storm
     (let* ((before (all-counts))
            (r (run-storm (lambda () ,@work) ,@storm-keys)))
       (check-storm ',name r before (counts-back-to before)))))

;;; MAKE-TLS-CONTEXT and TLS-CONTEXT-FREE

(defvar *server-files* nil)

(storm-test context-storm-leaves-no-handle (:seed 11)
  (epsilon.crypto:tls-context-free
   (apply #'epsilon.crypto:make-tls-context :role :server
          (or *server-files*
              (setf *server-files* (list :cert-file (cert "server.pem") :key-file (cert "server.key")
                                         :ca-file (cert "ca.pem")))))))

(storm-test client-context-storm-leaves-no-handle (:seed 12)
  (epsilon.crypto:tls-context-free (epsilon.crypto:make-tls-context :verify nil)))

(test context-configuration-error-frees-the-handle-at-once
  ;; Counted right after the error, without a GC: the handle is freed by
  ;; MAKE-TLS-CONTEXT itself, not left to the finalizer.
  (dolist (options `((:ciphers "NO-SUCH-CIPHER")
                     (:ciphersuites "NO_SUCH_SUITE")
                     (:ca-file ,(cert "no-such-ca.pem"))
                     (:role :server :cert-file ,(cert "server.pem")
                      :key-file ,(cert "no-such.key"))))
    (let ((before (epsilon.linux:open-handle-count))
          (err (handler-case (progn (apply #'epsilon.crypto:make-tls-context options) nil)
                 (epsilon.crypto:tls-error (e) e))))
      (is (typep err 'epsilon.crypto:tls-error) "~S made a context" options)
      (is (= before (epsilon.linux:open-handle-count))
          "~S: ~D live handles before, ~D after the error"
          options before (epsilon.linux:open-handle-count)))))

;;; Sessions: TLS-SESSION, OCTETS-TO-TLS-SESSION, TLS-SESSION-FREE

(tls-test session-storm-leaves-no-handle
  (let ((results
          (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                             :max-version :tls-v1.2)
              (:clients 1)
              (wait-close-handler (constantly t))
            (call-client
             port
             (lambda (c)
               (read-bang c)
               (let* ((octets (let ((s (epsilon.crypto:tls-session c)))
                                (prog1 (epsilon.crypto:tls-session-to-octets s)
                                  (epsilon.crypto:tls-session-free s))))
                      (before (all-counts))
                      (r (run-storm (lambda ()
                                      (epsilon.crypto:tls-session-free (epsilon.crypto:tls-session c))
                                      (epsilon.crypto:tls-session-free
                                       (epsilon.crypto:octets-to-tls-session octets)))
                                    :seed 13))
                      (after (counts-back-to before)))
                 (list r before after)))))))
    (destructuring-bind (r before after) results
      (check-storm 'session-storm-leaves-no-handle r before after))))

;;; RESOLVE-HOST (loopback only: a literal and /etc/hosts' localhost)

(storm-test resolve-storm-leaves-no-handle (:seed 14)
  (epsilon.net.core:resolve-host "127.0.0.1" :port 80)
  (epsilon.net.core:resolve-host "localhost"))

(test resolve-host-still-resolves
  (is (equal "127.0.0.1:80"
             (epsilon.net.core:address-string
              (first (epsilon.net.core:resolve-host "127.0.0.1" :port 80)))))
  (is (member "127.0.0.1:0"
              (mapcar #'epsilon.net.core:address-string
                      (epsilon.net.core:resolve-host "localhost" :family epsilon.net.core:+af-inet+))
              :test #'string=))
  (let ((before (epsilon.linux:open-handle-count)))
    (is (typep (handler-case (epsilon.net.core:resolve-host "localhost" :numeric t)
                 (epsilon.net.core:socket-error (e) e))
               'epsilon.net.core:socket-error)
        "a name with :numeric t resolved")
    (is (= before (epsilon.linux:open-handle-count)))))

;;; WITH-SOCKET, WITH-SERVER-SOCKET, WITH-CLIENT-SOCKET: the fd the macro
;;; opens is closed on every exit, even one that comes between the open
;;; and the macro's cleanup being in place.

(storm-test socket-macros-storm-leaves-no-descriptor (:seed 21)
  (epsilon.net.core:with-socket (s epsilon.net.core:+af-inet+ epsilon.net.core:+sock-dgram+ 0)
    s)
  (epsilon.net.core:with-server-socket (l :host "127.0.0.1" :backlog 4)
    (epsilon.net.core:with-client-socket
        (c :host "127.0.0.1" :timeout 1
           :port (epsilon.net.core:address-port (epsilon.net.core:socket-local-address l)))
      c)))
