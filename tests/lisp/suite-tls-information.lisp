;;;; SPDX-License-Identifier: MIT
;;;; suite-tls-information.lisp - what a connection reports about itself and
;;;; its peer's certificate, checked against the openssl command.

(in-package #:epsilon.linux.tests)

(eval-when (:compile-toplevel :load-toplevel :execute)
  (require :sb-posix)
  (require :sb-introspect))

(def-suite tls-information :in epsilon-linux
  :description "epsilon.crypto: connection and peer-certificate information.")
(in-suite tls-information)

;;; Information

(tls-test information-matches-openssl
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :alpn '("h2"))
          ()
          (wait-close-handler (lambda (conn)
                                (list (epsilon.crypto:tls-version conn)
                                      (epsilon.crypto:tls-server-name conn)
                                      (epsilon.crypto:tls-peer-certificate conn))))
        (call-client port
                     (lambda (c)
                       (let ((before (list (epsilon.crypto:tls-version c)
                                           (epsilon.crypto:tls-cipher c)
                                           (epsilon.crypto:tls-alpn-protocol c)
                                           (epsilon.crypto:tls-peer-certificate c)
                                           (epsilon.crypto:tls-session-reused-p c))))
                         (read-bang c)
                         (list before
                               (epsilon.crypto:tls-version c)
                               (epsilon.crypto:tls-cipher c)
                               (epsilon.crypto:tls-alpn-protocol c)
                               (epsilon.crypto:tls-server-name c)
                               (multiple-value-list (epsilon.crypto:tls-verify-result c))
                               (epsilon.crypto:tls-peer-certificate c))))
                     :options (list :ca-file (cert "ca.pem") :alpn '("h2"))))
    (destructuring-bind (before version cipher alpn name verify peer) client
      (is (equal '(nil nil nil nil nil) before))
      (is (eq :tls-v1.3 version))
      (is (stringp cipher))
      (is (search "TLS_" cipher))
      (is (equal "h2" alpn))
      (is (equal "localhost" name))
      (is (equal '(0 "ok") verify))
      (is (typep peer 'epsilon.crypto:tls-certificate))
      (is (search "TLS-CERTIFICATE" (prin1-to-string peer)))
      (is (equal (fingerprint-of "server.pem") (epsilon.crypto:certificate-fingerprint peer)))
      (is (= 95 (length (epsilon.crypto:certificate-fingerprint peer))))
      (is (equal (openssl-field (cert "server.pem") "-subject" "subject=")
                 (epsilon.crypto:certificate-subject peer)))
      (is (equal (openssl-field (cert "server.pem") "-issuer" "issuer=")
                 (epsilon.crypto:certificate-issuer peer)))
      (is (equal '("DNS:localhost" "IP:127.0.0.1" "IP:::1")
                 (epsilon.crypto:certificate-alt-names peer)))
      (is (<= (epsilon.crypto:certificate-not-before peer) (get-universal-time)
             (epsilon.crypto:certificate-not-after peer)))
      (is (equal (run-command "openssl" (list "x509" "-in" (cert "server.pem")))
                 (epsilon.crypto:certificate-pem peer))))
    (destructuring-bind ((version name peer)) results
      (is (eq :tls-v1.3 version))
      (is (equal "localhost" name))
      (is (null peer) "no client certificate"))))

(tls-test information-tls-1.2-and-dates
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :max-version :tls-v1.2)
          ()
          (wait-close-handler #'epsilon.crypto:tls-version)
        (call-client port (lambda (c)
                            (read-bang c)
                            (list (epsilon.crypto:tls-version c)
                                  (epsilon.crypto:tls-cipher c)
                                  (epsilon.crypto:tls-peer-certificate c)))))
    (destructuring-bind (version cipher peer) client
      (is (eq :tls-v1.2 version))
      (is (and (stringp cipher) (not (search "TLS_" cipher))))
      ;; openssl prints notAfter=Nov 20 13:26:40 2036 GMT
      (let* ((text (openssl-field (cert "server.pem") "-enddate" "notAfter="))
             (months '("Jan" "Feb" "Mar" "Apr" "May" "Jun" "Jul" "Aug" "Sep" "Oct" "Nov" "Dec"))
             (month (1+ (position (subseq text 0 3) months :test #'string=)))
             (fields (with-input-from-string (in (substitute #\Space #\: (subseq text 4)))
                       (loop repeat 5 collect (read in)))))
        (destructuring-bind (day hour minute second year) fields
          (is (= (encode-universal-time second minute hour day month year 0)
                 (epsilon.crypto:certificate-not-after peer))))))
    (is (equal '(:tls-v1.2) results))))

(tls-test verify-result-after-a-refusal
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "selfsigned.pem") :key-file (cert "selfsigned.key")) ()
          (constantly :ok)
        (call-client port (lambda (c)
                            (handler-case (epsilon.crypto:tls-handshake c)
                              (epsilon.crypto:tls-verification-error ()
                                (multiple-value-list (epsilon.crypto:tls-verify-result c)))))))
    (is (= 18 (first client)))
    (is (search "self" (second client)))
    (is (typep (first results) 'epsilon.crypto:tls-error))))
