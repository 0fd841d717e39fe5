;;;; SPDX-License-Identifier: MIT
;;;; suite-tls-extensions.lisp - what a handshake negotiates beyond the
;;;; defaults, on loopback: ALPN, certificates chosen by SNI, mutual TLS,
;;;; the key log.  Against openssl: suite-tls-interop-extensions.lisp.

(in-package #:epsilon.linux.tests)

(eval-when (:compile-toplevel :load-toplevel :execute)
  (require :sb-posix)
  (require :sb-introspect))

(def-suite tls-extensions :in epsilon-linux
  :description "epsilon.crypto: ALPN, SNI, mutual TLS, the key log.")
(in-suite tls-extensions)

;;; ALPN

(tls-test alpn-server-preference-wins
  (dolist (case '((("h2" "http/1.1") ("http/1.1" "h2") "h2")
                  (("http/1.1" "h2") ("h2" "http/1.1") "http/1.1")
                  (("h2") ("x" "h2") "h2")))
    (destructuring-bind (server-list client-list expected) case
      (multiple-value-bind (client results)
          (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                             :alpn server-list)
              ()
              (wait-close-handler #'epsilon.crypto:tls-alpn-protocol)
            (call-client port (lambda (c) (read-bang c) (epsilon.crypto:tls-alpn-protocol c))
                         :options (list :ca-file (cert "ca.pem") :alpn client-list)))
        (is (equal expected client))
        (is (equal (list expected) results))))))

