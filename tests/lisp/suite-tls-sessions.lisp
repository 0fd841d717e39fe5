;;;; SPDX-License-Identifier: MIT
;;;; suite-tls-sessions.lisp - session resumption on loopback: TLS 1.2 and
;;;; 1.3, servers without cache or tickets, a TLS 1.3 ticket after the first
;;;; read; and a real session's octets for the other suites.

(in-package #:epsilon.linux.tests)

(eval-when (:compile-toplevel :load-toplevel :execute)
  (require :sb-posix)
  (require :sb-introspect))

(def-suite tls-sessions :in epsilon-linux
  :description "epsilon.crypto: session resumption.")
(in-suite tls-sessions)

;;; Resumption

(defun resumption-round (max)
  "Three clients of one server: a full handshake that saves its session,
one offering it, one offering it after a round trip through octets.
Returns the three reused flags and whether a session was found."
  (let ((session nil) (copy nil))
    (unwind-protect
         (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                            :max-version max)
             (:clients 3)
             (wait-close-handler #'epsilon.crypto:tls-session-reused-p)
           (let* ((first (call-client port (lambda (c)
                                             (read-bang c)
                                             (setf session (epsilon.crypto:tls-session c))
                                             (epsilon.crypto:tls-session-reused-p c))))
                  (second (call-client port (lambda (c)
                                              (read-bang c)
                                              (epsilon.crypto:tls-session-reused-p c))
                                       :session session))
                  (third (progn
                           (setf copy (epsilon.crypto:octets-to-tls-session
                                       (epsilon.crypto:tls-session-to-octets session)))
                           (call-client port (lambda (c)
                                               (read-bang c)
                                               (epsilon.crypto:tls-session-reused-p c))
                                        :session copy))))
             (list first second third)))
      (when session (epsilon.crypto:tls-session-free session))
      (when copy (epsilon.crypto:tls-session-free copy)))))

(tls-test resumption-tls-1.2-and-1.3
  (dolist (max '(:tls-v1.2 :tls-v1.3))
    (multiple-value-bind (clients results) (resumption-round max)
      (is (equal '(nil t t) clients) "~A: ~S" max clients)
      (is (equal '(nil t t) results) "~A server: ~S" max results))))

(tls-test resumption-off-without-cache-and-tickets
  (let ((session nil))
    (unwind-protect
         (multiple-value-bind (clients results)
             (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                                :max-version :tls-v1.2 :session-cache nil :session-tickets nil)
                 (:clients 2)
                 (wait-close-handler #'epsilon.crypto:tls-session-reused-p)
               (list (call-client port (lambda (c)
                                         (read-bang c)
                                         (setf session (epsilon.crypto:tls-session c))
                                         (epsilon.crypto:tls-session-reused-p c)))
                     (call-client port (lambda (c)
                                         (read-bang c)
                                         (epsilon.crypto:tls-session-reused-p c))
                                  :session session)))
           (is (equal '(nil nil) clients))
           (is (equal '(nil nil) results)))
      (when session (epsilon.crypto:tls-session-free session)))))

(tls-test tls-1.3-session-appears-after-the-first-read
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
          (wait-close-handler (constantly :ok))
        (call-client port (lambda (c)
                            (epsilon.crypto:tls-handshake c)
                            (let ((before (epsilon.crypto:tls-session c)))
                              (read-bang c)
                              (let ((after (epsilon.crypto:tls-session c)))
                                (prog1 (list before (epsilon.crypto:tls-session-p after))
                                  (when before (epsilon.crypto:tls-session-free before))
                                  (epsilon.crypto:tls-session-free after)))))))
    (is (equal '(nil t) client))
    (is (equal '(:ok) results))))

(defvar *session-octets* nil)

(defun session-octets ()
  "The octets of a real TLS 1.3 session from a loopback round trip."
  (or *session-octets*
      (setf *session-octets*
            (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
                (wait-close-handler (constantly :ok))
              (call-client port (lambda (c)
                                  (read-bang c)
                                  (let ((s (epsilon.crypto:tls-session c)))
                                    (prog1 (epsilon.crypto:tls-session-to-octets s)
                                      (epsilon.crypto:tls-session-free s)))))))))
