;;;; SPDX-License-Identifier: MIT
;;;; suite-bridges-drakma.lisp - epsilon.drakma: Drakma's http-request over
;;;; OPEN-TLS-STREAM, against the `make run` server and against Hunchentoot
;;;; on epsilon TLS; and usocket loaded beside epsilon.

(in-package #:epsilon.linux.tests.bridges)

(in-suite epsilon.linux.tests::bridges)

(hunchentoot:define-easy-handler (eps-bridges-echo :uri "/eps-bridges/echo") ()
  (setf (hunchentoot:content-type*) "text/plain; charset=utf-8")
  (format nil "~A ~A ~A" (hunchentoot:request-method*)
          (or (hunchentoot:raw-post-data :force-text t) "")
          (hunchentoot:remote-port*)))

(defconstant +chunked-size+ 100000)

(hunchentoot:define-easy-handler (eps-bridges-chunked :uri "/eps-bridges/chunked") ()
  ;; No Content-Length: Hunchentoot sends an HTTP/1.1 reply chunked.
  (setf (hunchentoot:content-type*) "application/octet-stream")
  (let ((out (hunchentoot:send-headers)))
    (dotimes (i +chunked-size+)
      (write-byte (mod i 251) out))
    (finish-output out))
  nil)

(test drakma-get-post-keep-alive-and-chunked-through-the-bridge
  (with-acceptor (a log)
    (let ((base (format nil "https://localhost:~D/eps-bridges/" (port-of a)))
          (before (epsilon.linux:open-fd-count)))
      ;; GET, then POST, then a chunked reply, on one kept-alive stream.
      (let ((s (epsilon.drakma:open-tls-stream base :ca-file (cert "ca.pem"))))
        (unwind-protect
             (multiple-value-bind (body status headers uri stream must-close)
                 (drakma:http-request (format nil "~Aecho" base) :stream s :close nil)
               (declare (ignore headers uri))
               (is (eql 200 status))
               (is (eq s stream))
               (is (not must-close))
               (is (eql 0 (search "GET  " body)) "~S" body)
               (let ((port (subseq body 5)))
                 (multiple-value-bind (body status)
                     (drakma:http-request (format nil "~Aecho" base) :method :post
                                          :content "posted body" :content-type "text/plain"
                                          :stream s :close nil)
                   (is (eql 200 status))
                   (is (string= (format nil "POST posted body ~A" port) body) "~S" body))
                 (multiple-value-bind (body status)
                     (drakma:http-request (format nil "~Aecho" base) :method :post
                                          :parameters '(("a" . "1") ("b" . "two"))
                                          :stream s :close nil)
                   (is (eql 200 status))
                   (is (string= (format nil "POST a=1&b=two ~A" port) body) "~S" body))
                 (multiple-value-bind (body status headers)
                     (drakma:http-request (format nil "~Achunked" base) :stream s :close nil)
                   (is (eql 200 status))
                   (is (string-equal "chunked" (drakma:header-value :transfer-encoding headers)))
                   (is (null (drakma:header-value :content-length headers)))
                   (is (= +chunked-size+ (length body)))
                   (is (every (lambda (b i) (= b (mod i 251)))
                              body (loop for i below (length body) collect i))))
                 ;; The same connection after the chunked reply.
                 (multiple-value-bind (body status)
                     (drakma:http-request (format nil "~Aecho" base) :stream s :close nil)
                   (is (eql 200 status))
                   (is (string= (format nil "GET  ~A" port) body) "~S" body))))
          (close s)))
      ;; Drakma's default (:close t) closes the stream, and the socket with it.
      (let ((s (epsilon.drakma:open-tls-stream base :ca-file (cert "ca.pem"))))
        (is (= (1+ before) (epsilon.linux:open-fd-count)))
        (is (eql 200 (nth-value 1 (drakma:http-request (format nil "~Ahello" base) :stream s))))
        (is (not (open-stream-p s)))
        (is (= before (epsilon.linux:open-fd-count)))))
    (is (string= "" (log-text log)) "~A" (log-text log))))

(test drakma-bridge-refuses-bad-arguments-and-unreachable-servers
  (let ((before (settled-counts)))
    (signals error (epsilon.drakma:open-tls-stream "https:///nohost"))
    (signals error (epsilon.drakma:open-tls-stream "ftp://localhost/"))
    ;; TLS to an http URL's port would be neither http nor https: refused
    ;; before any connect (port 1: a connect would be refused instead).
    (let ((e (handler-case (progn (epsilon.drakma:open-tls-stream "http://127.0.0.1:1/") nil)
               (error (e) e))))
      (is (typep e 'simple-error) "~S" e)
      (is (search "not an https URL" (princ-to-string e)) "~A" e))
    ;; A port nobody listens on: a SOCKET-ERROR, nothing left open.
    (let ((port (let ((fd (raw-connect-listener)))
                  (prog1 (epsilon.net.core:address-port (epsilon.net.core:socket-local-address fd))
                    (epsilon.net.core:socket-close fd)))))
      (signals epsilon.net.core:socket-error
        (epsilon.drakma:open-tls-stream (format nil "https://127.0.0.1:~D/" port)
                                        :ca-file (cert "ca.pem") :timeout 5)))
    ;; A missing CA file: the context's TLS-ERROR.
    (signals epsilon.crypto:tls-error
      (epsilon.drakma:open-tls-stream "https://127.0.0.1:1/" :ca-file "/nonexistent/ca.pem"))
    (is (equal before (settled-counts)))))

(defun raw-connect-listener ()
  "A listening socket on 127.0.0.1, port 0 (closed by the caller)."
  (let ((fd (epsilon.net.core:socket-create epsilon.net.core:+af-inet+
                                            epsilon.net.core:+sock-stream+ 0)))
    (epsilon.net.core:socket-bind fd (epsilon.net.core:make-inet-address "127.0.0.1" 0))
    (epsilon.net.core:socket-listen fd 1)
    fd))

;;; Against the project's own `make run` server (a child SBCL)

(test drakma-fetches-from-the-make-run-server
  (let ((main (epsilon.linux.tests.server::start-main "PORT=0" "TLS_PORT=0"))
        (ca (namestring (merge-pathnames "build/run-certs/ca.pem"
                                         (epsilon.linux.tests.server::root)))))
    (unwind-protect
         (let ((port (epsilon.linux.tests.server::main-tls-port main))
               (before (settled-counts)))
           (is (integerp port))
           (when port
             (dolist (host '("localhost" "127.0.0.1"))
               (let* ((url (format nil "https://~A:~D/" host port))
                      (s (epsilon.drakma:open-tls-stream url :ca-file ca)))
                 (multiple-value-bind (body status)
                     (drakma:http-request url :stream s :force-binary t)
                   (is (eql 200 status))
                   (is (string= "Hello, World!" (sb-ext:octets-to-string body))))))
             ;; Without the run CA (the system's CAs): refused.
             (signals epsilon.crypto:tls-verification-error
               (epsilon.drakma:open-tls-stream (format nil "https://localhost:~D/" port)))
             ;; With it, but checking a name the certificate does not hold.
             (handler-case (epsilon.drakma:open-tls-stream (format nil "https://127.0.0.1:~D/" port)
                                                           :ca-file ca :hostname "wrong.example")
               (epsilon.crypto:tls-verification-error (e)
                 (is (typep e 'epsilon.crypto:tls-hostname-mismatch)))
               (:no-error (s) (close s) (fail "a wrong host name was accepted")))
             (is (equal before (settled-counts)))))
      (epsilon.linux.tests.server::stop-main main))))

;;; usocket side by side (docs/bridges.md)

(test usocket-and-epsilon-side-by-side
  ;; The names docs/bridges.md lists as clashing are exactly the ones that do.
  (let ((clashes (sort (loop for package in '(:epsilon.net.core :epsilon.crypto :epsilon.sys.epoll
                                              :epsilon.linux)
                             nconc (loop for s being the external-symbols of package
                                         when (and (find-symbol (symbol-name s) :usocket)
                                                   (eq :external (nth-value 1 (find-symbol (symbol-name s) :usocket)))
                                                   (not (eq s (find-symbol (symbol-name s) :usocket))))
                                           collect (symbol-name s)))
                       #'string<)))
    (is (equal (remove-duplicates clashes :test #'string=) (documented-clashes))))
  ;; An fd from a usocket socket works with epsilon.sys.epoll.
  (let ((listener (usocket:socket-listen "127.0.0.1" 0 :reuse-address t)))
    (unwind-protect
         (let ((fd (sb-bsd-sockets:socket-file-descriptor (usocket:socket listener))))
           (epsilon.sys.epoll:with-epoll (ep)
             (epsilon.sys.epoll:add-event ep fd epsilon.sys.epoll:+epollin+)
             (is (null (epsilon.sys.epoll:wait-for-events ep 8 0)))
             (let ((client (usocket:socket-connect "127.0.0.1" (usocket:get-local-port listener))))
               (unwind-protect
                    (let ((events (epsilon.sys.epoll:wait-for-events ep 8 5000)))
                      (is (= 1 (length events)))
                      (is (= fd (epsilon.sys.epoll:epoll-event-data (first events)))))
                 (usocket:socket-close client)))))
      (usocket:socket-close listener))))

(defun documented-clashes ()
  "The names of the line of docs/bridges.md that begins \"Clashing names:\"."
  (with-open-file (in (merge-pathnames "docs/bridges.md" (epsilon.linux.tests::project-file "")))
    (loop for line = (read-line in nil)
          while line
          when (eql 0 (search "Clashing names:" line))
            return (sort (mapcar (lambda (s) (string-upcase (string-trim " `." s)))
                                 (remove "" (uiop:split-string (subseq line 15) :separator ",")
                                         :test #'string= :key (lambda (s) (string-trim " `." s))))
                         #'string<))))

(test drakma-bridge-options-context-verify-and-client-certificate
  (with-acceptor (a log :client-certificates :require :ca-file (cert "ca.pem"))
    (let ((url (format nil "https://localhost:~D/eps-bridges/whoami" (port-of a))))
      ;; A client certificate for a server that requires one.
      (let ((s (epsilon.drakma:open-tls-stream url :ca-file (cert "ca.pem")
                                                   :cert-file (cert "client.pem")
                                                   :key-file (cert "client.key"))))
        (multiple-value-bind (body status) (drakma:http-request url :stream s)
          (is (eql 200 status))
          (is (eql 0 (search "O = Epsilon, CN = epsilon client|" body)) "~S" body)))
      ;; The caller's context: used for two streams, and still the
      ;; caller's (not freed) after both are closed.
      (epsilon.crypto:with-tls-context (ctx :ca-file (cert "ca.pem")
                                            :cert-file (cert "client.pem")
                                            :key-file (cert "client.key"))
        (dotimes (i 2)
          (is (eql 200 (nth-value 1 (drakma:http-request
                                     url :stream (epsilon.drakma:open-tls-stream url :context ctx))))))
        (is (eql 200 (nth-value 1 (drakma:http-request
                                   url :stream (epsilon.drakma:open-tls-stream url :context ctx))))
            "the context was freed with the first stream")))
    (let ((url (format nil "https://localhost:~D/eps-bridges/hello" (port-of a))))
      ;; :VERIFY NIL accepts a server the client cannot verify (no CA given).
      (let ((s (epsilon.drakma:open-tls-stream url :verify nil :cert-file (cert "client.pem")
                                                   :key-file (cert "client.key"))))
        (is (eql 200 (nth-value 1 (drakma:http-request url :stream s)))))
      ;; Verifying, without the CA: refused, nothing left open.
      (let ((before (epsilon.linux:open-fd-count)))
        (signals epsilon.crypto:tls-verification-error
          (epsilon.drakma:open-tls-stream url :cert-file (cert "client.pem")
                                              :key-file (cert "client.key")))
        (is (= before (epsilon.linux:open-fd-count)))))))
