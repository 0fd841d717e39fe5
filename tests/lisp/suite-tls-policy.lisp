;;;; SPDX-License-Identifier: MIT
;;;; suite-tls-policy.lisp - what a Lisp server offers: the cipher policy
;;;; (:POLICY, AEAD only by default under TLS 1.2), the chain file
;;;; (:CHAIN-FILE) and OCSP stapling (:OCSP-RESPONSE-FILE), seen by our own
;;;; client and by `openssl s_client`.

(in-package #:epsilon.linux.tests)

(def-suite tls-policy :in epsilon-linux
  :description "epsilon.crypto: cipher policy, chain file, OCSP stapling.")
(in-suite tls-policy)

(defparameter *cbc-suite* "ECDHE-ECDSA-AES128-SHA"
  "A TLS 1.2 suite with a CBC cipher and a SHA-1 MAC.")

(defun cbc-client-result (server-policy)
  "Connect a TLS 1.2 client offering only *CBC-SUITE* to a server with
SERVER-POLICY; the client's cipher, or the condition it got."
  (values
   (call-with-server (server-options :policy server-policy)
                     (lambda (conn) (epsilon.crypto:tls-cipher conn))
                     (lambda (port)
                       (handler-case
                           (call-client port (lambda (c)
                                               (epsilon.crypto:tls-handshake c)
                                               (epsilon.crypto:tls-cipher c))
                                        :options (list :ca-file (cert "ca.pem")
                                                       :max-version :tls-v1.2
                                                       :ciphers *cbc-suite*))
                         (epsilon.crypto:tls-error (e) e))))))

(tls-test cbc-only-client-refused-unless-the-server-widens
  (let ((refused (cbc-client-result :intermediate)))
    (is (typep refused 'epsilon.crypto:tls-error) "got ~S" refused))
  (is (equal *cbc-suite* (cbc-client-result :compatible))))

(tls-test policy-option-is-checked
  (signals type-error (epsilon.crypto:make-tls-context :policy :legacy))
  (signals type-error (epsilon.crypto:make-tls-context :ocsp-response-file 42))
  (signals type-error (epsilon.crypto:make-tls-context :chain-file 42)))

(tls-test chain-file-is-sent-and-verified
  (let ((options (list :cert-file (cert "chained.pem") :key-file (cert "chained.key")
                       :chain-file (cert "inter.pem"))))
    (multiple-value-bind (issuer results)
        (call-with-server options
                          (lambda (conn) (epsilon.crypto:tls-version conn))
                          (lambda (port)
                            (call-client port (lambda (c)
                                                (epsilon.crypto:tls-handshake c)
                                                (epsilon.crypto:certificate-issuer
                                                 (epsilon.crypto:tls-peer-certificate c))))))
      (is (equal "CN = Epsilon Test Intermediate" issuer))
      (is (not (typep (first results) 'condition)) "server: ~S" results))))

(defun tls-error-code-of (thunk)
  "The code of the TLS-ERROR THUNK signals, or NIL."
  (handler-case (progn (funcall thunk) nil)
    (epsilon.crypto:tls-error (e) (epsilon.linux.errors:epsilon-error-code e))))

(tls-test bad-chain-and-ocsp-files-signal
  (flet ((server (&rest more)
           (tls-error-code-of
            (lambda ()
              (epsilon.crypto:tls-context-free
               (apply #'epsilon.crypto:make-tls-context :role :server
                      :cert-file (cert "chained.pem") :key-file (cert "chained.key") more))))))
    (is (eql epsilon.linux.errors:+ebadpem+ (server :chain-file (cert "missing.pem"))))
    (is (eql epsilon.linux.errors:+ebadpem+ (server :chain-file (cert "ca2.pem"))))
    (is (eql epsilon.linux.errors:+ebadpem+ (server :ocsp-response-file (cert "garbage.pem"))))
    (is (eql epsilon.linux.errors:+ebadpem+ (server :ocsp-response-file (cert "missing.der")))))
  (is (eql epsilon.linux.errors:+einval+ (tls-error-code-of
                     (lambda ()
                       (epsilon.crypto:make-tls-context
                        :ca-file (cert "ca.pem") :ocsp-response-file (cert "server.ocsp")))))))

(tls-test ocsp-response-is-stapled
  (multiple-value-bind (output results)
      (call-with-server (server-options :ocsp-response-file (cert "server.ocsp"))
                        (close-handler #'epsilon.crypto:tls-version)
                        (lambda (port) (s-client port "-status" "-servername" "localhost")))
    (is (search "OCSP Response Status: successful" output) "s_client printed ~S" output)
    (is (search "Cert Status: good" output) "s_client printed ~S" output)
    (is (not (typep (first results) 'condition)) "server: ~S" results)))

;;; The demo certificate of `make run` (tests/data/make-certs.sh)

(defconstant +unix-epoch-offset+ (encode-universal-time 0 0 0 1 1 1970 0))

(defun shell-status (command &rest args)
  "Run COMMAND with ARGS (bounded to 120 s); its exit code."
  (sb-ext:process-exit-code
   (sb-ext:run-program "/usr/bin/timeout" (list* "120" command args)
                       :search nil :output nil :error nil)))

(defun days-valid (pem)
  "How many days the certificate in the file PEM is valid for, from now."
  (let ((out (with-output-to-string (s)
               (sb-ext:run-program "/usr/bin/openssl"
                                   (list "x509" "-noout" "-enddate" "-in" pem)
                                   :output s :error nil))))
    ;; notAfter=Mar  3 13:17:01 2027 GMT
    (let ((end (subseq out (1+ (position #\= out)) (position #\Newline out))))
      (floor (- (parse-integer
                 (with-output-to-string (s)
                   (sb-ext:run-program "/bin/date" (list "-u" "-d" end "+%s") :output s))
                 :junk-allowed t)
                (- (get-universal-time) +unix-epoch-offset+))
             86400))))


(tls-test demo-certificate-lasts-90-days-and-is-remade-when-expired
  (let* ((dir (format nil "/tmp/epsilon-certs-~D-~D/" (sb-unix:unix-getpid) (random 1000000)))
         (script (namestring (project-file "tests/data/make-certs.sh")))
         (server (concatenate 'string dir "server.pem")))
    (unwind-protect
         (progn
           (is (eql 0 (shell-status "/bin/sh" script dir)))
           (is (<= 88 (days-valid server) 90) "valid ~D days" (days-valid server))
           (is (probe-file (concatenate 'string dir "server.ocsp")))
           ;; An expired server certificate: the next run makes the set again.
           (is (eql 0 (shell-status "/bin/cp" (concatenate 'string dir "expired.pem") server)))
           (is (not (eql 0 (shell-status "/usr/bin/openssl" "x509" "-checkend" "0" "-noout"
                                         "-in" server))))
           (is (eql 0 (shell-status "/bin/sh" script dir)))
           (is (eql 0 (shell-status "/usr/bin/openssl" "x509" "-checkend" "86400" "-noout"
                                    "-in" server)))
           (is (<= 88 (days-valid server) 90)))
      (shell-status "/bin/rm" "-rf" dir))))
