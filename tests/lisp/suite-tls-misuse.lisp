;;;; SPDX-License-Identifier: MIT
;;;; suite-tls-misuse.lisp - the ALPN, SNI, session, information and stream
;;;; functions given bad arguments, called in the wrong state or on freed
;;;; objects; and every export of epsilon.crypto documented.

(in-package #:epsilon.linux.tests)

(eval-when (:compile-toplevel :load-toplevel :execute)
  (require :sb-posix)
  (require :sb-introspect))

(def-suite tls-misuse :in epsilon-linux
  :description "epsilon.crypto: bad arguments, wrong states, freed objects.")
(in-suite tls-misuse)

(tls-test crypto-exports-are-documented
  (do-external-symbols (s :epsilon.crypto)
    (when (eq (symbol-package s) (find-package :epsilon.crypto))
      (is (or (documentation s 'function) (documentation s 'type)
              (documentation s 'variable))
          "~S has no documentation" s)))
  (is (equal '(epsilon.crypto::conn &key epsilon.crypto::external-format
               epsilon.crypto::element-type epsilon.crypto::close-connection
               epsilon.crypto::timeout)
             (mapcar (lambda (x) (if (consp x) (car x) x))
                     (sb-introspect:function-lambda-list #'epsilon.crypto:make-tls-stream)))))

;;; Bad input and wrong states

(tls-test extension-calls-refuse-bad-arguments
  (signals type-error (epsilon.crypto:make-tls-context :alpn "h2"))
  (signals type-error (epsilon.crypto:make-tls-context :alpn '("")))
  (signals type-error (epsilon.crypto:make-tls-context :alpn '("a,b")))
  (signals type-error (epsilon.crypto:make-tls-context :alpn (list (make-string 256 :initial-element #\a))))
  (signals type-error (epsilon.crypto:make-tls-context :alpn '(h2)))
  (signals type-error (epsilon.crypto:make-tls-context :alpn-mismatch :maybe))
  (signals type-error (epsilon.crypto:make-tls-context :role :server :verify :maybe))
  (signals type-error (epsilon.crypto:make-tls-context :keylog-file 42))
  (signals type-error (epsilon.crypto:make-tls-context :sni-certificates '("a")))
  (signals type-error (epsilon.crypto:make-tls-context :sni-certificates '(("a" "b" :nom "x"))))
  (signals type-error (epsilon.crypto:tls-session 42))
  (signals type-error (epsilon.crypto:tls-session-free 42))
  (signals type-error (epsilon.crypto:tls-session-to-octets nil))
  (signals type-error (epsilon.crypto:octets-to-tls-session "abc"))
  (signals type-error (epsilon.crypto:octets-to-tls-session
                       (make-array 0 :element-type '(unsigned-byte 8))))
  (signals type-error (epsilon.crypto:tls-version 42))
  (signals type-error (epsilon.crypto:tls-cipher nil))
  (signals type-error (epsilon.crypto:tls-peer-certificate "x"))
  (signals type-error (epsilon.crypto:tls-context-add-certificate 42 "a" "b"))
  (signals type-error (epsilon.crypto:make-tls-stream 42))
  (with-stream-pair (a b)
    (epsilon.crypto:with-tls-context (ctx :verify nil)
      (signals type-error (epsilon.crypto:make-tls-connection ctx a :session 42))
      (epsilon.crypto:with-tls-connection (c ctx a)
        (signals type-error (epsilon.crypto:make-tls-stream c :external-format :ebcdic))
        (signals type-error (epsilon.crypto:make-tls-stream c :element-type 'fixnum))
        (signals type-error (epsilon.crypto:make-tls-stream c :timeout -1))))))

(defun error-name-of (thunk)
  (handler-case (progn (funcall thunk) :no-error)
    (epsilon.crypto:tls-error (e) (epsilon.crypto:epsilon-error-name e))))

(tls-test extension-calls-in-wrong-states-and-on-freed-objects
  ;; Options the role does not take.
  (is (eq :einval (error-name-of (lambda () (epsilon.crypto:make-tls-context
                                             :alpn-mismatch :proceed)))))
  (is (eq :einval (error-name-of (lambda () (epsilon.crypto:make-tls-context
                                             :session-cache t)))))
  (epsilon.crypto:with-tls-context (ctx :verify nil)
    (is (eq :einval (error-name-of (lambda () (epsilon.crypto:tls-context-add-certificate
                                               ctx (cert "server.pem") (cert "server.key")))))))
  ;; Files.
  (epsilon.crypto:with-tls-context (ctx :role :server)
    (is (eq :ebadpem (error-name-of (lambda () (epsilon.crypto:tls-context-add-certificate
                                                ctx (cert "missing.pem") (cert "server.key"))))))
    (is (eq :ekeymismatch (error-name-of (lambda () (epsilon.crypto:tls-context-add-certificate
                                                     ctx (cert "server.pem") (cert "alt.key")))))))
  (is (eq :enoent (error-name-of (lambda () (epsilon.crypto:make-tls-context
                                             :keylog-file "/nonexistent/dir/keys.txt")))))
  ;; A freed context.
  (let ((ctx (epsilon.crypto:make-tls-context :role :server)))
    (epsilon.crypto:tls-context-free ctx)
    (is (eq :ebadhandle (error-name-of (lambda () (epsilon.crypto:tls-context-add-certificate
                                                   ctx (cert "server.pem") (cert "server.key")))))))
  ;; Sessions: garbage, freed, on a server.
  (is (eq :einval (error-name-of (lambda () (epsilon.crypto:octets-to-tls-session
                                             (octets "not a session"))))))
  (with-stream-pair (a b)
    (epsilon.crypto:with-tls-context (sctx :role :server :cert-file (cert "server.pem")
                                           :key-file (cert "server.key"))
      (epsilon.crypto:with-tls-connection (s sctx a)
        (is (eq :einval (error-name-of (lambda () (epsilon.crypto:tls-session s)))))
        (is (null (epsilon.crypto:tls-session-reused-p s)))
        (is (null (epsilon.crypto:tls-server-name s)))
        (is (null (epsilon.crypto:tls-alpn-protocol s))))
      (epsilon.crypto:with-tls-context (cctx :verify nil)
        (epsilon.crypto:with-tls-connection (c cctx b)
          (is (null (epsilon.crypto:tls-session c)) "none before the handshake")))))
  (let ((session (epsilon.crypto:octets-to-tls-session (session-octets))))
    (is (search "live" (prin1-to-string session)))
    (epsilon.crypto:tls-session-free session)
    (is (null (epsilon.crypto:tls-session-free session)) "idempotent")
    (is (search "freed" (prin1-to-string session)))
    (is (eq :ebadhandle (error-name-of (lambda () (epsilon.crypto:tls-session-to-octets session)))))
    (with-stream-pair (a b)
      (epsilon.crypto:with-tls-context (ctx :verify nil)
        (is (eq :ebadhandle (error-name-of (lambda () (epsilon.crypto:make-tls-connection
                                                       ctx a :session session)))))))
    (let ((live (epsilon.crypto:octets-to-tls-session (session-octets))))
      (unwind-protect
           (with-stream-pair (a b)
             (epsilon.crypto:with-tls-context (ctx :role :server :cert-file (cert "server.pem")
                                                   :key-file (cert "server.key"))
               (is (eq :einval (error-name-of (lambda () (epsilon.crypto:make-tls-connection
                                                          ctx a :session live)))))))
        (epsilon.crypto:tls-session-free live))))
  ;; A freed connection.
  (with-stream-pair (a b)
    (epsilon.crypto:with-tls-context (ctx :verify nil)
      (let ((c (epsilon.crypto:make-tls-connection ctx a))
            (s nil))
        (setf s (epsilon.crypto:make-tls-stream c))
        (epsilon.crypto:tls-connection-free c)
        (dolist (f (list #'epsilon.crypto:tls-version #'epsilon.crypto:tls-cipher
                         #'epsilon.crypto:tls-alpn-protocol #'epsilon.crypto:tls-server-name
                         #'epsilon.crypto:tls-session #'epsilon.crypto:tls-session-reused-p
                         #'epsilon.crypto:tls-verify-result #'epsilon.crypto:tls-peer-certificate
                         #'epsilon.crypto:make-tls-stream
                         (lambda (c) (declare (ignore c)) (read-char s))
                         (lambda (c) (declare (ignore c)) (write-char #\a s) (force-output s))))
          (is (eq :ebadhandle (error-name-of (lambda () (funcall f c))))))
        (close s)))))
