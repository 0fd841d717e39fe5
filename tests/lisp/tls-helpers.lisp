;;;; SPDX-License-Identifier: MIT
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
        (push 'remove-cert-dir sb-ext:*exit-hooks*)
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

;;; A Lisp TLS server in a thread, and a Lisp TLS client

(defun call-with-tls-server (handler client &key (cert "server") (method :tls) max-version
                                                 (clients 1) (host "127.0.0.1")
                                                 ciphers)
  "Listen on HOST port 0; in a thread, accept CLIENTS connections one after
the other, run the server side of the handshake on each (certificate CERT)
and call HANDLER with the connection.  Call CLIENT with the port meanwhile.
Returns CLIENT's value and the list of the server's results per client
(HANDLER's value or the condition it or the handshake signalled)."
  (call-with-server (list :method method :max-version max-version :ciphers ciphers
                          :cert-file (cert (format nil "~A.pem" cert))
                          :key-file (cert (format nil "~A.key" cert)))
                    handler client :clients clients :host host))

(defmacro with-tls-server ((port &rest keys) handler &body body)
  "Run BODY with PORT bound while a Lisp TLS server (see
CALL-WITH-TLS-SERVER) serves; returns BODY's value and the server's results."
  `(call-with-tls-server ,handler (lambda (,port) ,@body) ,@keys))

(defmacro with-tls-client ((conn port &key (hostname "localhost") (ca-file '(cert "ca.pem"))
                                        (verify t) (method :tls) max-version
                                        (host "127.0.0.1") (timeout 30) nonblocking)
                           &body body)
  "Run BODY with CONN bound to a Lisp TLS client connection to HOST:PORT
(not yet handshaken), trusting CA-FILE."
  (let ((fd (gensym "FD")) (ctx (gensym "CTX")))
    `(with-fd (,fd (connect-to ,port :host ,host :nonblocking ,nonblocking))
       (epsilon.crypto:with-tls-context (,ctx :ca-file ,ca-file :verify ,verify
                                              :method ,method :max-version ,max-version)
         (epsilon.crypto:with-tls-connection (,conn ,ctx ,fd :hostname ,hostname
                                                             :timeout ,timeout)
           (multiple-value-prog1 (progn ,@body)
             (finish-tls ,conn)))))))

(defun finish-tls (conn)
  "Close CONN cleanly: send close_notify and read until the peer's, so that
nothing unread (a TLS 1.3 ticket) is left in the socket when it is closed
(closing a socket with unread data resets the connection, and the peer
may lose what it has not read yet).  Ignores failures."
  (handler-case
      (when (and (plusp (epsilon.crypto::tls-connection-handle conn))
                 (plusp (connection-version conn)))
        (epsilon.crypto:tls-shutdown conn :timeout 10)
        (loop repeat 10000
              until (zerop (length (epsilon.crypto:tls-recv conn 16384 :timeout 10)))))
    (error () nil)))

