;;;; SPDX-License-Identifier: MIT
;;;; main.lisp - the program of `make run` and of the benchmark harness.
;;;;
;;;;   make run [PORT=8080] [TLS_PORT=8443] [HOST=127.0.0.1]
;;;;       HTTP on PORT and HTTPS on TLS_PORT (0 picks a free port); a test
;;;;       CA and a certificate for localhost/127.0.0.1/::1 are made on the
;;;;       first run under build/run-certs/.  Also THREADS (loops, default
;;;;       1), IDLE_TIMEOUT (seconds, 60), FD_LIMIT (soft descriptor limit;
;;;;       default: raised to the hard limit), CERT_DIR (where the demo
;;;;       certificates are kept, default build/run-certs/).
;;;;       A port in use (by anything: a second `make run` must not join
;;;;       the first through SO_REUSEPORT), no openssl, no permission: one
;;;;       line on stderr saying so, exit code 1.
;;;;
;;;;   sbcl --script examples/main.lisp --host H --port P
;;;;        [--tls-cert PEM --tls-key PEM] [--threads N]
;;;;       the benchmark harness's contract (bench/README.md): one listener,
;;;;       HTTPS when a certificate is given.
;;;;
;;;; Prints `PORT <n>` (and `TLS_PORT <n>`) once listening; SIGUSR1 prints
;;;; `CONSED <bytes> REQUESTS <n>` (bytes consed by the image, requests
;;;; served); SIGINT or SIGTERM closes everything and exits 0.

