;;;; SPDX-License-Identifier: MIT
;;;; suite-bridges.lisp - epsilon.hunchentoot: Debian's Hunchentoot serving
;;;; HTTPS through epsilon.crypto, with real curl and openssl s_client peers
;;;; on loopback.

(in-package #:epsilon.linux.tests)

(def-suite bridges :in epsilon-linux
  :description "Hunchentoot and Drakma over epsilon.crypto, usocket side by side.")

(defpackage #:epsilon.linux.tests.bridges
  (:use #:cl #:fiveam)
  (:import-from #:epsilon.linux.tests #:cert #:settled-counts))

(in-package #:epsilon.linux.tests.bridges)

(in-suite epsilon.linux.tests::bridges)

;;; Peers

(defun run-peer (program &rest args)
  "Run PROGRAM with ARGS, stdin from /dev/null, bounded to 60 s: its output
(stdout and stderr) and exit code."
  (let* ((out (make-string-output-stream))
         (p (sb-ext:run-program "/usr/bin/timeout" (list* "60" program args)
                                :search nil :input nil :output out :error out)))
    (values (get-output-stream-string out) (sb-ext:process-exit-code p))))

(defun curl (port path &rest options)
  "curl https://localhost:PORT/PATH with the test CA and OPTIONS: the body,
the HTTP status (0 when there was no reply), curl's exit code and its
total time in seconds."
  (multiple-value-bind (out code)
      (apply #'run-peer "/usr/bin/curl" "-s" "--cacert" (cert "ca.pem")
             "-w" (format nil "~%~%%{http_code} %{time_total}")
             (append options (list (format nil "https://localhost:~D~A" port path))))
    (let* ((split (search (format nil "~%~%") out :from-end t))
           (tail (subseq out (+ split 2)))
           (space (position #\Space tail)))
      (values (subseq out 0 split)
              (parse-integer tail :end space :junk-allowed t)
              code
              (let ((*read-default-float-format* 'double-float))
                (read-from-string tail t nil :start (1+ space)))))))

(defun s-client (port &rest options)
  "openssl s_client to 127.0.0.1:PORT with OPTIONS, sending nothing: its output."
  (values (apply #'run-peer "/usr/bin/openssl" "s_client" "-connect" (format nil "127.0.0.1:~D" port)
                 "-CAfile" (cert "ca.pem") options)))

(defun contains (needle haystack) (and (search needle haystack) t))

;;; The acceptor under test

(defun log-path ()
  (merge-pathnames (format nil "epsilon-bridges-~D-~36R.log" (sb-unix:unix-getpid)
                           (random (expt 36 6) (make-random-state t)))
                   (uiop:temporary-directory)))

(defun log-text (path)
  (if (probe-file path)
      (with-open-file (in path) (let ((s (make-string (file-length in))))
                                  (subseq s 0 (read-sequence s in))))
      ""))

(defun call-with-acceptor (function initargs &key (class 'epsilon.hunchentoot:easy-tls-acceptor))
  "Start an acceptor of CLASS on 127.0.0.1, port 0, with the test server
certificate and INITARGS before those; call FUNCTION with it and the path
of its message log; stop it, then check the library's fds and handles are
back to what they were (bounded wait: workers close their streams after
STOP returns)."
  (let* ((before (settled-counts))
         (log (log-path))
         (acceptor (apply #'make-instance class
                          (append initargs
                                  (list :port 0 :address "127.0.0.1"
                                        :certificate-file (cert "server.pem")
                                        :key-file (cert "server.key")
                                        :message-log-destination log
                                        :access-log-destination nil)))))
    (unwind-protect
         (progn (hunchentoot:start acceptor)
                (funcall function acceptor log)
                ;; STOP wakes the listener with a connection of its own:
                ;; not a failed handshake to log.
                (let ((text (log-text log)))
                  (hunchentoot:stop acceptor)
                  (sleep 0.2)
                  (is (string= text (log-text log)) "STOP logged ~S"
                      (subseq (log-text log) (length text)))))
      (when (hunchentoot:started-p acceptor) (hunchentoot:stop acceptor))
      (when (probe-file log) (delete-file log)))
    (is (null (epsilon.hunchentoot:acceptor-tls-context acceptor)) "STOP frees the context")
    (is (loop repeat 100 thereis (equal before (settled-counts)) do (sleep 0.1))
        "fds and handles ~S after, ~S before" (settled-counts) before)))

(defmacro with-acceptor ((acceptor log &rest initargs) &body body)
  `(call-with-acceptor (lambda (,acceptor ,log) (declare (ignorable ,log)) ,@body)
                       (list ,@initargs)))

(defun port-of (acceptor) (hunchentoot:acceptor-port acceptor))

(hunchentoot:define-easy-handler (eps-bridges-hello :uri "/eps-bridges/hello") ()
  (setf (hunchentoot:content-type*) "text/plain")
  "hello")

(hunchentoot:define-easy-handler (eps-bridges-whoami :uri "/eps-bridges/whoami") ()
  (setf (hunchentoot:content-type*) "text/plain")
  (format nil "~A|~A|~A|~A|~A"
          (or (epsilon.hunchentoot:client-certificate-subject) "none")
          (epsilon.hunchentoot:connection-alpn-protocol)
          (epsilon.hunchentoot:connection-server-name)
          (epsilon.hunchentoot:connection-tls-version)
          (hunchentoot:remote-port*)))

;;; Serving

(test hunchentoot-answers-curl
  (with-acceptor (a log)
    (multiple-value-bind (body status code) (curl (port-of a) "/eps-bridges/hello")
      (is (= 0 code))
      (is (eql 200 status))
      (is (string= "hello" body)))
    ;; What the handler sees of the connection.
    (multiple-value-bind (body status) (curl (port-of a) "/eps-bridges/whoami")
      (is (eql 200 status))
      (is (eql 0 (search "none|http/1.1|localhost|TLS-V1.3|" body)) "~A" body))
    ;; A 404 from Hunchentoot itself, over the same TLS.
    (is (eql 404 (nth-value 1 (curl (port-of a) "/eps-bridges/nothing-here"))))
    (is (string= "" (log-text log)) "log: ~A" (log-text log))))

(defclass dispatching-acceptor (epsilon.hunchentoot:tls-acceptor) ())

(defmethod hunchentoot:acceptor-dispatch-request ((a dispatching-acceptor) request)
  (format nil "plain ~A" (hunchentoot:script-name request)))

(test tls-acceptor-without-easy-handlers
  (call-with-acceptor
   (lambda (a log)
     (declare (ignore log))
     (multiple-value-bind (body status) (curl (port-of a) "/x")
       (is (eql 200 status))
       (is (string= "plain /x" body)))
     ;; STOP frees the context; START makes a new one and serves again.
     (hunchentoot:stop a)
     (is (null (epsilon.hunchentoot:acceptor-tls-context a)))
     (hunchentoot:start a)
     (is (epsilon.crypto:tls-context-p (epsilon.hunchentoot:acceptor-tls-context a)))
     (is (eql 200 (nth-value 1 (curl (port-of a) "/y")))))
   '()
   :class 'dispatching-acceptor))

(test hunchentoot-sni-chooses-the-certificate
  (with-acceptor (a log :sni-certificates (list (list (cert "alt.pem") (cert "alt.key"))))
    (let ((plain (s-client (port-of a) "-servername" "localhost" "-verify_return_error"))
          (alt (s-client (port-of a) "-servername" "alt.localhost" "-verify_return_error")))
      (is (contains (format nil "subject=CN = localhost~%") plain) "~A" plain)
      (is (contains "Verify return code: 0 (ok)" plain))
      (is (contains (format nil "subject=CN = alt.localhost~%") alt) "~A" alt)
      (is (contains "Verify return code: 0 (ok)" alt)))
    ;; And curl, verifying alt.localhost, is served under that name.
    (multiple-value-bind (out code)
        (run-peer "/usr/bin/curl" "-s" "--cacert" (cert "ca.pem")
             "--resolve" (format nil "alt.localhost:~D:127.0.0.1" (port-of a))
             (format nil "https://alt.localhost:~D/eps-bridges/whoami" (port-of a)))
      (is (= 0 code))
      (is (eql 0 (search "none|http/1.1|alt.localhost|" out)) "~A" out))
    (is (string= "" (log-text log)))))

(test hunchentoot-alpn-agrees-http/1.1
  (with-acceptor (a log)
    (is (contains "ALPN protocol: http/1.1" (s-client (port-of a) "-alpn" "http/1.1")))
    (is (contains "ALPN protocol: http/1.1" (s-client (port-of a) "-alpn" "h2,http/1.1")))
    ;; A client that offers only h2 is refused (no_application_protocol),
    ;; and that is logged; the next client is served.
    (let ((h2 (s-client (port-of a) "-alpn" "h2")))
      (is (not (contains "ALPN protocol:" h2)))
      (is (contains "no application protocol" h2) "~A" h2))
    (is (eql 200 (nth-value 1 (curl (port-of a) "/eps-bridges/hello"))))
    (is (contains "TLS handshake with 127.0.0.1:" (log-text log)) "~A" (log-text log))))

;;; Client certificates

(defun client-cert-options (name)
  (list "--cert" (cert (format nil "~A.pem" name)) "--key" (cert (format nil "~A.key" name))))

(test hunchentoot-requires-a-client-certificate
  (with-acceptor (a log :client-certificates :require :ca-file (cert "ca.pem"))
    ;; Without one: refused, no HTTP reply.
    (multiple-value-bind (body status code) (curl (port-of a) "/eps-bridges/whoami")
      (is (/= 0 code) "curl exit ~D, body ~S" code body)
      (is (eql 0 status)))
    ;; One from another CA: refused too.
    (multiple-value-bind (body status code)
        (apply #'curl (port-of a) "/eps-bridges/whoami" (client-cert-options "rogue"))
      (is (/= 0 code) "curl exit ~D, body ~S" code body)
      (is (eql 0 status)))
    ;; With the CA's client certificate: served, its subject in the handler.
    (multiple-value-bind (body status code)
        (apply #'curl (port-of a) "/eps-bridges/whoami" (client-cert-options "client"))
      (is (= 0 code))
      (is (eql 200 status))
      (is (eql 0 (search "O = Epsilon, CN = epsilon client|http/1.1|" body)) "~A" body))
    (let ((text (log-text log)))
      (is (<= 2 (count-lines-with "TLS handshake with 127.0.0.1:" text)) "~A" text))))

(defun count-lines-with (needle text)
  (count-if (lambda (line) (search needle line))
            (uiop:split-string text :separator (string #\Newline))))

(test hunchentoot-requests-a-client-certificate
  (with-acceptor (a log :client-certificates :request :ca-file (cert "ca.pem"))
    (multiple-value-bind (body status) (curl (port-of a) "/eps-bridges/whoami")
      (is (eql 200 status))
      (is (eql 0 (search "none|" body)) "~A" body))
    (multiple-value-bind (body status)
        (apply #'curl (port-of a) "/eps-bridges/whoami" (client-cert-options "client"))
      (is (eql 200 status))
      (is (eql 0 (search "O = Epsilon, CN = epsilon client|" body)) "~A" body))
    ;; A certificate sent must verify even when only requested.
    (is (/= 0 (nth-value 2 (apply #'curl (port-of a) "/eps-bridges/whoami"
                                  (client-cert-options "rogue")))))))

;;; Failures stay with their connection

(defun raw-connect (port)
  "A blocking TCP socket (epsilon.net.core) connected to 127.0.0.1:PORT."
  (let ((fd (epsilon.net.core:socket-create epsilon.net.core:+af-inet+
                                            epsilon.net.core:+sock-stream+ 0)))
    (epsilon.net.core:socket-connect fd (epsilon.net.core:make-inet-address "127.0.0.1" port)
                                     :timeout 10)
    fd))

(defun wait-for-eof (fd timeout)
  "Read and drop what FD receives until the peer closes it: T then, NIL
after TIMEOUT seconds."
  (handler-case
      (loop (let ((data (epsilon.net.core:socket-recv fd 4096 0 :timeout timeout)))
              (when (zerop (length data)) (return t))))
    (epsilon.net.core:socket-timeout () nil)
    (epsilon.net.core:socket-error () t)))

(test hunchentoot-drops-a-silent-client-after-the-handshake-timeout
  ;; One worker thread: the silent client holds it until its handshake
  ;; times out; only then is curl's connection served.
  (with-acceptor (a log :handshake-timeout 1
                        :taskmaster (make-instance 'hunchentoot:one-thread-per-connection-taskmaster
                                                   :max-thread-count 1 :max-accept-count 10))
    (let* ((fd (raw-connect (port-of a)))
           (start (get-internal-real-time)))
      (unwind-protect
           (progn
             (sleep 0.2)              ; the worker is in the handshake now
             (multiple-value-bind (body status code seconds) (curl (port-of a) "/eps-bridges/hello")
               (is (= 0 code))
               (is (eql 200 status))
               (is (string= "hello" body))
               (is (<= 0.5 seconds 10) "curl waited ~,2F s for the worker" seconds))
             (is (wait-for-eof fd 10) "the silent client was never dropped")
             (let ((elapsed (/ (- (get-internal-real-time) start) internal-time-units-per-second)))
               (is (<= 0.9 elapsed 10) "dropped after ~,2F s" elapsed)))
        (epsilon.net.core:socket-close fd)))
    (let ((text (log-text log)))
      (is (= 1 (count-lines-with "TLS handshake with 127.0.0.1:" text)) "~A" text)
      (is (contains "[WARNING]" text))
      (is (contains "ETIMEDOUT" text) "~A" text))))

(test hunchentoot-logs-a-failed-handshake-and-serves-the-next
  (with-acceptor (a log)
    ;; Plain HTTP to the TLS port: that connection is closed...
    (let ((fd (raw-connect (port-of a))))
      (unwind-protect
           (progn
             (epsilon.net.core:socket-send fd (sb-ext:string-to-octets
                                                (format nil "GET / HTTP/1.1~C~CHost: a~C~C~C~C"
                                                        #\Return #\Linefeed #\Return #\Linefeed
                                                        #\Return #\Linefeed)))
             (is (wait-for-eof fd 10)))
        (epsilon.net.core:socket-close fd)))
    ;; ... a client that connects and leaves at once too ...
    (epsilon.net.core:socket-close (raw-connect (port-of a)))
    ;; ... and the next one is served.
    (is (eql 200 (nth-value 1 (curl (port-of a) "/eps-bridges/hello"))))
    (let ((text (log-text log)))
      (is (<= 1 (count-lines-with "TLS handshake with 127.0.0.1:" text) 2) "~A" text)
      (is (not (contains "Error while processing connection" text)) "~A" text)
      (is (not (contains "plain HTTP" text))))))

(test hunchentoot-ends-idle-and-abruptly-closed-connections-quietly
  (with-acceptor (a log :read-timeout 1 :write-timeout 1)
    ;; Idle past :READ-TIMEOUT after a request: closed by the server.
    (let ((s (epsilon.drakma:open-tls-stream (format nil "https://localhost:~D/" (port-of a))
                                             :ca-file (cert "ca.pem"))))
      (unwind-protect
           (multiple-value-bind (body status)
               (drakma:http-request (format nil "https://localhost:~D/eps-bridges/hello" (port-of a))
                                    :stream s :close nil)
             (is (eql 200 status))
             (is (string= "hello" body))
             (let ((start (get-internal-real-time)))
               ;; The server's close: the end of the TLS stream.
               (is (null (handler-case (read-byte (flexi-streams:flexi-stream-stream s) nil nil)
                           (epsilon.crypto:tls-error () nil))))
               (is (<= 0.5 (/ (- (get-internal-real-time) start) internal-time-units-per-second) 10))))
        (close s)))
    ;; A client that does a handshake and leaves without close_notify.
    (multiple-value-bind (out code)
        (run-peer "/bin/sh" "-c"
             (format nil "printf 'GET /eps-bridges/hello HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n' | openssl s_client -quiet -connect 127.0.0.1:~D -CAfile ~A 2>/dev/null"
                     (port-of a) (cert "ca.pem")))
      (declare (ignore code))
      (is (contains "hello" out) "~A" out))
    (sleep 0.3)
    (let ((text (log-text log)))
      (is (not (contains "Error while processing connection" text)) "~A" text)
      (is (not (contains "TLS handshake" text)) "~A" text))))

(test hunchentoot-serves-50-concurrent-keep-alive-clients
  (with-acceptor (a log)
    (let* ((n 50) (requests 5)
           (url (format nil "https://localhost:~D/eps-bridges/whoami" (port-of a)))
           (lock (sb-thread:make-mutex)) (ready (sb-thread:make-waitqueue)) (connected 0)
           (threads
             (loop for i below n
                   collect (sb-thread:make-thread
                            (lambda ()
                              (handler-case
                                  (let ((s (epsilon.drakma:open-tls-stream url :ca-file (cert "ca.pem"))))
                                    (unwind-protect
                                         (progn
                                           ;; Every client is connected before any sends.
                                           (sb-thread:with-mutex (lock)
                                             (incf connected)
                                             (sb-thread:condition-broadcast ready)
                                             (loop until (or (= connected n))
                                                   do (or (sb-thread:condition-wait ready lock :timeout 60)
                                                          (return))))
                                           (loop repeat requests
                                                 collect (multiple-value-bind (body status headers uri stream)
                                                             (drakma:http-request url :stream s :close nil)
                                                           (declare (ignore headers uri))
                                                           (list status body (eq stream s)))))
                                      (close s)))
                                (error (e) (list :error (princ-to-string e)))))
                            :name (format nil "bridges client ~D" i))))
           (results (mapcar (lambda (th) (sb-thread:join-thread th :default '(:timeout) :timeout 120))
                            threads)))
      (is (= n connected))
      (let ((ports '()))
        (loop for result in results
              do (is (and (listp result) (= requests (length result))
                          (every (lambda (r) (and (eql 200 (first r)) (third r))) result))
                     "~S" result)
                 (when (and (listp result) (every #'listp result))
                   (let ((client-ports (remove-duplicates
                                        (mapcar (lambda (r)
                                                  (let ((body (second r)))
                                                    (and (stringp body)
                                                         (subseq body (1+ (position #\| body :from-end t))))))
                                                result)
                                        :test #'equal)))
                     ;; Keep-alive: one connection (one client port) per client.
                     (is (= 1 (length client-ports)) "~S" result)
                     (push (first client-ports) ports))))
        (is (= n (length (remove-duplicates ports :test #'equal))))))
    (is (string= "" (log-text log)) "~A" (log-text log))))

;;; Bad arguments

(test hunchentoot-acceptor-rejects-bad-settings
  (flet ((make (&rest initargs)
           (apply #'make-instance 'epsilon.hunchentoot:tls-acceptor
                  (append initargs (list :port 0 :address "127.0.0.1")))))
    (let ((before (settled-counts)))
      (signals epsilon.crypto:tls-error
        (make :certificate-file "/nonexistent/cert.pem" :key-file (cert "server.key")))
      (handler-case (make :certificate-file (cert "server.pem") :key-file (cert "wrong.key"))
        (epsilon.crypto:tls-error (e)
          (is (= epsilon.crypto:+ekeymismatch+ (epsilon.crypto:epsilon-error-code e))))
        (:no-error (a) (declare (ignore a)) (fail "a key that does not match was accepted")))
      (signals epsilon.crypto:tls-error
        (make :certificate-file (cert "garbage.pem") :key-file (cert "server.key")))
      (signals error (make))                                     ; no certificate at all
      (signals error (make :certificate-file (cert "server.pem"))) ; no key
      (signals error (make :chain-file (cert "ca.pem")
                           :sni-certificates (list (list (cert "alt.pem") (cert "alt.key")))))
      (signals type-error (make :certificate-file (cert "server.pem") :key-file (cert "server.key")
                                :client-certificates :maybe))
      (signals type-error (make :certificate-file (cert "server.pem") :key-file (cert "server.key")
                                :handshake-timeout -1))
      (signals type-error (make :certificate-file (cert "server.pem") :key-file (cert "server.key")
                                :alpn '("has,comma")))
      (handler-case (make :certificate-file (cert "server.pem") :key-file (cert "server.key")
                          :chain-file "/nonexistent/chain.pem")
        (epsilon.crypto:tls-error (e)
          (is (= epsilon.crypto:+ebadpem+ (epsilon.crypto:epsilon-error-code e))))
        (:no-error (a) (declare (ignore a)) (fail "a missing chain file was accepted")))
      ;; ca2 did not issue server.pem: a chain that does not continue the
      ;; certificate is refused when the acceptor is made, not sent.
      (handler-case (make :certificate-file (cert "server.pem") :key-file (cert "server.key")
                          :chain-file (cert "ca2.pem"))
        (epsilon.crypto:tls-error (e)
          (is (= epsilon.crypto:+ebadpem+ (epsilon.crypto:epsilon-error-code e))))
        (:no-error (a) (declare (ignore a)) (fail "a chain that does not continue the leaf was accepted")))
      (is (equal before (settled-counts))))))

(defun pem-base64 (path)
  "The base64 text of the first certificate in the PEM file PATH, without
its line breaks."
  (with-open-file (in path)
    (with-output-to-string (out)
      (loop for line = (read-line in nil)
            until (or (null line) (search "-----BEGIN" line)))
      (loop for line = (read-line in nil)
            until (or (null line) (search "-----END" line))
            do (write-string (string-trim '(#\Return #\Space) line) out)))))

(defun shows-certificate-p (path s-client-output)
  "True when S-CLIENT-OUTPUT (of -showcerts) holds the certificate of the
PEM file PATH."
  (contains (pem-base64 path) (remove-if (lambda (c) (member c '(#\Newline #\Return)))
                                         s-client-output)))

(test hunchentoot-sends-the-chain-file
  (let ((leftovers (lambda ()
                     (directory (merge-pathnames
                                 (format nil "epsilon-hunchentoot-chain-~D-*.pem" (sb-unix:unix-getpid))
                                 (uiop:temporary-directory))))))
    (with-acceptor (a log :chain-file (cert "ca.pem"))
      (let ((out (s-client (port-of a) "-showcerts" "-servername" "localhost")))
        (is (contains " 0 s:CN = localhost" out) "~A" out)
        (is (contains " 1 s:CN = " out) "the chain's CA is not sent: ~A" out)
        (is (shows-certificate-p (cert "ca.pem") out) "-showcerts does not show ca.pem: ~A" out))
      (is (eql 200 (nth-value 1 (curl (port-of a) "/eps-bridges/hello")))))
    (is (null (funcall leftovers)) "the combined chain file is left in the temporary directory")))

(test hunchentoot-chain-file-completes-an-intermediate-chain
  ;; chained.pem is signed by inter.pem, which only the chain file holds:
  ;; a client that trusts the root alone verifies only if it is sent.
  (with-acceptor (a log :certificate-file (cert "chained.pem") :key-file (cert "chained.key")
                        :chain-file (cert "inter.pem"))
    (let ((out (s-client (port-of a) "-showcerts" "-servername" "localhost" "-verify_return_error")))
      (is (contains " 0 s:CN = localhost" out) "~A" out)
      (is (contains " 1 s:CN = Epsilon Test Intermediate" out) "~A" out)
      (is (shows-certificate-p (cert "inter.pem") out) "-showcerts does not show inter.pem: ~A" out)
      (is (contains "Verify return code: 0 (ok)" out) "~A" out))
    (is (eql 200 (nth-value 1 (curl (port-of a) "/eps-bridges/hello")))))
  ;; Without the chain file the same leaf does not verify: the test above
  ;; depends on it.
  (with-acceptor (a log :certificate-file (cert "chained.pem") :key-file (cert "chained.key"))
    (let ((out (s-client (port-of a) "-showcerts" "-servername" "localhost")))
      (is (not (shows-certificate-p (cert "inter.pem") out)) "~A" out)
      (is (not (contains "Verify return code: 0 (ok)" out)) "~A" out))))

(defun read-reply-to-eof (port request)
  "Send REQUEST over a TLS connection (epsilon.crypto, verifying) to
127.0.0.1:PORT and read the reply until the end of the connection: the
reply as Latin-1 text, and whether that end was the server's close_notify
(:CLOSE-NOTIFY) or a cut (:CUT)."
  (let ((fd (raw-connect port)))
    (unwind-protect
         (epsilon.crypto:with-tls-context (ctx :ca-file (cert "ca.pem"))
           (epsilon.crypto:with-tls-connection (conn ctx fd :hostname "127.0.0.1" :timeout 10)
             (epsilon.crypto:with-tls-stream (s conn :element-type '(unsigned-byte 8)
                                                     :external-format :latin-1)
               (write-sequence (sb-ext:string-to-octets request :external-format :latin-1) s)
               (finish-output s)
               (let ((out (make-string-output-stream)) (end nil))
                 (handler-case
                     (loop for b = (read-byte s nil nil)
                           while b do (write-char (code-char b) out)
                           finally (setf end :close-notify))
                   (epsilon.crypto:tls-unexpected-eof () (setf end :cut)))
                 (values (get-output-stream-string out) end)))))
      (epsilon.net.core:socket-close fd))))

(test hunchentoot-ends-a-closing-connection-with-close-notify
  (with-acceptor (a log)
    (let ((crlf (format nil "~C~C" #\Return #\Linefeed)))
      ;; HTTP/1.0: the server closes after the reply.
      (multiple-value-bind (reply end)
          (read-reply-to-eof (port-of a) (format nil "GET /eps-bridges/hello HTTP/1.0~AHost: a~A~A"
                                                 crlf crlf crlf))
        (is (eql 0 (search "HTTP/1.1 200" reply)) "~S" reply)
        (is (string= "hello" (subseq reply (- (length reply) 5))))
        (is (eq :close-notify end)))
      ;; HTTP/1.1, Connection: close, a chunked reply: its last chunk
      ;; arrives before close_notify.
      (multiple-value-bind (reply end)
          (read-reply-to-eof (port-of a)
                             (format nil "GET /eps-bridges/chunked HTTP/1.1~AHost: a~AConnection: close~A~A"
                                     crlf crlf crlf crlf))
        (is (search "Transfer-Encoding: chunked" reply) "~S" (subseq reply 0 (min 300 (length reply))))
        (is (string= (format nil "~A0~A~A" crlf crlf crlf) (subseq reply (- (length reply) 7))))
        (is (eq :close-notify end))))
    (is (string= "" (log-text log)) "~A" (log-text log))))