(tls-test alpn-absent-on-one-side-is-no-protocol
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
          (wait-close-handler #'epsilon.crypto:tls-alpn-protocol)
        (call-client port (lambda (c) (read-bang c) (epsilon.crypto:tls-alpn-protocol c))
                     :options (list :ca-file (cert "ca.pem") :alpn '("h2"))))
    (is (null client))
    (is (equal '(nil) results))))

(tls-test alpn-no-overlap-fails-by-default
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :alpn '("h2"))
          ()
          #'epsilon.crypto:tls-alpn-protocol
        (call-client port (lambda (c)
                            (handler-case (progn (epsilon.crypto:tls-handshake c) :connected)
                              (epsilon.crypto:tls-handshake-error () :refused)))
                     :options (list :ca-file (cert "ca.pem") :alpn '("spdy/3"))))
    (is (eq :refused client))
    (is (typep (first results) 'epsilon.crypto:tls-handshake-error))))

(tls-test alpn-no-overlap-proceeds-when-asked
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :alpn '("h2") :alpn-mismatch :proceed)
          ()
          (wait-close-handler #'epsilon.crypto:tls-alpn-protocol)
        (call-client port (lambda (c) (list (read-bang c) (epsilon.crypto:tls-alpn-protocol c)))
                     :options (list :ca-file (cert "ca.pem") :alpn '("spdy/3"))))
    (is (equal '("!" nil) client))
    (is (equal '(nil) results))))

;;; SNI

(tls-test sni-picks-the-certificate-by-name
  (let ((server-fp (fingerprint-of "server.pem"))
        (alt-fp (fingerprint-of "alt.pem")))
    (multiple-value-bind (clients results)
        (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                           :sni-certificates (list (list (cert "alt.pem") (cert "alt.key"))))
            (:clients 4)
            (wait-close-handler #'epsilon.crypto:tls-server-name)
          (loop for name in '("localhost" "alt.localhost" "x.wild.localhost" "127.0.0.1")
                collect (call-client
                         port (lambda (c)
                                (read-bang c)
                                (list (epsilon.crypto:tls-server-name c)
                                      (epsilon.crypto:certificate-fingerprint
                                       (epsilon.crypto:tls-peer-certificate c))))
                         :hostname name)))
      (is (equal (list (list "localhost" server-fp)
                       (list "alt.localhost" alt-fp)
                       (list "x.wild.localhost" alt-fp)
                       (list nil server-fp))
                 clients))
      (is (equal '("localhost" "alt.localhost" "x.wild.localhost" nil) results)))))

(tls-test sni-explicit-name-and-no-main-certificate
  ;; No certificate of its own: a client whose name matches nothing gets
  ;; the first pair added.
  (let ((server-fp (fingerprint-of "server.pem"))
        (alt-fp (fingerprint-of "alt.pem")))
    (multiple-value-bind (clients results)
        (with-server (port :sni-certificates (list (list (cert "server.pem") (cert "server.key"))
                                                   (list (cert "alt.pem") (cert "alt.key")
                                                         :name "other.name")))
            (:clients 3)
            (wait-close-handler #'epsilon.crypto:tls-server-name)
          (loop for name in '("localhost" "other.name" "nothing.here")
                collect (call-client
                         port (lambda (c)
                                (read-bang c)
                                (epsilon.crypto:certificate-fingerprint
                                 (epsilon.crypto:tls-peer-certificate c)))
                         :hostname name
                         :options (list :verify nil))))
      (is (equal (list server-fp alt-fp server-fp) clients))
      (is (equal '("localhost" "other.name" "nothing.here") results)))))

(tls-test sni-function-adds-named-pairs
  (let ((server-fp (fingerprint-of "server.pem"))
        (alt-fp (fingerprint-of "alt.pem")))
    (multiple-value-bind (listener port) (make-listener)
      (unwind-protect
           (epsilon.crypto:with-tls-context (ctx :role :server)
             (epsilon.crypto:tls-context-add-certificate ctx (cert "server.pem") (cert "server.key"))
             (epsilon.crypto:tls-context-add-certificate ctx (cert "alt.pem") (cert "alt.key")
                                                         :name "other.name")
             (with-thread (server
                           (loop repeat 2
                                 collect (with-fd (fd (accept-one listener))
                                           (epsilon.crypto:with-tls-connection
                                               (conn ctx fd :timeout 30)
                                             (epsilon.crypto:tls-handshake conn)
                                             (funcall (wait-close-handler
                                                       #'epsilon.crypto:tls-server-name)
                                                      conn)))))
               (let ((got (loop for name in '("localhost" "other.name")
                                collect (call-client
                                         port (lambda (c)
                                                (read-bang c)
                                                (epsilon.crypto:certificate-fingerprint
                                                 (epsilon.crypto:tls-peer-certificate c)))
                                         :hostname name :options (list :verify nil)))))
                 (is (equal (list server-fp alt-fp) got))
                 (is (equal '("localhost" "other.name") (join-result server))))))
        (close-fd listener)))))

;;; Mutual TLS

(defun client-cert-options (name)
  (list :ca-file (cert "ca.pem")
        :cert-file (cert (format nil "~A.pem" name))
        :key-file (cert (format nil "~A.key" name))))

(defun mtls-client (c)
  "Handshake and read; :REFUSED when the server refused us."
  (handler-case (read-bang c)
    (epsilon.crypto:tls-error () :refused)))

(tls-test mtls-required-refuses-and-accepts
  (dolist (max '(:tls-v1.2 :tls-v1.3))
    (multiple-value-bind (clients results)
        (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                           :verify :require :ca-file (cert "ca.pem") :max-version max)
            (:clients 3)
            (wait-close-handler (lambda (conn)
                                  (let ((peer (epsilon.crypto:tls-peer-certificate conn)))
                                    (list (epsilon.crypto:certificate-subject peer)
                                          (epsilon.crypto:certificate-issuer peer)
                                          (epsilon.crypto:tls-verify-result conn)))))
          (list (call-client port #'mtls-client)
                (call-client port #'mtls-client :options (client-cert-options "rogue"))
                (call-client port #'mtls-client :options (client-cert-options "client"))))
      (is (equal '(:refused :refused "!") clients) "~A: ~S" max clients)
      (is (typep (first results) 'epsilon.crypto:tls-error))
      (is (typep (second results) 'epsilon.crypto:tls-error))
      (is (equal '("O = Epsilon, CN = epsilon client" "CN = Epsilon Test CA" 0)
                 (third results))))))

(tls-test mtls-verify-t-is-require
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :verify t :ca-file (cert "ca.pem"))
          ()
          (wait-close-handler #'epsilon.crypto:tls-peer-certificate)
        (call-client port #'mtls-client))
    (is (eq :refused client))
    (is (typep (first results) 'epsilon.crypto:tls-error))))

(tls-test mtls-request-accepts-anonymous-clients
  (multiple-value-bind (clients results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :verify :request :ca-file (cert "ca.pem"))
          (:clients 2)
          (wait-close-handler (lambda (conn)
                                (let ((peer (epsilon.crypto:tls-peer-certificate conn)))
                                  (and peer (epsilon.crypto:certificate-subject peer)))))
        (list (call-client port #'mtls-client)
              (call-client port #'mtls-client :options (client-cert-options "client"))))
    (is (equal '("!" "!") clients))
    (is (equal '(nil "O = Epsilon, CN = epsilon client") results))))

;;; Key log

(defun keylog-lines (path)
  (if (probe-file path)
      (with-open-file (in path) (loop for line = (read-line in nil) while line collect line))
      :none))

(tls-test keylog-written-only-when-asked
  (let ((asked (format nil "~Akeylog-asked.txt" (cert-dir)))
        (env-file (format nil "~Akeylog-env.txt" (cert-dir)))
        (old (sb-ext:posix-getenv "SSLKEYLOGFILE")))
    (dolist (f (list asked env-file)) (when (probe-file f) (delete-file f)))
    (unwind-protect
         (progn
           (sb-posix:setenv "SSLKEYLOGFILE" env-file 1)
           (flet ((round-trip (&rest client-extra)
                    (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key"))
                        ()
                        (wait-close-handler (constantly :ok))
                      (call-client port #'read-bang
                                   :options (list* :ca-file (cert "ca.pem") client-extra)))))
             ;; Not asked: nothing, even with SSLKEYLOGFILE set.
             (is (equal "!" (round-trip)))
             (is (eq :none (keylog-lines env-file)))
             ;; Asked with a path (TLS 1.3 secrets).
             (is (equal "!" (round-trip :keylog-file asked)))
             (let ((lines (keylog-lines asked)))
               (is (listp lines))
               (is (find "CLIENT_HANDSHAKE_TRAFFIC_SECRET " lines
                         :test (lambda (p l) (eql 0 (search p l)))))
               (is (= #o600 (logand #o777 (sb-posix:stat-mode (sb-posix:stat asked))))))
             ;; Asked through the environment (TLS 1.2 lines).
             (is (equal "!" (round-trip :keylog-file :env :max-version :tls-v1.2)))
             (let ((lines (keylog-lines env-file)))
               (is (listp lines))
               (is (every (lambda (l) (eql 0 (search "CLIENT_RANDOM " l))) lines))
               (is (plusp (length lines))))))
      (if old
          (sb-posix:setenv "SSLKEYLOGFILE" old 1)
          (sb-posix:unsetenv "SSLKEYLOGFILE")))))
