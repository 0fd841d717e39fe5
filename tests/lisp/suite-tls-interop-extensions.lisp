;;;; SPDX-License-Identifier: MIT
;;;; suite-tls-interop-extensions.lisp - ALPN, SNI, mutual TLS and streams against
;;;; the openssl and curl commands on loopback: ALPN both ways, SNI and mutual
;;;; TLS seen by s_client, curl through a stream-based Lisp server.

(in-package #:epsilon.linux.tests)

(in-suite tls-interop)

(defun call-with-openssl-server (extra-args function)
  "Run `openssl s_server` for one connection on 127.0.0.1 port 0 with the
server certificate and EXTRA-ARGS; call FUNCTION with its port."
  (let* ((process (sb-ext:run-program "/usr/bin/timeout"
                                      (list* "60" "openssl" "s_server"
                                             "-accept" "127.0.0.1:0" "-naccept" "1"
                                             "-cert" (cert "server.pem") "-key" (cert "server.key")
                                             extra-args)
                                      ;; A pipe held open: s_server quits at
                                      ;; the end of its input.
                                      :output :stream :error nil :wait nil :input :stream))
         (port nil))
    (unwind-protect
         (progn
           (loop for line = (read-line (sb-ext:process-output process) nil)
                 while line
                 do (let ((p (search "ACCEPT 127.0.0.1:" line)))
                      (when p
                        (setf port (parse-integer line :start (+ p 17)))
                        (return))))
           (unless port (error "openssl s_server did not start"))
           (funcall function port))
      (when (sb-ext:process-alive-p process)
        (sb-ext:process-kill process 15))
      (sb-ext:process-wait process)
      (sb-ext:process-close process))))

(tls-test lisp-client-alpn-against-openssl-s-server
  (dolist (case '((("http/1.1") "http/1.1")
                  (("foo" "h2") "h2")
                  (("http/1.1" "h2") "h2")))
    (destructuring-bind (offer expected) case
      (is (equal expected
                 (call-with-openssl-server
                  (list "-alpn" "h2,http/1.1")
                  (lambda (port)
                    (with-fd (fd (connect-to port))
                      (epsilon.crypto:with-tls-context (ctx :ca-file (cert "ca.pem") :alpn offer)
                        (epsilon.crypto:with-tls-connection (c ctx fd :hostname "localhost"
                                                                      :timeout 30)
                          (epsilon.crypto:tls-handshake c)
                          (prog1 (epsilon.crypto:tls-alpn-protocol c)
                            (finish-tls c))))))))
          "offer ~S" offer))))

(defun s-client (port &rest args)
  "Run `openssl s_client` against PORT (not quiet: it prints its session
summary) with ARGS; its output."
  (run-command "openssl" (list* "s_client" "-connect" (format nil "127.0.0.1:~D" port)
                                "-CAfile" (cert "ca.pem") "-ign_eof" args)
               :input ""))

(defun close-handler (function)
  "A server handler that computes FUNCTION's value, then sends close_notify."
  (lambda (conn)
    (prog1 (funcall function conn)
      (epsilon.crypto:tls-shutdown conn))))

(tls-test openssl-s-client-alpn-against-lisp-server
  (multiple-value-bind (output results)
      (call-with-server (server-options :alpn '("http/1.1" "h2"))
                        (close-handler #'epsilon.crypto:tls-alpn-protocol)
                        (lambda (port) (s-client port "-alpn" "h2,http/1.1")))
    (is (search "ALPN protocol: http/1.1" output) "s_client printed ~S" output)
    (is (equal '("http/1.1") results))))

(tls-test openssl-s-client-sees-the-sni-certificate
  (let ((server (server-options :sni-certificates (list (list (cert "alt.pem") (cert "alt.key"))))))
    (multiple-value-bind (output results)
        (call-with-server server (close-handler #'epsilon.crypto:tls-server-name)
                          (lambda (port)
                            (s-client port "-servername" "alt.localhost"
                                      "-verify_hostname" "alt.localhost" "-verify_return_error")))
      (is (search "CN = alt.localhost" output) "s_client printed ~S" output)
      (is (search "Verify return code: 0 (ok)" output))
      (is (equal '("alt.localhost") results)))
    (multiple-value-bind (output results)
        (call-with-server server (close-handler #'epsilon.crypto:tls-server-name)
                          (lambda (port) (s-client port "-servername" "localhost")))
      (is (search "CN = localhost" output))
      (is (not (search "alt.localhost" output)))
      (is (equal '("localhost") results)))))

(tls-test openssl-s-client-with-a-client-certificate
  (multiple-value-bind (output results)
      (call-with-server (server-options :verify :require :ca-file (cert "ca.pem"))
                        (close-handler (lambda (conn)
                                         (epsilon.crypto:certificate-subject
                                          (epsilon.crypto:tls-peer-certificate conn))))
                        (lambda (port)
                          (s-client port "-servername" "localhost"
                                    "-cert" (cert "client.pem") "-key" (cert "client.key"))))
    (is (search "Verify return code: 0 (ok)" output))
    (is (equal '("O = Epsilon, CN = epsilon client") results))))

(defun stream-http-handler (conn)
  "Serve one HTTP request through a TLS stream; return the request line."
  (epsilon.crypto:with-tls-stream (s conn)
    (let ((request (string-right-trim '(#\Return) (read-line s))))
      (loop for line = (read-line s nil "")
            until (string= (string-right-trim '(#\Return) line) ""))
      (let ((body (format nil "hello through a stream, ~A~%" "é")))
        (format s "HTTP/1.1 200 OK~C~%Content-Type: text/plain; charset=utf-8~C~%~
Content-Length: ~D~C~%Connection: close~C~%~C~%~A"
                #\Return #\Return
                (length (sb-ext:string-to-octets body :external-format :utf-8)) #\Return
                #\Return #\Return body))
      request)))

(tls-test curl-fetches-through-a-stream-server
  (multiple-value-bind (output results)
      (call-with-server (server-options) #'stream-http-handler
                        (lambda (port)
                          (run-command "curl" (list "-sS" "--max-time" "20" "--cacert" (cert "ca.pem")
                                                    "--resolve" (format nil "localhost:~D:127.0.0.1" port)
                                                    (format nil "https://localhost:~D/page" port)))))
    ;; The body is 27 bytes of UTF-8; how run-command decodes the "é"
    ;; depends on the locale.
    (is (eql 0 (search "hello through a stream, " output)) "curl printed ~S" output)
    (is (member (length output) '(26 27)))
    (is (equal '("GET /page HTTP/1.1") results))))