(in-package #:epsilon.examples.server)

(defun env (name default)
  (let ((v (sb-ext:posix-getenv name)))
    (if (and v (plusp (length v))) v default)))

(defun env-int (name default)
  (let ((v (env name nil)))
    (if v
        (or (ignore-errors (parse-integer v))
            (error 'startup-error :message (format nil "~A=~A is not an integer" name v)))
        default)))

(defun parse-options (args)
  "The harness's options as a plist, or NIL when there are none."
  (let ((options '()))
    (loop while args
          do (let ((flag (pop args)))
               (unless args (error "~A needs a value" flag))
               (let ((value (pop args)))
                 (cond ((string= flag "--host") (setf (getf options :host) value))
                       ((string= flag "--port") (setf (getf options :port) (parse-integer value)))
                       ((string= flag "--tls-cert") (setf (getf options :cert) value))
                       ((string= flag "--tls-key") (setf (getf options :key) value))
                       ((string= flag "--threads") (setf (getf options :threads) (parse-integer value)))
                       (t (error "unknown option ~A (try --host --port --tls-cert --tls-key --threads)"
                                 flag))))))
    options))

(defun ensure-certificates (root)
  "The directory of the test CA and server certificate of `make run`
(CERT_DIR, default build/run-certs/), made with tests/data/make-certs.sh
(the openssl command) the first time and again when the certificate (90
days) expires: the script decides.  STARTUP-ERROR when that fails."
  (let ((dir (let ((d (env "CERT_DIR" nil)))
               (if d
                   (uiop:ensure-directory-pathname (merge-pathnames d root))
                   (merge-pathnames "build/run-certs/" root)))))
    ;; The tool's own output is shown only when it fails, and then only
      ;; its last line, inside ours.
      (let* ((log (make-string-output-stream))
             (p (sb-ext:run-program "/bin/sh"
                                    (list (namestring (merge-pathnames "tests/data/make-certs.sh" root))
                                          (namestring dir))
                                    :output log :error log))
             (said (let ((lines (uiop:split-string (string-right-trim '(#\Newline) (get-output-stream-string log))
                                                   :separator '(#\Newline))))
                     (car (last lines)))))
        (unless (and (zerop (sb-ext:process-exit-code p))
                     (probe-file (merge-pathnames "server.pem" dir)))
          (error 'startup-error
                 :message (format nil "could not make the certificates in ~A~@[ (~A)~]; is openssl installed? (scripts/install-deps.sh installs it)"
                                  (namestring dir) (and said (plusp (length said)) said)))))
    dir))

(defun install-stop-signals (servers &key on-usr1)
  "Make SIGINT and SIGTERM stop every server of SERVERS (their loops return
and the caller closes them), and SIGUSR1 call ON-USR1 when given."
  (flet ((stop (signal info context)
           (declare (ignore signal info context))
           (mapc #'stop-server servers)))
    (sb-sys:enable-interrupt sb-unix:sigint #'stop)
    (sb-sys:enable-interrupt sb-unix:sigterm #'stop))
  (when on-usr1
    (sb-sys:enable-interrupt sb-unix:sigusr1
                             (lambda (signal info context)
                               (declare (ignore signal info context))
                               (funcall on-usr1))))
  t)

(defun url-host (host)
  (if (find #\: host) (format nil "[~A]" host) host))

(defun start-servers (host port tls-port threads cert key idle ocsp)
  "The servers of the main job: the first picks the ports (and fails when
anything listens on them), the other THREADS - 1 join its ports; OCSP is
the DER response file the HTTPS listeners staple, or NIL."
  (let ((servers '())
        (ok nil))
    (unwind-protect
         (let ((first (make-server :host host :port port :tls-port tls-port
                                   :cert-file cert :key-file key :idle-timeout idle
                                   :ocsp-response-file ocsp)))
           (push first servers)
           (loop repeat (1- threads)
                 do (push (make-server :host host :port (server-port first)
                                       :tls-port (server-tls-port first) :reuse-port :join
                                       :cert-file cert :key-file key :idle-timeout idle
                                       :ocsp-response-file ocsp)
                          servers))
           (setf ok t)
           (nreverse servers))
      (unless ok (mapc #'close-server servers)))))

(defun startup-line (condition harness port tls-port)
  "The one line that ends a failed start: what failed, and for a port in
use or refused how to choose another."
  (let ((text (substitute #\Space #\Newline (princ-to-string condition))))
    (if (and (typep condition 'listen-error)
             (member (epsilon-error-name (listen-error-cause condition)) '(:eaddrinuse :eacces)))
        (let ((variable (cond (harness "--port")
                              ((eql (listen-error-port condition) tls-port) "TLS_PORT")
                              ((eql (listen-error-port condition) port) "PORT")
                              (t "PORT"))))
          (if harness
              (format nil "~A; choose another port with --port N (--port 0 picks a free one)" text)
              (format nil "~A; choose another port with ~A=N (~A=0 picks a free one)"
                      text variable variable)))
        text)))

(defun main (&key (root *default-pathname-defaults*) (args (rest sb-ext:*posix-argv*)))
  "The main job: parse the environment (make run) or ARGS (the harness),
serve until SIGINT or SIGTERM, close everything, and return 0.  A failed
start (a port in use, no certificate tool, no permission, a bad option)
prints one line on *ERROR-OUTPUT* and returns 1."
  (let ((options nil) (harness nil) (host "127.0.0.1") (threads 1) (idle 60)
        (cert nil) (key nil) (cert-dir nil) (ocsp nil) (port nil) (tls-port nil)
        (servers '()))
    (handler-case
        (progn
          (setf options (parse-options args)
                harness (getf options :port)
                host (or (getf options :host) (env "HOST" "127.0.0.1"))
                threads (or (getf options :threads) (env-int "THREADS" 1))
                idle (env-int "IDLE_TIMEOUT" 60)
                cert (getf options :cert)
                key (getf options :key))
          (if harness
              (if cert (setf tls-port harness) (setf port harness))
              (setf port (env-int "PORT" 8080)
                    tls-port (env-int "TLS_PORT" 8443)
                    cert-dir (ensure-certificates root)
                    cert (namestring (merge-pathnames "server.pem" cert-dir))
                    key (namestring (merge-pathnames "server.key" cert-dir))
                    ocsp (namestring (merge-pathnames "server.ocsp" cert-dir))))
          (raise-fd-limit (env-int "FD_LIMIT" nil))
          (setf servers (start-servers host port tls-port threads cert key idle ocsp)))
      (error (e)
        (format *error-output* "~A: ~A~%" (if harness "server" "make run")
                (startup-line e harness port tls-port))
        (finish-output *error-output*)
        (return-from main 1)))
    (let ((usr1 nil))
      (unwind-protect
           (let ((first (first servers)))
             (setf (server-on-wakeup first)
                   (lambda (server)
                     (declare (ignore server))
                     (when usr1
                       (setf usr1 nil)
                       (let ((consed (sb-ext:get-bytes-consed))
                             (requests (loop for s in servers sum (server-requests s))))
                         (format t "CONSED ~D REQUESTS ~D~%" consed requests))
                       (finish-output))))
             (install-stop-signals servers :on-usr1 (lambda () (setf usr1 t) (wake-server first)))
             (let ((h (url-host host))
                   (p (server-port first))
                   (tp (server-tls-port first)))
               (unless harness
                 (format t "epsilon-linux ~A: HTTP/1.1 server, ~D epoll loop~:P~%"
                         (epsilon.linux:library-version) threads)
                 (when p
                   (format t "  http://~A:~D/        (statistics: http://~A:~D/stats)~%" h p h p))
                 (when tp
                   (format t "  https://~A:~D/       (CA: ~Aca.pem)~%" h tp (namestring cert-dir)))
                 (format t "Try:~%")
                 (when p (format t "  curl http://~A:~D/~%" h p))
                 (when tp
                   (format t "  curl --cacert ~Aca.pem https://~A:~D/~%"
                           (namestring cert-dir) (if (string= host "127.0.0.1") "localhost" h) tp)
                   (format t "  curl -k https://~A:~D/~%" h tp))
                 (format t "Ctrl-C stops it.~%"))
               (when p (format t "PORT ~D~%" p))
               (when (and tp (not harness)) (format t "TLS_PORT ~D~%" tp))
               (when (and tp harness) (format t "PORT ~D~%" tp))
               (finish-output))
             (let ((others (mapcar (lambda (s)
                                     (sb-thread:make-thread (lambda () (run-server s))
                                                            :name "epoll loop"))
                                   (rest servers))))
               (unwind-protect (run-server first)
                 (mapc #'stop-server servers)
                 (mapc #'sb-thread:join-thread others))))
        (mapc #'close-server servers)))
    (unless harness
      (format t "~&stopped; library descriptors open: ~D~%" (epsilon.linux:open-fd-count))
      (finish-output))
    0))
