;;;; SPDX-License-Identifier: MIT
;;;; suite-misuse.lisp - every exported function of epsilon.sys.epoll,
;;;; epsilon.net.core and epsilon.crypto called the wrong way: wrong types,
;;;; NIL, negative and huge sizes, closed fds, fds the library does not own
;;;; (0, 1, 2: never closed, written or blocked on), freed contexts and
;;;; connections, calls in the wrong order.  Each case must signal an ERROR
;;;; (not a STORAGE-CONDITION, not a hang: every case runs under a timeout)
;;;; or, for the cases marked :HARMLESS, return or signal without effect.
;;;;
;;;; The cases are a table keyed by the exported symbol; MISUSE-TABLE-COVERS-
;;;; EVERY-EXPORT fails when an exported fbound symbol has no entry, so a new
;;;; export cannot escape.  The cases are forms run by SBCL's interpreter
;;;; (sb-eval): the compiler would reject the wrong constant arguments at
;;;; compile time, and we want them to reach the functions at run time.
;;;; MISUSE-SUITE-SURVIVES-IN-A-CHILD runs the whole table in a child SBCL
;;;; (stdin /dev/null, stdout a pipe): a crash kills the child, which the
;;;; parent sees by its exit code and output.

(defpackage #:epsilon.linux.tests.misuse
  (:use #:cl #:epsilon.sys.epoll #:epsilon.net.core #:epsilon.crypto)
  (:export #:run-misuse-child))

(in-package #:epsilon.linux.tests.misuse)

(5am:def-suite misuse :in epsilon.linux.tests::epsilon-linux
  :description "Misuse of every exported function: errors, never crashes.")

(defvar *cases* (make-hash-table :test 'eq)
  "Exported symbol -> list of (KIND FORM), KIND :ERROR or :HARMLESS.")

(defmacro misuse (symbol &body cases)
  "Record the misuse CASES of SYMBOL: forms that must signal an ERROR, or
(:HARMLESS FORM) for forms that may return or signal but must not crash,
hang or touch what they do not own."
  `(setf (gethash ',symbol *cases*)
         ',(mapcar (lambda (c)
                     (if (and (consp c) (eq (car c) :harmless))
                         (list :harmless (second c))
                         (list :error c)))
                   cases)))

;;; Fixtures.  Everything a case makes is recorded and released after it.

(defvar *cleanups* '())

(defun track (kind object)
  (push (cons kind object) *cleanups*)
  object)

(defun release-all ()
  (loop for (kind . object) in (shiftf *cleanups* '())
        do (ignore-errors
            (ecase kind
              (:fd (socket-close object))
              (:epfd (epoll-close object))
              (:ctx (tls-context-free object))
              (:conn (tls-connection-free object))
              (:stream (close object :abort t))))))

(defun pair (&key nonblocking)
  "A connected Unix stream pair; both ends released after the case."
  (multiple-value-bind (a b) (socket-pair :nonblocking nonblocking)
    (track :fd a)
    (track :fd b)
    (values a b)))

(defun closed-fd ()
  "The number of a socket that was just closed."
  (multiple-value-bind (a b) (socket-pair)
    (socket-close b)
    (socket-close a)
    a))

(defun unowned-fds ()
  "The standard descriptors: not the library's.  Cases pass them only to
calls that refuse them or cannot block or write."
  '(0 1 2))

(defun socket-fd-p (fd)
  "True when FD is open and a socket (fstat)."
  (multiple-value-bind (ok dev ino mode) (sb-unix:unix-fstat fd)
    (declare (ignore dev ino))
    (and ok (= (logand mode #o170000) #o140000))))

(defun std-fds-safe-p ()
  "True when none of 0, 1, 2 is a socket: socket calls on them then fail
with ENOTSOCK (a socket would be acted upon)."
  (notany #'socket-fd-p (unowned-fds)))

(defun epfd () (track :epfd (epoll-create1)))
(defun closed-epfd () (let ((e (epoll-create1))) (epoll-close e) e))
(defun evfd () (track :epfd (make-eventfd)))
(defun tfd () (track :epfd (make-timerfd)))

(defun listener ()
  (let ((fd (track :fd (socket-create +af-inet+ +sock-stream+ 0))))
    (socket-bind fd (make-inet-address "127.0.0.1" 0))
    (socket-listen fd 4)
    fd))

(defun tcp-socket () (track :fd (socket-create +af-inet+ +sock-stream+ 0)))

(defun ctx (&rest options)
  (track :ctx (apply #'make-tls-context (or options '(:verify nil)))))

(defun freed-ctx ()
  (let ((c (make-tls-context :verify nil)))
    (tls-context-free c)
    c))

(defun conn (&key nonblocking (peer :open))
  "A client TLS connection (no verification) over one end of a socket pair;
the other end is returned as the second value, or closed with PEER :CLOSED."
  (multiple-value-bind (a b) (pair :nonblocking nonblocking)
    (when (eq peer :closed) (socket-shutdown b))
    (values (track :conn (make-tls-connection (ctx) a :timeout 2)) b)))

(defun freed-conn ()
  (let ((c (conn)))
    (tls-connection-free c)
    c))

(defun event () (make-epoll-event :events +epollin+ :data 1))
(defun octets (n) (make-array n :element-type '(unsigned-byte 8)))
(defun addr () (make-inet-address "127.0.0.1" 1))

(defun with-nul (string) (format nil "~A~Cjunk" string (code-char 0)))

(defun missing-file () "/nonexistent/epsilon-misuse/file.pem")

(defun an-error ()
  (make-condition 'socket-error :code +econnrefused+ :operation 'misuse))

;;; The table

(misuse epoll-create1
  (epoll-create1 nil) (epoll-create1 "0") (epoll-create1 -1) (epoll-create1 (expt 2 31))
  (epoll-create1 (expt 2 62)) (epoll-create1 12345))

(misuse epoll-create
  (epoll-create nil) (epoll-create 0) (epoll-create -1) (epoll-create (expt 2 31))
  (epoll-create (expt 2 62)) (epoll-create 1.5))

(misuse epoll-close
  (epoll-close nil) (epoll-close -1) (epoll-close (expt 2 31)) (epoll-close (expt 2 62))
  (epoll-close (closed-epfd)) (epoll-close 0) (epoll-close 1) (epoll-close 2)
  (let ((e (epoll-create1))) (epoll-close e) (epoll-close e))
  ;; A socket is not epoll's to close... but it is the library's: closing it
  ;; is allowed.  A descriptor nobody made is refused.
  (epoll-close 1000000))

(misuse with-epoll
  (with-epoll (e nil) e) (with-epoll (e -1) e) (with-epoll (e (expt 2 62)) e)
  (with-epoll (e 7) e)
  ;; Closing it inside is a documented misuse: the cleanup then reports it.
  (with-epoll (e) (epoll-close e)))

(misuse epoll-ctl
  (epoll-ctl nil +epoll-ctl-add+ 0 (event)) (epoll-ctl (epfd) nil 0 (event))
  (epoll-ctl (epfd) 99 (pair) (event)) (epoll-ctl (epfd) +epoll-ctl-add+ -1 (event))
  (epoll-ctl (epfd) +epoll-ctl-add+ (pair) nil) (epoll-ctl (epfd) +epoll-ctl-add+ (pair) 5)
  (epoll-ctl (closed-epfd) +epoll-ctl-add+ (pair) (event))
  (epoll-ctl (epfd) +epoll-ctl-add+ (closed-fd) (event))
  (epoll-ctl (epfd) +epoll-ctl-mod+ (pair) (event))
  (epoll-ctl (epfd) +epoll-ctl-del+ (pair) nil)
  (let ((e (epfd))) (epoll-ctl e +epoll-ctl-add+ e (event)))
  (epoll-ctl (pair) +epoll-ctl-add+ (pair) (event))
  (epoll-ctl 0 +epoll-ctl-add+ (pair) (event))
  (epoll-ctl (expt 2 31) +epoll-ctl-add+ 0 (event))
  (epoll-ctl (epfd) +epoll-ctl-add+ (expt 2 62) (event)))

(misuse add-event
  (add-event nil (pair) +epollin+) (add-event (epfd) nil +epollin+)
  (add-event (epfd) (pair) nil) (add-event (epfd) (pair) -1)
  (add-event (epfd) (pair) (expt 2 32)) (add-event (epfd) (pair) +epollin+ -1)
  (add-event (epfd) (pair) +epollin+ (expt 2 64)) (add-event (epfd) (pair) +epollin+ "x")
  (add-event (closed-epfd) (pair) +epollin+) (add-event (epfd) (closed-fd) +epollin+)
  (let ((e (epfd)) (p (pair))) (add-event e p +epollin+) (add-event e p +epollin+))
  (add-event (pair) (pair) +epollin+) (add-event 1 (pair) +epollin+)
  (add-event (epfd) (expt 2 31) +epollin+))

(misuse modify-event
  (modify-event nil (pair) +epollin+) (modify-event (epfd) nil +epollin+)
  (modify-event (epfd) (pair) nil) (modify-event (epfd) (pair) +epollin+)
  (modify-event (closed-epfd) (pair) +epollin+) (modify-event (epfd) (closed-fd) +epollin+)
  (modify-event (epfd) (pair) +epollin+ -5) (modify-event 2 (pair) +epollin+))

(misuse delete-event
  (delete-event nil (pair)) (delete-event (epfd) nil) (delete-event (epfd) (pair))
  (delete-event (closed-epfd) (pair)) (delete-event (epfd) (closed-fd))
  (delete-event (epfd) -1) (delete-event (expt 2 62) 0) (delete-event 0 (pair)))

(misuse epoll-wait
  (epoll-wait nil 1 0) (epoll-wait (epfd) nil 0) (epoll-wait (epfd) -1 0)
  (epoll-wait (epfd) 0 0) (epoll-wait (epfd) (expt 2 31) 0) (epoll-wait (epfd) (expt 2 62) 0)
  (epoll-wait (epfd) 1 -2) (epoll-wait (epfd) 1 "x") (epoll-wait (epfd) 1 (expt 2 62))
  (epoll-wait (closed-epfd) 1 0) (epoll-wait (pair) 1 0) (epoll-wait 0 1 0)
  ;; Slots that hold no event get a fresh one: harmless.
  (:harmless (let ((e (epfd)) (p (pair))) (add-event e p +epollout+) (epoll-wait e (vector 1 2) nil 0)))
  (epoll-wait (epfd) (vector) nil 0)
  (epoll-wait (epfd) "abc" nil 0) (epoll-wait (epfd) (make-array 2) 5 0)
  (epoll-wait (epfd) (make-array 2) -1 0))

(misuse wait-for-events
  (wait-for-events nil 1 0) (wait-for-events (epfd) -1 0) (wait-for-events (epfd) 0 0)
  (wait-for-events (epfd) (expt 2 62) 0) (wait-for-events (epfd) 1 -7)
  (wait-for-events (closed-epfd) 1 0) (wait-for-events 1 1 0)
  (wait-for-events (evfd) 1 0))

(misuse make-event-buffer
  (make-event-buffer nil) (make-event-buffer -1) (make-event-buffer 0)
  (make-event-buffer (expt 2 31)) (make-event-buffer (expt 2 62)) (make-event-buffer 1.0))

(misuse event-buffer-p
  (:harmless (event-buffer-p nil)) (:harmless (event-buffer-p 5)))

(misuse event-buffer-size
  (event-buffer-size nil) (event-buffer-size 5) (event-buffer-size (make-epoll-event)))

(misuse do-events
  (do-events ((d e) nil (make-event-buffer 1) 0) (list d e))
  (do-events ((d e) (epfd) nil 0) (list d e))
  (do-events ((d e) (epfd) (make-event-buffer 1) -5) (list d e))
  (do-events ((d e) (closed-epfd) (make-event-buffer 1) 0) (list d e))
  (do-events ((d e) 0 (make-event-buffer 1) 0) (list d e)))

(misuse make-epoll-event
  (make-epoll-event :events nil) (make-epoll-event :events -1)
  (make-epoll-event :events (expt 2 32)) (make-epoll-event :data -1)
  (make-epoll-event :data (expt 2 64)) (make-epoll-event :data "x")
  (make-epoll-event :bogus 1) (make-epoll-event :events))

(misuse epoll-event-p
  (:harmless (epoll-event-p nil)) (:harmless (epoll-event-p (make-epoll-data :fd 1))))

(misuse epoll-event-events (epoll-event-events nil) (epoll-event-events 7)
  (epoll-event-events (make-epoll-data :fd 1)))
(misuse epoll-event-data (epoll-event-data nil) (epoll-event-data "x"))

(misuse make-epoll-data
  (make-epoll-data :fd -1) (make-epoll-data :fd (expt 2 31)) (make-epoll-data :u32 -1)
  (make-epoll-data :u32 (expt 2 32)) (make-epoll-data :u64 (expt 2 64))
  (make-epoll-data :ptr -1) (make-epoll-data :fd "0") (make-epoll-data :nope 1))

(misuse epoll-data-p (:harmless (epoll-data-p nil)) (:harmless (epoll-data-p (event))))
(misuse epoll-data-fd (epoll-data-fd nil) (epoll-data-fd (event)) (epoll-data-fd 3))
(misuse epoll-data-u32 (epoll-data-u32 nil) (epoll-data-u32 (event)))
(misuse epoll-data-u64 (epoll-data-u64 nil) (epoll-data-u64 "x"))
(misuse epoll-data-ptr (epoll-data-ptr nil) (epoll-data-ptr 1.0))

(misuse epoll-event-readable-p (epoll-event-readable-p nil) (epoll-event-readable-p "x")
  (epoll-event-readable-p -1))
(misuse epoll-event-writable-p (epoll-event-writable-p nil) (epoll-event-writable-p 1.5))
(misuse epoll-event-error-p (epoll-event-error-p nil) (epoll-event-error-p (make-epoll-data)))
(misuse epoll-event-hangup-p (epoll-event-hangup-p nil) (epoll-event-hangup-p :x))

(misuse make-eventfd
  (make-eventfd :initial -1) (make-eventfd :initial (expt 2 32))
  (make-eventfd :initial (expt 2 62)) (make-eventfd :initial nil) (make-eventfd :nope t))

(misuse eventfd-signal
  (eventfd-signal nil) (eventfd-signal (evfd) 0) (eventfd-signal (evfd) -1)
  (eventfd-signal (evfd) (1- (expt 2 64))) (eventfd-signal (evfd) (expt 2 64))
  (eventfd-signal (evfd) nil) (eventfd-signal (tfd)) (eventfd-signal (pair))
  (eventfd-signal (closed-fd)) (eventfd-signal 0) (eventfd-signal 1) (eventfd-signal 2)
  (eventfd-signal (epfd)) (eventfd-signal (expt 2 62)))

(misuse eventfd-drain
  (eventfd-drain nil) (eventfd-drain -1) (eventfd-drain (tfd)) (eventfd-drain (pair))
  (eventfd-drain (closed-fd)) (eventfd-drain 0) (eventfd-drain 1) (eventfd-drain 2)
  (eventfd-drain (expt 2 31)))

(misuse with-eventfd
  (with-eventfd (e :initial -1) e) (with-eventfd (e :initial (expt 2 62)) e)
  (with-eventfd (e :initial "1") e))

(misuse make-timerfd
  (make-timerfd :clock nil) (make-timerfd :clock :sideways) (make-timerfd :clock 1)
  (make-timerfd :nope 1))

(misuse timerfd-arm
  (timerfd-arm nil 1) (timerfd-arm (tfd) -1) (timerfd-arm (tfd) nil)
  (timerfd-arm (tfd) (expt 2 62)) (timerfd-arm (tfd) 1 -1) (timerfd-arm (tfd) 1 (expt 2 62))
  (timerfd-arm (tfd) #c(1 1)) (timerfd-arm (evfd) 1) (timerfd-arm (pair) 1)
  (timerfd-arm (closed-fd) 1) (timerfd-arm 0 1) (timerfd-arm 1 1) (timerfd-arm 2 1))

(misuse timerfd-read
  (timerfd-read nil) (timerfd-read (evfd)) (timerfd-read (pair)) (timerfd-read (closed-fd))
  (timerfd-read 0) (timerfd-read 1) (timerfd-read 2) (timerfd-read -3))

(misuse with-timerfd
  (with-timerfd (e :clock :nope) e) (with-timerfd (e :clock nil) e))

;;; epsilon.net.core

(misuse socket-create
  (socket-create nil +sock-stream+ 0) (socket-create +af-inet+ nil 0)
  (socket-create +af-inet+ +sock-stream+ nil) (socket-create 12345 +sock-stream+ 0)
  (socket-create +af-inet+ 12345 0) (socket-create +af-inet+ +sock-stream+ 9999)
  (socket-create (expt 2 31) +sock-stream+ 0) (socket-create -1 -1 -1)
  (socket-create +af-inet+ (expt 2 62) 0) (socket-create +af-inet+ +sock-dgram+ +ipproto-tcp+))

(misuse socket-pair
  (socket-pair :type nil) (socket-pair :type 12345) (socket-pair :type (expt 2 62))
  (socket-pair :type -1) (socket-pair :nope t))

(misuse socket-bind
  (socket-bind nil (addr)) (socket-bind (tcp-socket) nil) (socket-bind (tcp-socket) "127.0.0.1")
  (socket-bind (closed-fd) (make-inet-address "127.0.0.1" 0))
  (socket-bind (tcp-socket) (make-unix-address "@x"))
  (let ((s (tcp-socket))) (socket-bind s (make-inet-address "127.0.0.1" 0))
    (socket-bind s (make-inet-address "127.0.0.1" 0)))
  (socket-bind -1 (addr)) (socket-bind (expt 2 62) (addr))
  (socket-bind (epfd) (make-inet-address "127.0.0.1" 0))
  (and (std-fds-safe-p) (socket-bind 0 (make-inet-address "127.0.0.1" 0))))

(misuse socket-listen
  (socket-listen nil 1) (socket-listen (tcp-socket) -1) (socket-listen (tcp-socket) nil)
  (socket-listen (tcp-socket) (expt 2 31)) (socket-listen (tcp-socket) (expt 2 62))
  (socket-listen (closed-fd) 1) (socket-listen (pair) 1) (socket-listen (epfd) 1)
  (socket-listen (socket-create-udp) 1)
  (and (std-fds-safe-p) (socket-listen 0 1)))

(defun socket-create-udp () (track :fd (socket-create +af-inet+ +sock-dgram+ 0)))

(misuse socket-accept
  (socket-accept nil) (socket-accept -1) (socket-accept (closed-fd))
  ;; Accept on a socket that does not listen: EINVAL, not a wait.
  (socket-accept (pair) :timeout 1) (socket-accept (tcp-socket) :timeout 1)
  (socket-accept (listener) :timeout -1) (socket-accept (listener) :timeout "1")
  (socket-accept (epfd)) (socket-accept 0) (socket-accept 1) (socket-accept 2)
  ;; A listener with nothing pending: the timeout, not a hang.
  (socket-accept (listener) :timeout 0.05))

(misuse socket-connect
  (socket-connect nil (addr)) (socket-connect (tcp-socket) nil)
  (socket-connect (tcp-socket) "127.0.0.1:1") (socket-connect (closed-fd) (addr))
  (socket-connect (tcp-socket) (addr) :timeout -1)
  (socket-connect (tcp-socket) (make-unix-address "@epsilon-misuse-nobody"))
  (socket-connect (listener) (addr)) (socket-connect (pair) (addr))
  (socket-connect (epfd) (addr))
  (and (std-fds-safe-p) (socket-connect 0 (addr) :timeout 1))
  ;; Refused: loopback port 1 has no listener.
  (socket-connect (tcp-socket) (make-inet-address "127.0.0.1" 1) :timeout 5))

(misuse socket-finish-connect
  (socket-finish-connect nil) (socket-finish-connect -1) (socket-finish-connect (closed-fd))
  (socket-finish-connect (epfd)) (socket-finish-connect (expt 2 31))
  (and (std-fds-safe-p) (socket-finish-connect 0)))

(misuse socket-shutdown
  (socket-shutdown nil) (socket-shutdown (pair) 7) (socket-shutdown (pair) :sideways)
  (socket-shutdown (pair) nil) (socket-shutdown (closed-fd)) (socket-shutdown (tcp-socket))
  (socket-shutdown (epfd)) (socket-shutdown (pair) (expt 2 62))
  (and (std-fds-safe-p) (socket-shutdown 1)))

(misuse socket-close
  (socket-close nil) (socket-close -1) (socket-close (closed-fd)) (socket-close 0)
  (socket-close 1) (socket-close 2) (socket-close (expt 2 31)) (socket-close 1000000)
  (multiple-value-bind (a b) (socket-pair) (socket-close b) (socket-close a) (socket-close a)))

(misuse set-socket-nonblocking
  (set-socket-nonblocking nil) (set-socket-nonblocking -1) (set-socket-nonblocking (closed-fd))
  (set-socket-nonblocking 0) (set-socket-nonblocking 1 nil) (set-socket-nonblocking 2 t)
  (set-socket-nonblocking (expt 2 62)))

(misuse socket-nonblocking-p
  (socket-nonblocking-p nil) (socket-nonblocking-p (closed-fd)) (socket-nonblocking-p 0)
  (socket-nonblocking-p 1) (socket-nonblocking-p 2) (socket-nonblocking-p -1))

(misuse socket-wait
  (socket-wait nil :input) (socket-wait (pair) :sideways) (socket-wait (pair) nil)
  (socket-wait (pair) :input :timeout -1) (socket-wait (closed-fd) :input :timeout 0)
  (socket-wait -1 :output)
  ;; Poll on a standard descriptor, never waiting: harmless.
  (:harmless (socket-wait 0 :input :timeout 0))
  (:harmless (socket-wait 1 :output :timeout 0)))

(misuse socket-send
  (socket-send nil "x") (socket-send (pair) nil) (socket-send (pair) 42)
  (socket-send (pair) #(1 2 300)) (socket-send (pair) "x" :start -1)
  (socket-send (pair) "x" :end 5) (socket-send (pair) "abc" :start 2 :end 1)
  (socket-send (pair) "x" :start (expt 2 62)) (socket-send (pair) "x" -1)
  (socket-send (pair) "x" (expt 2 40)) (socket-send (pair) "x" :timeout -1)
  (socket-send (pair) "x" :bogus 1) (socket-send (pair) "x" :start)
  (socket-send (closed-fd) "x") (socket-send (tcp-socket) "x" :timeout 1)
  (socket-send (listener) "x") (socket-send (epfd) "x")
  ;; Send after close.
  (multiple-value-bind (a b) (socket-pair) (socket-close b) (socket-close a)
    (socket-send a "x"))
  ;; The peer is gone: EPIPE, never SIGPIPE.
  (multiple-value-bind (a b) (socket-pair) (track :fd a) (socket-close b)
    (socket-send a "x"))
  (and (std-fds-safe-p) (socket-send 1 "x" +msg-dontwait+)))

(misuse socket-send-all
  (socket-send-all nil "x") (socket-send-all (pair) nil) (socket-send-all (pair) "x" :start -1)
  (socket-send-all (pair) "x" :end (expt 2 31)) (socket-send-all (pair) "x" :flags nil)
  (socket-send-all (closed-fd) "x") (socket-send-all (pair) "x" :timeout -1)
  (and (std-fds-safe-p) (socket-send-all 2 "x" :timeout 1)))

(misuse socket-send-vector
  (socket-send-vector nil (list "x")) (:harmless (socket-send-vector (pair) nil))
  (socket-send-vector (pair) 5) (socket-send-vector (pair) (list "x" 5))
  (socket-send-vector (pair) (list "x" nil))
  (socket-send-vector (pair) (make-list 1025 :initial-element "x"))
  (socket-send-vector (pair) (list "x") :flags -1) (socket-send-vector (closed-fd) (list "x"))
  (and (std-fds-safe-p) (socket-send-vector 1 (list "x") :flags +msg-dontwait+)))

(misuse socket-recv
  (socket-recv nil 1) (socket-recv (pair) nil) (socket-recv (pair) -1)
  (socket-recv (pair) (expt 2 31)) (socket-recv (pair) (expt 2 62)) (socket-recv (pair) 1.5)
  (socket-recv (pair) 1 -1) (socket-recv (pair) 1 :timeout -1) (socket-recv (pair) 1 :nope 2)
  (socket-recv (closed-fd) 1) (socket-recv (listener) 1) (socket-recv (epfd) 1)
  (socket-recv (tcp-socket) 1 :timeout 1)
  ;; Nothing comes: the timeout, not a hang.
  (socket-recv (pair) 1 :timeout 0.05)
  (and (std-fds-safe-p) (socket-recv 0 1 +msg-dontwait+)))

(misuse socket-recv-into
  (socket-recv-into nil (octets 1)) (socket-recv-into (pair) nil)
  (socket-recv-into (pair) "abc") (socket-recv-into (pair) (make-array 4))
  (socket-recv-into (pair) (make-array 4 :element-type '(unsigned-byte 8) :adjustable t))
  (socket-recv-into (pair) (octets 4) :start 5) (socket-recv-into (pair) (octets 4) :end 5)
  (socket-recv-into (pair) (octets 4) :start 3 :end 2)
  (socket-recv-into (pair) (octets 4) :start -1) (socket-recv-into (pair) (octets 4) :end (expt 2 62))
  (socket-recv-into (closed-fd) (octets 4)) (socket-recv-into (pair) (octets 4) :timeout 0.05)
  (and (std-fds-safe-p) (socket-recv-into 0 (octets 4) :flags +msg-dontwait+)))

(misuse socket-send-to
  (socket-send-to nil "x" (addr)) (socket-send-to (socket-create-udp) nil (addr))
  (socket-send-to (socket-create-udp) "x" nil) (socket-send-to (socket-create-udp) "x" "addr")
  (socket-send-to (socket-create-udp) "x" (addr) :start 9)
  (socket-send-to (socket-create-udp) (octets (expt 2 17)) (addr))
  (socket-send-to (socket-create-udp) "x" (make-unix-address "@epsilon-misuse-nobody"))
  (socket-send-to (closed-fd) "x" (addr)) (socket-send-to (epfd) "x" (addr))
  (and (std-fds-safe-p) (socket-send-to 1 "x" (addr) :flags +msg-dontwait+)))

(misuse socket-recv-from
  (socket-recv-from nil 1) (socket-recv-from (socket-create-udp) -1)
  (socket-recv-from (socket-create-udp) (expt 2 31)) (socket-recv-from (socket-create-udp) nil)
  (socket-recv-from (socket-create-udp) 1 :flags (expt 2 40))
  (socket-recv-from (closed-fd) 1) (socket-recv-from (epfd) 1)
  (socket-recv-from (socket-create-udp) 1 :timeout 0.05)
  (and (std-fds-safe-p) (socket-recv-from 0 1 :flags +msg-dontwait+)))

(misuse set-socket-option
  (set-socket-option nil +sol-socket+ +so-reuseaddr+ 1)
  (set-socket-option (tcp-socket) nil +so-reuseaddr+ 1)
  (set-socket-option (tcp-socket) +sol-socket+ nil 1)
  (set-socket-option (tcp-socket) +sol-socket+ +so-reuseaddr+ "yes")
  (set-socket-option (tcp-socket) +sol-socket+ +so-reuseaddr+ (expt 2 31))
  (set-socket-option (tcp-socket) +sol-socket+ +so-linger+ -1)
  (set-socket-option (tcp-socket) +sol-socket+ +so-linger+ (expt 2 62))
  (set-socket-option (tcp-socket) +sol-socket+ +so-rcvtimeo+ -1)
  (set-socket-option (tcp-socket) +sol-socket+ +so-rcvtimeo+ (expt 2 62))
  (set-socket-option (tcp-socket) 9999 9999 1)
  (set-socket-option (closed-fd) +sol-socket+ +so-reuseaddr+ 1)
  (set-socket-option (epfd) +sol-socket+ +so-reuseaddr+ 1)
  (and (std-fds-safe-p) (set-socket-option 0 +sol-socket+ +so-reuseaddr+ 1)))

(misuse get-socket-option
  (get-socket-option nil +sol-socket+ +so-type+) (get-socket-option (tcp-socket) nil +so-type+)
  (get-socket-option (tcp-socket) +sol-socket+ (expt 2 40))
  (get-socket-option (tcp-socket) 9999 9999) (get-socket-option (closed-fd) +sol-socket+ +so-type+)
  (get-socket-option (epfd) +sol-socket+ +so-linger+)
  (get-socket-option (epfd) +sol-socket+ +so-rcvtimeo+)
  (and (std-fds-safe-p) (get-socket-option 1 +sol-socket+ +so-type+)))

(misuse socket-address-p (:harmless (socket-address-p nil)) (:harmless (socket-address-p "x")))

(misuse make-inet-address
  (make-inet-address nil 1) (make-inet-address "127.0.0.1" nil) (make-inet-address "127.0.0.1" -1)
  (make-inet-address "127.0.0.1" 65536) (make-inet-address "127.0.0.1" (expt 2 62))
  (make-inet-address "localhost" 1) (make-inet-address "300.1.1.1" 1) (make-inet-address "" 1)
  (make-inet-address (make-string 100000 :initial-element #\1) 1)
  (make-inet-address (with-nul "127.0.0.1") 1) (make-inet-address 'x 1)
  (make-inet-address "::1" 1))

(misuse make-inet6-address
  (make-inet6-address nil 1) (make-inet6-address "::1" -1) (make-inet6-address "::1" 70000)
  (make-inet6-address "::1" 1 :scope-id -1) (make-inet6-address "::1" 1 :scope-id (expt 2 32))
  (make-inet6-address "::g" 1) (make-inet6-address "[::1]" 1)
  (make-inet6-address (with-nul "::1") 1) (make-inet6-address "127.0.0.1" 1)
  (make-inet6-address (make-string 100000 :initial-element #\:) 1))

(misuse make-unix-address
  (make-unix-address nil) (make-unix-address 5) (make-unix-address "")
  (make-unix-address (make-string 108 :initial-element #\a))
  (make-unix-address (make-string 100000 :initial-element #\a))
  (make-unix-address (with-nul "/tmp/epsilon-misuse"))
  (make-unix-address "x" :nope t))

(misuse address-string (address-string nil) (address-string "127.0.0.1"))
(misuse address-host (address-host nil) (address-host 5))
(misuse address-family (address-family nil) (address-family (event)))
(misuse address-port (address-port nil) (address-port "x"))

(misuse socket-local-address
  (socket-local-address nil) (socket-local-address -1) (socket-local-address (closed-fd))
  (socket-local-address (epfd)) (socket-local-address (expt 2 62))
  (and (std-fds-safe-p) (socket-local-address 0)))

(misuse socket-peer-address
  (socket-peer-address nil) (socket-peer-address (closed-fd)) (socket-peer-address (tcp-socket))
  (socket-peer-address (listener)) (socket-peer-address (epfd))
  (and (std-fds-safe-p) (socket-peer-address 1)))

(misuse resolve-host
  (resolve-host nil) (resolve-host 5) (resolve-host "127.0.0.1" :port -1)
  (resolve-host "127.0.0.1" :port 70000) (resolve-host "127.0.0.1" :family nil)
  (resolve-host "127.0.0.1" :family 12345 :numeric t)
  (resolve-host "127.0.0.1" :type 12345 :numeric t)
  (resolve-host "not an address" :numeric t) (resolve-host "" :numeric t)
  (resolve-host (with-nul "127.0.0.1") :numeric t)
  (resolve-host (make-string 100000 :initial-element #\a) :numeric t)
  (resolve-host "::1" :family +af-inet+ :numeric t)
  (resolve-host "127.0.0.1" :family (expt 2 62)))

(misuse with-server-socket
  (with-server-socket (s :port -1 :host "127.0.0.1") s)
  (with-server-socket (s :port 0 :host nil) s)
  ;; Literals only: a name would be a DNS query (tests stay on loopback).
  (with-server-socket (s :port 0 :host "::g") s)
  (with-server-socket (s :port 0 :host "127.0.0.1" :backlog -1) s)
  (with-server-socket (s :port 0 :host "127.0.0.1" :backlog (expt 2 62)) s)
  (with-server-socket (s :port (expt 2 62) :host "127.0.0.1") s)
  ;; Two listeners on the same port.
  (with-server-socket (s :port 0 :host "127.0.0.1" :reuse-address nil)
    (with-server-socket (s2 :port (address-port (socket-local-address s))
                            :host "127.0.0.1" :reuse-address nil)
      s2)))

(misuse with-client-socket
  (with-client-socket (c :host nil :port 1) c)
  (with-client-socket (c :host "127.0.0.1" :port -1) c)
  (with-client-socket (c :host "127.0.0.1" :port 1 :timeout -1) c)
  (with-client-socket (c :host "127.0.0.1" :port 1 :timeout 5) c)
  (with-client-socket (c :host "::1" :port 1 :timeout 5) c))

(misuse with-socket
  (with-socket (s nil +sock-stream+) s) (with-socket (s +af-inet+ 12345) s)
  (with-socket (s +af-inet+ +sock-stream+ 9999) s)
  ;; Closing it inside: the cleanup reports the second close.
  (with-socket (s +af-unix+ +sock-stream+) (socket-close s)))

(misuse make-socket-stream
  (make-socket-stream nil) (make-socket-stream -1) (make-socket-stream (pair) :timeout -1)
  (make-socket-stream (pair) :external-format :ebcdic) (make-socket-stream (pair) :nope 1)
  (make-socket-stream (pair) :element-type 'fixnum)
  ;; A stream over a closed descriptor fails at its first I/O.
  (let ((s (make-socket-stream (closed-fd) :close-fd nil)))
    (write-string "x" s) (force-output s))
  (let ((s (make-socket-stream (closed-fd) :close-fd nil)))
    (read-byte s))
  ;; Use after close.
  (let ((s (make-socket-stream (pair) :close-fd nil)))
    (close s) (write-char #\x s))
  (let ((s (make-socket-stream (pair) :close-fd nil)))
    (close s) (read-char s))
  (multiple-value-bind (a b) (pair)
    (socket-send b (octets 64))
    (let ((s (track :stream (make-socket-stream a :close-fd nil :timeout 1))))
      (read-sequence (make-array 4 :element-type 'double-float) s)))
  (and (std-fds-safe-p)
       (let ((s (make-socket-stream 0 :close-fd nil :timeout 0.05)))
         (read-byte s))))

(misuse with-socket-stream
  (with-socket-stream (s nil) s) (with-socket-stream (s (pair) :external-format :ebcdic) s)
  (with-socket-stream (s (pair) :timeout -1) s)
  (with-socket-stream (s (closed-fd) :close-fd nil) (read-byte s))
  ;; Use after close inside the body.
  (with-socket-stream (s (pair) :close-fd nil) (close s) (write-char #\x s)))

(misuse socket-stream-fd (socket-stream-fd nil) (socket-stream-fd 5)
  (socket-stream-fd *standard-output*))

;;; Shared error functions (exported by all three packages)

(misuse error-name (error-name nil) (error-name "x") (:harmless (error-name -1))
  (:harmless (error-name (expt 2 62))) (:harmless (error-name (- (expt 2 62)))))
(misuse error-message (error-message nil) (error-message 1.0) (:harmless (error-message 0))
  (:harmless (error-message (expt 2 62))) (:harmless (error-message -99999)))
(misuse class-for-code (class-for-code nil 'socket-error) (class-for-code 1 "x")
  (:harmless (class-for-code (expt 2 62) 'tls-error)) (:harmless (class-for-code -1 'epoll-error)))
(misuse epsilon-error-code (epsilon-error-code nil) (epsilon-error-code 5)
  (:harmless (epsilon-error-code (an-error))))
(misuse epsilon-error-name (epsilon-error-name nil) (epsilon-error-name "x"))
(misuse epsilon-error-operation (epsilon-error-operation nil) (epsilon-error-operation 1))
(misuse epsilon-error-detail (epsilon-error-detail nil) (epsilon-error-detail 1))
(misuse epoll-error-code (epoll-error-code nil) (epoll-error-code 1))
(misuse socket-error-code (socket-error-code nil) (socket-error-code 1))
(misuse socket-timeout-count (socket-timeout-count nil) (socket-timeout-count (an-error)))
(misuse socket-timeout-octets (socket-timeout-octets nil) (socket-timeout-octets (an-error)))
(misuse tls-error-code (tls-error-code nil) (tls-error-code (make-condition 'simple-error)))

;;; epsilon.crypto

(misuse make-tls-context
  (make-tls-context :method nil) (make-tls-context :method :ssl-v3) (make-tls-context :role nil)
  (make-tls-context :role :peer) (make-tls-context :max-version :tls-v1.1)
  (make-tls-context :ca-file 5) (make-tls-context :ca-file (missing-file))
  (make-tls-context :ca-path "/nonexistent/epsilon-misuse/")
  (make-tls-context :verify nil :cert-file (missing-file))
  (make-tls-context :verify nil :key-file (missing-file))
  (make-tls-context :verify nil :cert-file "/dev/null")
  (make-tls-context :verify nil :key-file "/")
  (make-tls-context :verify nil :ciphers "NO-SUCH-CIPHER")
  (make-tls-context :verify nil :ciphersuites "NO_SUCH_SUITE")
  (make-tls-context :verify nil :ciphers 5)
  (make-tls-context :verify nil :ciphers (with-nul "HIGH"))
  (make-tls-context :verify nil :method :tls-v1.3 :max-version :tls-v1.2)
  (make-tls-context :role :server :verify t :ca-file (missing-file))
  (make-tls-context :bogus 1))

(misuse with-tls-context
  (with-tls-context (c :role :nobody) c) (with-tls-context (c :verify nil :cert-file 7) c))

(misuse tls-context-free
  (tls-context-free nil) (tls-context-free 5) (tls-context-free (conn))
  (:harmless (tls-context-free (freed-ctx))))

(misuse tls-context-p (:harmless (tls-context-p nil)) (:harmless (tls-context-p (freed-ctx))))

(misuse tls-load-cert-file
  (tls-load-cert-file nil "/dev/null") (tls-load-cert-file (ctx) nil) (tls-load-cert-file (ctx) 5)
  (tls-load-cert-file (ctx) (missing-file)) (tls-load-cert-file (ctx) "/dev/null")
  (tls-load-cert-file (ctx) "/") (tls-load-cert-file (freed-ctx) "/dev/null")
  (tls-load-cert-file (ctx) (with-nul "/dev/null"))
  (tls-load-cert-file (ctx) (make-string 100000 :initial-element #\a)))

(misuse tls-load-chain-file
  (tls-load-chain-file nil "/dev/null") (tls-load-chain-file (ctx) nil)
  (tls-load-chain-file (ctx) 5) (tls-load-chain-file (ctx) (missing-file))
  (tls-load-chain-file (ctx) "/dev/null") (tls-load-chain-file (ctx) "/")
  (tls-load-chain-file (freed-ctx) "/dev/null")
  (tls-load-chain-file (ctx) (with-nul "/dev/null")))

(misuse tls-load-key-file
  (tls-load-key-file nil "/dev/null") (tls-load-key-file (ctx) nil)
  (tls-load-key-file (ctx) (missing-file)) (tls-load-key-file (ctx) "/dev/null")
  (tls-load-key-file (freed-ctx) "/dev/null") (tls-load-key-file (conn) "/dev/null"))

(misuse load-cert-file (load-cert-file nil "x") (load-cert-file (freed-ctx) "/dev/null")
  (load-cert-file (ctx) (missing-file)))
(misuse load-key-file (load-key-file nil "x") (load-key-file (freed-ctx) "/dev/null")
  (load-key-file (ctx) (missing-file)))

(misuse make-tls-connection
  (make-tls-connection nil (pair)) (make-tls-connection (ctx) nil) (make-tls-connection (ctx) -1)
  (make-tls-connection (ctx) (expt 2 31)) (make-tls-connection (freed-ctx) (pair))
  (make-tls-connection (ctx) (closed-fd)) (make-tls-connection (ctx) (epfd))
  (make-tls-connection (ctx) (socket-create-udp)) (make-tls-connection (ctx) (pair) :role :server)
  (make-tls-connection (ctx) (pair) :role :nope) (make-tls-connection (ctx) (pair) :hostname 5)
  (make-tls-connection (ctx) (pair) :timeout -1)
  (make-tls-connection (ctx :role :client) (pair))
  (make-tls-connection (ctx) (pair) :hostname (with-nul "localhost"))
  (make-tls-connection (ctx) (pair) :hostname (make-string 100000 :initial-element #\a))
  (make-tls-connection (ctx) 0) (make-tls-connection (ctx) 1) (make-tls-connection (ctx) 2)
  (make-tls-connection (pair) (ctx)))

(misuse with-tls-connection
  (with-tls-connection (c nil (pair)) c) (with-tls-connection (c (freed-ctx) (pair)) c)
  (with-tls-connection (c (ctx) (closed-fd)) c)
  ;; Freed inside: the cleanup must not signal; the use after it must.
  (with-tls-connection (c (ctx) (pair)) (tls-connection-free c) (tls-send c "x")))

(misuse tls-connection-free
  (tls-connection-free nil) (tls-connection-free (ctx)) (:harmless (tls-connection-free (freed-conn))))
(misuse tls-connection-p (:harmless (tls-connection-p nil)) (:harmless (tls-connection-p (freed-conn))))
(misuse tls-connection-fd (tls-connection-fd nil) (tls-connection-fd (ctx))
  (:harmless (tls-connection-fd (freed-conn))))

(misuse tls-handshake
  (tls-handshake nil) (tls-handshake (ctx)) (tls-handshake (freed-conn))
  (tls-handshake (conn) :timeout -1) (tls-handshake (conn) :timeout "1")
  ;; The peer has gone: unexpected EOF.  Twice: still an error, no crash.
  (tls-handshake (conn :peer :closed))
  (let ((c (conn :peer :closed)))
    (ignore-errors (tls-handshake c)) (tls-handshake c))
  ;; Nobody answers: the timeout.
  (tls-handshake (conn) :timeout 0.05)
  ;; Garbage from the peer.
  (multiple-value-bind (c peer) (conn)
    (socket-send peer (make-array 64 :element-type '(unsigned-byte 8) :initial-element 7))
    (tls-handshake c))
  ;; Plaintext HTTP to a TLS server.
  (multiple-value-bind (a b) (pair)
    (let ((s (track :conn (make-tls-connection
                           (ctx :role :server :cert-file (epsilon.linux.tests::cert "server.pem")
                                :key-file (epsilon.linux.tests::cert "server.key"))
                           a :timeout 2))))
      (socket-send b (format nil "GET / HTTP/1.0~C~C~C~C" #\Return #\Newline #\Return #\Newline))
      (tls-handshake s))))

(misuse tls-send
  (tls-send nil "x") (tls-send (conn) nil) (tls-send (conn) 5) (tls-send (conn) "x" :start -1)
  (tls-send (conn) "x" :end 9) (tls-send (conn) "abc" :start 2 :end 1)
  (tls-send (conn) (octets 4) :end (expt 2 62)) (tls-send (conn) "x" :timeout -1)
  (tls-send (freed-conn) "x") (tls-send (conn :peer :closed) "x") (tls-send (conn) "x" :timeout 0.05)
  ;; Send after close.
  (let ((c (conn))) (tls-close c) (tls-send c "x")))

(misuse tls-write (tls-write nil "x") (tls-write (freed-conn) "x") (tls-write (conn) 7))

(misuse tls-recv
  (tls-recv nil 1) (tls-recv (conn) nil) (tls-recv (conn) -1) (tls-recv (conn) (expt 2 31))
  (tls-recv (conn) (expt 2 62)) (tls-recv (conn) 1 :timeout -1) (tls-recv (freed-conn) 1)
  ;; Receive before any handshake: it runs the handshake, which fails.
  (tls-recv (conn :peer :closed) 1) (tls-recv (conn) 1 :timeout 0.05))

(misuse tls-recv-into
  (tls-recv-into nil (octets 1)) (tls-recv-into (conn) nil) (tls-recv-into (conn) "abc")
  (tls-recv-into (conn) (make-array 4)) (tls-recv-into (conn) (octets 4) :start 5)
  (tls-recv-into (conn) (octets 4) :start 3 :end 1) (tls-recv-into (conn) (octets 4) :end -1)
  (tls-recv-into (freed-conn) (octets 4)) (tls-recv-into (conn :peer :closed) (octets 4)))

(misuse tls-read (tls-read nil 1) (tls-read (conn) nil) (tls-read (conn) -1)
  (tls-read (conn) (expt 2 62)) (tls-read (freed-conn) (octets 2)) (tls-read (conn) "abc"))

(misuse tls-pending (tls-pending nil) (tls-pending (ctx)) (tls-pending (freed-conn))
  (:harmless (tls-pending (conn))))

(misuse tls-shutdown
  (tls-shutdown nil) (tls-shutdown (freed-conn)) (tls-shutdown (conn) :timeout -1)
  ;; Before the handshake: EINVAL.
  (tls-shutdown (conn)))

(misuse tls-close (tls-close nil) (tls-close 5) (:harmless (tls-close (freed-conn)))
  (:harmless (let ((c (conn))) (tls-close c) (tls-close c))))

(misuse tls-connect
  (tls-connect nil (pair)) (tls-connect (ctx) nil) (tls-connect (pair) (pair))
  (tls-connect (freed-ctx) (pair)) (tls-connect (ctx) (closed-fd))
  (tls-connect (ctx :role :server) (pair))
  (tls-connect (ctx) (multiple-value-bind (a b) (pair) (socket-shutdown b) a) :timeout 2)
  (tls-connect (ctx) (pair) :timeout 0.05) (tls-connect (ctx) 0))

(misuse tls-accept
  (tls-accept nil (pair)) (tls-accept (ctx) nil) (tls-accept (ctx) (pair))
  (tls-accept (freed-ctx) (pair)) (tls-accept (ctx :role :server) (pair) :timeout 0.05)
  (tls-accept (ctx :role :server) (multiple-value-bind (a b) (pair) (socket-shutdown b) a)
              :timeout 2))

;;; Running the cases

(defparameter *case-timeout* 10
  "Seconds a case may take before it counts as a hang.")

(defun interpret (form)
  (let ((sb-ext:*evaluator-mode* :interpret)
        (*package* (find-package '#:epsilon.linux.tests.misuse)))
    (eval form)))

(defun run-case (kind form)
  "Run one case; return :OK or a description of what went wrong."
  (unwind-protect
       (handler-case
           (sb-ext:with-timeout *case-timeout*
             (let ((values (multiple-value-list (interpret form))))
               (if (or (eq kind :harmless)
                       ;; A guarded case whose guard said no.
                       (and (consp form) (eq (car form) 'and) (null (first values))))
                   :ok
                   (list :returned values))))
         (sb-ext:timeout () :hang)
         (storage-condition (c) (list :storage-condition (princ-to-string c)))
         ;; A typo in the table, not the library's answer.
         ((or undefined-function unbound-variable) (c) (list :broken-case (princ-to-string c)))
         (error () :ok))
    (release-all)))

(defvar *slow-case-ms* nil "When a number, print cases slower than it.")

(defun misuse-symbols ()
  "Every fbound external symbol of the three public packages."
  (let ((symbols '()))
    (dolist (p '(#:epsilon.sys.epoll #:epsilon.net.core #:epsilon.crypto))
      (do-external-symbols (s p)
        (when (fboundp s) (pushnew s symbols))))
    (sort symbols #'string< :key #'symbol-name)))

(defun run-all-cases ()
  "Run every case of the table; return the number run and a list of
(SYMBOL FORM OUTCOME) for those that went wrong."
  (let ((count 0) (bad '()))
    (dolist (s (misuse-symbols))
      (loop for (kind form) in (gethash s *cases*)
            do (incf count)
               (let* ((start (get-internal-real-time))
                      (outcome (run-case kind form))
                      (ms (round (* 1000 (- (get-internal-real-time) start))
                                 internal-time-units-per-second)))
                 (when (and *slow-case-ms* (> ms *slow-case-ms*))
                   (format *trace-output* "~&slow misuse case (~D ms): ~S~%" ms form))
                 (unless (eq outcome :ok)
                   (push (list s form outcome) bad)))))
    (values count (nreverse bad))))

(5am:in-suite misuse)

(5am:test misuse-table-covers-every-export
  (let ((missing (remove-if (lambda (s) (gethash s *cases*)) (misuse-symbols))))
    (5am:is (null missing) "exported functions with no misuse cases: ~S" missing))
  (let ((stale '()))
    (maphash (lambda (s cases) (declare (ignore cases))
               (unless (member s (misuse-symbols)) (push s stale)))
             *cases*)
    (5am:is (null stale) "misuse cases for symbols no longer exported: ~S" stale)))

(defun leak-counts () (epsilon.linux.tests:settled-counts))

(5am:test misuse-cases-signal-errors
  (let ((before (leak-counts)))
    (multiple-value-bind (count bad) (run-all-cases)
      (5am:is (> count 400) "only ~D cases" count)
      (dolist (b bad)
        (5am:fail "~S: ~S -> ~S" (first b) (second b) (third b)))
      (5am:pass))
    (5am:is (equal before (leak-counts)) "fds and handles ~S before, ~S after"
            before (leak-counts))))

(defun run-misuse-child ()
  "The body of the child SBCL: run every case, print the outcome, exit 0
when all went well."
  (multiple-value-bind (count bad) (run-all-cases)
    (format t "~&MISUSE-CHILD ran ~D cases, ~D bad~%" count (length bad))
    (dolist (b bad) (format t "BAD ~S~%" b))
    (finish-output)
    (sb-ext:exit :code (if bad 1 0) :abort nil)))

(5am:test misuse-suite-survives-in-a-child
  (let* ((asd (namestring (asdf:system-source-file "epsilon.linux")))
         (foreign (namestring (asdf:system-source-file "epsilon.foreign")))
         (process nil)
         (out (with-output-to-string (s)
                (setf process
                      (sb-ext:run-program
                       "/usr/bin/timeout"
                       (list "300" "sbcl" "--noinform" "--non-interactive" "--no-userinit"
                             "--eval" "(require :asdf)"
                             ;; Where the systems are: epsilon.linux needs those beside it.
                             "--eval" (format nil "(asdf:initialize-source-registry '(:source-registry (:directory ~S) (:directory ~S) :inherit-configuration))"
                                             (directory-namestring foreign) (directory-namestring asd))
                             "--eval" "(handler-bind ((warning #'muffle-warning)) (asdf:load-system \"epsilon.linux/tests\"))"
                             "--eval" "(epsilon.linux.tests.misuse:run-misuse-child)")
                       :search nil :input nil :output s :error nil)))))
    (5am:is (eql 0 (sb-ext:process-exit-code process))
            "child exited with ~S: ~A" (sb-ext:process-exit-code process) out)
    (5am:is (search "MISUSE-CHILD ran" out) "child said ~S" out)))

;;; TLS part 2: ALPN, SNI, sessions, information, streams.

(defun freed-session ()
  "A session object whose handle was freed: made from octets that parse,
then freed (a real session needs a resumable handshake)."
  (let ((s (ignore-errors (octets-to-tls-session (octets 64)))))
    (when s (tls-session-free s))
    s))

(misuse tls-context-add-certificate
  (tls-context-add-certificate nil "a" "b")
  (tls-context-add-certificate (ctx :role :server) nil "b")
  (tls-context-add-certificate (ctx :role :server) (missing-file) (missing-file))
  (tls-context-add-certificate (ctx :role :server) "/dev/null" "/dev/null")
  (tls-context-add-certificate (freed-ctx) "/dev/null" "/dev/null")
  (tls-context-add-certificate (ctx :role :server) (with-nul "/dev/null") "/dev/null")
  (tls-context-add-certificate (ctx :role :server) "/dev/null" "/dev/null" :name 5)
  (tls-context-add-certificate (conn) "/dev/null" "/dev/null"))

(misuse tls-session
  (tls-session nil) (tls-session (ctx)) (tls-session (freed-conn))
  (:harmless (tls-session (conn))))
(misuse tls-session-reused-p
  (tls-session-reused-p nil) (tls-session-reused-p (ctx)) (tls-session-reused-p (freed-conn))
  (:harmless (tls-session-reused-p (conn))))
(misuse tls-session-free
  (tls-session-free nil) (tls-session-free (ctx)) (tls-session-free 5)
  (:harmless (tls-session-free (freed-session))))
(misuse tls-session-p (:harmless (tls-session-p nil)) (:harmless (tls-session-p (freed-session))))
(misuse tls-session-to-octets
  (tls-session-to-octets nil) (tls-session-to-octets (ctx)) (tls-session-to-octets (octets 4))
  (let ((s (freed-session))) (if s (tls-session-to-octets s) (error "no session made"))))
(misuse octets-to-tls-session
  (octets-to-tls-session nil) (octets-to-tls-session "abc") (octets-to-tls-session (octets 0))
  (octets-to-tls-session (make-array 4)) (octets-to-tls-session (octets (* 2 1024 1024)))
  (octets-to-tls-session (make-array 16 :element-type '(unsigned-byte 8) :initial-element 255)))

(misuse tls-version (tls-version nil) (tls-version (ctx)) (tls-version (freed-conn))
  (:harmless (tls-version (conn))))
(misuse tls-cipher (tls-cipher nil) (tls-cipher (ctx)) (tls-cipher (freed-conn))
  (:harmless (tls-cipher (conn))))
(misuse tls-alpn-protocol (tls-alpn-protocol nil) (tls-alpn-protocol (ctx))
  (tls-alpn-protocol (freed-conn)) (:harmless (tls-alpn-protocol (conn))))
(misuse tls-server-name (tls-server-name nil) (tls-server-name (ctx))
  (tls-server-name (freed-conn)) (:harmless (tls-server-name (conn))))
(misuse tls-verify-result (tls-verify-result nil) (tls-verify-result (ctx))
  (tls-verify-result (freed-conn)) (:harmless (tls-verify-result (conn))))
(misuse tls-peer-certificate (tls-peer-certificate nil) (tls-peer-certificate (ctx))
  (tls-peer-certificate (freed-conn)) (:harmless (tls-peer-certificate (conn))))
(misuse tls-certificate-p (:harmless (tls-certificate-p nil)) (:harmless (tls-certificate-p 5)))
(misuse certificate-subject (certificate-subject nil) (certificate-subject (ctx)))
(misuse certificate-issuer (certificate-issuer nil) (certificate-issuer "x"))
(misuse certificate-alt-names (certificate-alt-names nil) (certificate-alt-names 5))
(misuse certificate-fingerprint (certificate-fingerprint nil) (certificate-fingerprint (conn)))
(misuse certificate-not-before (certificate-not-before nil) (certificate-not-before '(1)))
(misuse certificate-not-after (certificate-not-after nil) (certificate-not-after #(1)))
(misuse certificate-pem (certificate-pem nil) (certificate-pem :pem))

(misuse make-tls-stream
  (make-tls-stream nil) (make-tls-stream (ctx)) (make-tls-stream (freed-conn))
  (make-tls-stream (conn) :external-format :ebcdic)
  (make-tls-stream (conn) :element-type 'fixnum)
  (make-tls-stream (conn) :timeout -1)
  ;; The peer has gone: the first read runs the handshake, which fails.
  (let ((s (track :stream (make-tls-stream (conn :peer :closed) :timeout 2))))
    (read-line s)))
(misuse with-tls-stream
  (with-tls-stream (s nil) s) (with-tls-stream (s (freed-conn)) (read-byte s))
  (with-tls-stream (s (conn) :external-format 7) s))
(misuse tls-stream-connection (tls-stream-connection nil) (tls-stream-connection (conn)))
(misuse tls-stream-external-format (tls-stream-external-format nil)
  (tls-stream-external-format *standard-output*))
