;;;; main.lisp - the program of `make run` and of the benchmark harness.
;;;;
;;;;   make run [PORT=8080] [TLS_PORT=8443] [HOST=127.0.0.1]
;;;;       HTTP on PORT and HTTPS on TLS_PORT (0 picks a free port); a test
;;;;       CA and a certificate for localhost/127.0.0.1/::1 are made on the
;;;;       first run under build/run-certs/.  Also THREADS (loops, default
;;;;       1), IDLE_TIMEOUT (seconds, 60), FD_LIMIT (soft descriptor limit;
;;;;       default: raised to the hard limit).
;;;;
;;;;   sbcl --script examples/main.lisp --host H --port P
;;;;        [--tls-cert PEM --tls-key PEM] [--threads N]
;;;;       the benchmark harness's contract (bench/README.md): one listener,
;;;;       HTTPS when a certificate is given.
;;;;
;;;; Prints `PORT <n>` (and `TLS_PORT <n>`) once listening; SIGUSR1 prints
;;;; `CONSED <bytes>`; SIGINT or SIGTERM closes everything and exits 0.

(in-package #:epsilon.examples.server)

(defun env (name default)
  (let ((v (sb-ext:posix-getenv name)))
    (if (and v (plusp (length v))) v default)))

(defun env-int (name default)
  (let ((v (env name nil)))
    (if v
        (or (ignore-errors (parse-integer v))
            (error "~A=~A is not an integer" name v))
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
  "The directory of the test CA and server certificate of `make run`,
made with tests/data/make-certs.sh (the openssl command) the first time
and again when the certificate (90 days) expires: the script decides."
  (let* ((dir (merge-pathnames "build/run-certs/" root))
         (p (sb-ext:run-program "/bin/sh"
                                (list (namestring (merge-pathnames "tests/data/make-certs.sh" root))
                                      (namestring dir))
                                :output *error-output* :error *error-output*)))
    (unless (and (zerop (sb-ext:process-exit-code p))
                 (probe-file (merge-pathnames "server.pem" dir)))
      (error "could not make the certificates in ~A (is openssl installed?)" dir))
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

(defun main (&key (root *default-pathname-defaults*) (args (rest sb-ext:*posix-argv*)))
  "The main job: parse the environment (make run) or ARGS (the harness),
serve until SIGINT or SIGTERM, close everything, and return 0."
  (let* ((options (parse-options args))
         (harness (getf options :port))
         (host (or (getf options :host) (env "HOST" "127.0.0.1")))
         (threads (or (getf options :threads) (env-int "THREADS" 1)))
         (idle (env-int "IDLE_TIMEOUT" 60))
         (cert (getf options :cert))
         (key (getf options :key))
         (cert-dir nil)
         (ocsp nil)
         (port nil)
         (tls-port nil))
    (if harness
        (if cert (setf tls-port harness) (setf port harness))
        (progn
          (setf port (env-int "PORT" 8080)
                tls-port (env-int "TLS_PORT" 8443)
                cert-dir (ensure-certificates root)
                cert (namestring (merge-pathnames "server.pem" cert-dir))
                key (namestring (merge-pathnames "server.key" cert-dir))
                ocsp (namestring (merge-pathnames "server.ocsp" cert-dir)))))
    (raise-fd-limit (env-int "FD_LIMIT" nil))
    (let ((servers '())
          (usr1 nil))
      (unwind-protect
           (progn
             ;; The first server picks the ports; the others share them.
             (let ((first (make-server :host host :port port :tls-port tls-port
                                       :cert-file cert :key-file key :idle-timeout idle
                                       :ocsp-response-file ocsp)))
               (push first servers)
               (loop repeat (1- threads)
                     do (push (make-server :host host :port (server-port first)
                                           :tls-port (server-tls-port first)
                                           :cert-file cert :key-file key :idle-timeout idle
                                           :ocsp-response-file ocsp)
                              servers)))
             (setf servers (nreverse servers))
             (let ((first (first servers)))
               (setf (server-on-wakeup first)
                     (lambda (server)
                       (declare (ignore server))
                       (when usr1
                         (setf usr1 nil)
                         (format t "CONSED ~D~%" (sb-ext:get-bytes-consed))
                         (finish-output))))
               (install-stop-signals servers :on-usr1 (lambda () (setf usr1 t) (wake-server first)))
               (let ((h (url-host host))
                     (p (server-port first))
                     (tp (server-tls-port first)))
                 (unless harness
                   (format t "epsilon-linux ~A: HTTP/1.1 server, ~D epoll loop~:P~%"
                           (epsilon.linux:library-version) threads threads)
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
                   (mapc #'sb-thread:join-thread others)))))
        (mapc #'close-server servers)))
    (unless harness
      (format t "~&stopped; library descriptors open: ~D~%" (epsilon.linux:open-fd-count))
      (finish-output))
    0))
