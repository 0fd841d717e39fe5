;;;; SPDX-License-Identifier: MIT
;;;; suite-tls-interop.lisp - epsilon.crypto against the openssl and curl
;;;; commands on loopback: the Lisp client against `openssl s_server`,
;;;; `openssl s_client` and `curl` against the Lisp server.

(in-package #:epsilon.linux.tests)

(def-suite tls-interop :in epsilon-linux
  :description "epsilon.crypto against openssl s_server, s_client and curl.")
(in-suite tls-interop)

(defun run-command (program args &key input)
  "Run PROGRAM with ARGS (bounded by timeout(1)); return its output."
  (with-output-to-string (out)
    (sb-ext:run-program "/usr/bin/timeout" (list* "30" program args)
                        :search nil :output out :error nil
                        :input (and input (make-string-input-stream input)))))

(tls-test lisp-client-against-openssl-s-server
  (let* ((process (sb-ext:run-program "/usr/bin/timeout"
                                      (list "60" "openssl" "s_server"
                                            "-accept" "127.0.0.1:0" "-naccept" "1" "-rev"
                                            "-cert" (cert "server.pem") "-key" (cert "server.key"))
                                      :output :stream :error nil :wait nil
                                      ;; A pipe held open: s_server quits at the
                                      ;; end of its input (CI gives no stdin).
                                      :input :stream))
         (port nil))
    (unwind-protect
         (progn
           (loop for line = (read-line (sb-ext:process-output process) nil)
                 while line
                 do (let ((p (search "ACCEPT 127.0.0.1:" line)))
                      (when p
                        (setf port (parse-integer line :start (+ p 17)))
                        (return))))
           (is (integerp port))
           (when port
             (with-tls-client (c port :hostname "127.0.0.1")
               (is (eq t (epsilon.crypto:tls-handshake c)))
               (epsilon.crypto:tls-send c (format nil "hello~%"))
               (let ((reply ""))
                 (loop repeat 100 until (search "olleh" reply)
                       do (let ((d (epsilon.crypto:tls-recv c 100)))
                            (when (zerop (length d)) (return))
                            (setf reply (concatenate 'string reply (text d)))))
                 (is (search "olleh" reply) "s_server -rev answered ~S" reply)))))
      (when (sb-ext:process-alive-p process)
        (sb-ext:process-kill process 15))
      (sb-ext:process-wait process)
      (sb-ext:process-close process))))

(tls-test openssl-s-client-against-lisp-server
  (multiple-value-bind (output results)
      (with-tls-server (port)
          (lambda (conn)
            (let ((d (epsilon.crypto:tls-recv conn 100)))
              (epsilon.crypto:tls-send conn (format nil "pong ~A" (text d)))
              (epsilon.crypto:tls-shutdown conn)
              (text d)))
        (run-command "openssl" (list "s_client" "-connect" (format nil "127.0.0.1:~D" port)
                             "-CAfile" (cert "ca.pem") "-verify_return_error"
                             "-verify_hostname" "localhost" "-servername" "localhost"
                             "-quiet" "-ign_eof")
             :input (format nil "ping~%")))
    (is (search "pong ping" output) "s_client printed ~S" output)
    (is (equal (list (format nil "ping~%")) results))))

(defun http-handler (conn)
  "Read one HTTP request and answer with a tiny page."
  (let ((request ""))
    (loop until (search (format nil "~C~C~C~C" #\Return #\Newline #\Return #\Newline) request)
          do (let ((d (epsilon.crypto:tls-recv conn 4096)))
               (when (zerop (length d)) (return))
               (setf request (concatenate 'string request (text d)))))
    (let ((crlf (format nil "~C~C" #\Return #\Newline)))
      (epsilon.crypto:tls-send conn (format nil "HTTP/1.1 200 OK~AContent-Type: text/plain~A~
Content-Length: 19~AConnection: close~A~Ahello from epsilon~%"
                                            crlf crlf crlf crlf crlf)))
    (epsilon.crypto:tls-shutdown conn)
    (subseq request 0 (position #\Return request))))

(tls-test curl-fetches-a-page-from-the-lisp-server
  (multiple-value-bind (output results)
      (with-tls-server (port) #'http-handler
        (run-command "curl" (list "-sS" "--max-time" "20" "--cacert" (cert "ca.pem")
                          "--resolve" (format nil "localhost:~D:127.0.0.1" port)
                          (format nil "https://localhost:~D/" port))))
    (is (equal (format nil "hello from epsilon~%") output))
    (is (equal '("GET / HTTP/1.1") results))))