(defun echo-handler (conn)
  "Echo everything until the peer's close_notify; return the byte count."
  (let ((buf (make-array 65536 :element-type '(unsigned-byte 8)))
        (total 0))
    (loop for n = (epsilon.crypto:tls-recv-into conn buf)
          until (zerop n)
          do (epsilon.crypto:tls-send conn buf :end n)
             (incf total n))
    total))

(defun connection-version (conn)
  (epsilon.linux.bindings:%eps-tls-connection-version
   (epsilon.crypto::tls-connection-handle conn)))

(defun sigpipe-child-body ()
  "Run in a child SBCL whose SIGPIPE is at its default action: write to a
TLS peer that has closed its socket, many times.  Prints SURVIVED and the
error seen."
  (let ((seen nil))
    (multiple-value-bind (listener port) (make-listener)
      (with-fd (listener listener)
        (epsilon.crypto:with-tls-context (sctx :role :server :cert-file (cert "server.pem")
                                               :key-file (cert "server.key"))
          (let ((server (sb-thread:make-thread
                         (lambda ()
                           (with-fd (fd (accept-one listener))
                             (epsilon.crypto:with-tls-connection (conn sctx fd :timeout 30)
                               (epsilon.crypto:tls-handshake conn)))))))
            (with-tls-client (c port)
              (epsilon.crypto:tls-handshake c)
              ;; The server's socket is closed once its thread is done.
              (sb-thread:join-thread server :default nil :timeout 30)
              (let ((data (make-array 16384 :element-type '(unsigned-byte 8)
                                             :initial-element 1)))
                (loop repeat 200 until seen
                      do (handler-case (epsilon.crypto:tls-send c data)
                           (epsilon.crypto:tls-error (e)
                             (setf seen (epsilon.crypto:epsilon-error-name e)))))))))))
    (format t "~&SURVIVED ~A~%" seen)
    (finish-output)))

(defun stream-pair ()
  "Two connected Unix stream sockets."
  (let ((fds (make-array 2 :element-type '(signed-byte 32))))
    (ok (epsilon.linux.bindings:%eps-socketpair epsilon.linux.bindings:+af-unix+
                                                epsilon.linux.bindings:+sock-stream+ 0 fds))
    (values (aref fds 0) (aref fds 1))))

(defmacro with-stream-pair ((a b) &body body)
  `(multiple-value-bind (,a ,b) (stream-pair)
     (declare (ignorable ,a ,b))
     (unwind-protect (progn ,@body) (close-fd ,a) (close-fd ,b))))

;;; Servers and clients of the TLS suites (suite-tls-*.lisp)

(defun call-with-server (server-options handler client &key (clients 1) (host "127.0.0.1"))
  "Listen on HOST (default 127.0.0.1) port 0 with a server context made from
SERVER-OPTIONS (plus :ROLE :SERVER); in a thread, accept CLIENTS
connections one after the other, run the handshake of each and call
HANDLER with it.  Call CLIENT with the port meanwhile.  Returns CLIENT's
value and the list of the server's results (values or conditions)."
  (multiple-value-bind (listener port) (make-listener host)
    (unwind-protect
         (let ((ctx (apply #'epsilon.crypto:make-tls-context :role :server server-options)))
           (unwind-protect
                (let (value results)
                  (with-thread (server
                                (loop repeat clients
                                      collect (handler-case
                                                  (with-fd (fd (accept-one listener))
                                                    (epsilon.crypto:with-tls-connection
                                                        (conn ctx fd :timeout 30)
                                                      (epsilon.crypto:tls-handshake conn)
                                                      (funcall handler conn)))
                                                (error (e) e))))
                    (setf value (funcall client port)
                          results (join-result server)))
                  (values value results))
             (epsilon.crypto:tls-context-free ctx)))
      (close-fd listener))))

(defmacro with-server ((port &rest server-options) (&key (clients 1)) handler &body body)
  `(call-with-server (list ,@server-options) ,handler (lambda (,port) ,@body)
                     :clients ,clients))

(defun server-options (&rest more)
  (list* :cert-file (cert "server.pem") :key-file (cert "server.key") more))

(defun call-client (port function &key (hostname "localhost") session
                                     (options (list :ca-file (cert "ca.pem"))))
  "Connect a Lisp TLS client (context from OPTIONS) to PORT and call
FUNCTION with the connection (not yet handshaken); close it cleanly."
  (with-fd (fd (connect-to port))
    (let ((ctx (apply #'epsilon.crypto:make-tls-context options)))
      (unwind-protect
           (epsilon.crypto:with-tls-connection (c ctx fd :hostname hostname :timeout 30
                                                         :session session)
             (multiple-value-prog1 (funcall function c)
               (finish-tls c)))
        (epsilon.crypto:tls-context-free ctx)))))

(defun wait-close-handler (result-function)
  "A server handler: compute RESULT-FUNCTION's value on the connection,
send a byte (so that a TLS 1.3 client receives its ticket with it), then
read until the client's close_notify and return the value."
  (lambda (conn)
    (let ((value (funcall result-function conn)))
      (epsilon.crypto:tls-send conn "!")
      (loop repeat 1000
            until (zerop (length (epsilon.crypto:tls-recv conn 1024))))
      value)))

(defun read-bang (c)
  "Run the handshake of the client C and read the server's byte."
  (epsilon.crypto:tls-handshake c)
  (text (epsilon.crypto:tls-recv c 10)))

(defun openssl-field (file option prefix)
  "What `openssl x509 -noout OPTION -in FILE` prints after PREFIX."
  (let* ((out (run-command "openssl" (append (list "x509" "-noout")
                                            (if (listp option) option (list option))
                                            (list "-in" file))))
         (p (search prefix out)))
    (string-right-trim '(#\Newline #\Return) (subseq out (+ p (length prefix))))))

(defun fingerprint-of (name)
  (openssl-field (cert name) '("-fingerprint" "-sha256") "Fingerprint="))
