;;;; tls-helpers.lisp - sockets and certificates for the TLS tests, made
;;;; with the generated bindings directly (epsilon.net.core is not a
;;;; dependency of epsilon.crypto's tests).  Not a public API.

(in-package #:epsilon.linux.tests)

(defmacro ok (form)
  "FORM's value, a C result; fail loudly when it is negative."
  (let ((r (gensym)))
    `(let ((,r ,form))
       (when (minusp ,r)
         (error "~S failed: ~A" ',(car form) (epsilon.linux:error-name ,r)))
       ,r)))

(defun make-address (host port)
  "The socket address of HOST (an IPv4 or IPv6 literal) and PORT, as octets."
  (let* ((buf (make-array epsilon.linux.bindings:+sockaddr-max+
                          :element-type '(unsigned-byte 8)))
         (n (if (find #\: host)
                (ok (epsilon.linux.bindings:%eps-addr-inet6 host port 0 buf (length buf)))
                (ok (epsilon.linux.bindings:%eps-addr-inet host port buf (length buf))))))
    (subseq buf 0 n)))

(defun family-of (host)
  (if (find #\: host) epsilon.linux.bindings:+af-inet6+ epsilon.linux.bindings:+af-inet+))

(defun make-listener (&optional (host "127.0.0.1"))
  "A listening TCP socket on HOST, port 0.  Returns the fd and the port."
  (let* ((fd (ok (epsilon.linux.bindings:%eps-socket (family-of host)
                                                     epsilon.linux.bindings:+sock-stream+ 0)))
         (addr (make-address host 0))
         (buf (make-array epsilon.linux.bindings:+sockaddr-max+
                          :element-type '(unsigned-byte 8))))
    (ok (epsilon.linux.bindings:%eps-setsockopt-int
         fd epsilon.linux.bindings:+sol-socket+ epsilon.linux.bindings:+so-reuseaddr+ 1))
    (ok (epsilon.linux.bindings:%eps-bind fd addr (length addr)))
    (ok (epsilon.linux.bindings:%eps-listen fd 64))
    (let ((n (ok (epsilon.linux.bindings:%eps-getsockname fd buf (length buf)))))
      (values fd (ok (epsilon.linux.bindings:%eps-addr-port buf n))))))

(defun accept-one (listener &key (timeout 10) nonblocking)
  "Accept one connection on LISTENER within TIMEOUT seconds; its fd."
  (let ((r (epsilon.linux.bindings:%eps-fd-poll listener epsilon.linux.bindings:+pollin+
                                                (round (* 1000 timeout)))))
    (unless (plusp r) (error "accept-one: nothing to accept within ~As" timeout)))
  (ok (epsilon.linux.bindings:%eps-accept
       listener (if nonblocking epsilon.linux.bindings:+sock-nonblock+ 0) nil nil)))

(defun connect-to (port &key (host "127.0.0.1") nonblocking)
  "A TCP socket connected to HOST:PORT (loopback: completes at once)."
  (let ((fd (ok (epsilon.linux.bindings:%eps-socket (family-of host)
                                                    epsilon.linux.bindings:+sock-stream+ 0)))
        (addr (make-address host port)))
    (ok (epsilon.linux.bindings:%eps-connect fd addr (length addr)))
    (when nonblocking (ok (epsilon.linux.bindings:%eps-fd-set-nonblocking fd 1)))
    fd))

(defun close-fd (fd)
  (when (and fd (>= fd 0)) (epsilon.linux.bindings:%eps-close fd)))

(defun raw-send (fd octets)
  "Send all of OCTETS on the blocking socket FD."
  (let ((pos 0))
    (loop while (< pos (length octets))
          do (incf pos (ok (epsilon.linux.bindings:%eps-send
                            fd (sb-sys:sap+ (sb-sys:vector-sap octets) pos)
                            (- (length octets) pos) 0))))))

(defmacro with-fd ((var form) &body body)
  `(let ((,var ,form))
     (unwind-protect (progn ,@body) (close-fd ,var))))

(defun octets (string) (sb-ext:string-to-octets string :external-format :utf-8))
(defun text (octets) (sb-ext:octets-to-string octets :external-format :utf-8))

;;; Certificates, made once per run by tests/data/make-certs.sh

(defvar *cert-dir* nil)

(defun project-file (relative)
  (merge-pathnames relative
                   (merge-pathnames "../" (asdf:system-source-directory "epsilon.linux"))))

(defvar *cert-lock* (sb-thread:make-mutex :name "test certificates"))

(defun cert-dir ()
  (sb-thread:with-recursive-lock (*cert-lock*) (%cert-dir)))

(defun %cert-dir ()
  (or *cert-dir*
      (let ((dir (format nil "/tmp/epsilon-tls-test-~D-~D/"
                         (sb-unix:unix-getpid) (random 1000000 (make-random-state t)))))
        (sb-ext:run-program "/bin/sh"
                            (list (namestring (project-file "tests/data/make-certs.sh")) dir)
                            :output nil :error nil)
        (unless (probe-file (merge-pathnames "server.pem" dir))
          (error "tests/data/make-certs.sh made no certificates in ~A" dir))
        (setf *cert-dir* dir))))

(defun cert (name) (namestring (merge-pathnames name (cert-dir))))

(defun remove-cert-dir ()
  (when *cert-dir*
    (sb-ext:run-program "/bin/rm" (list "-rf" *cert-dir*))
    (setf *cert-dir* nil)))

;;; Threads

(defmacro with-thread ((var &body thread-body) &body body)
  "Run THREAD-BODY in a new thread bound to VAR while BODY runs; join it
(within 60 s) on exit.  The thread's value, or the condition it signalled,
is what (JOIN-RESULT VAR) returns."
  `(let ((,var (sb-thread:make-thread
                (lambda () (handler-case (progn ,@thread-body)
                             (error (e) e)))
                :name "tls test peer")))
     (unwind-protect (progn ,@body)
       (sb-thread:join-thread ,var :default nil :timeout 60))))

(defun join-result (thread)
  (sb-thread:join-thread thread :default :timeout :timeout 60))
