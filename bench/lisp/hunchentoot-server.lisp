;;;; SPDX-License-Identifier: MIT
;;;; hunchentoot-server.lisp - the server of the Hunchentoot row: Debian's
;;;; Hunchentoot over TLS, through cl+ssl (its own EASY-SSL-ACCEPTOR's
;;;; machinery) or through epsilon.crypto (epsilon.hunchentoot).
;;;;
;;;;   sbcl --script bench/lisp/hunchentoot-server.lisp --kind epsilon|clplus
;;;;        --host H --port 0 --tls-cert PEM --tls-key PEM
;;;;
;;;; Answers every request with "Hello, World!" (13 bytes, text/plain),
;;;; prints `PORT <n>` once listening, exits 0 on SIGINT.  With --load-only,
;;;; loads (and so compiles) its systems and exits.

(require :asdf)
(let ((root (merge-pathnames "../../" (make-pathname :name nil :type nil
                                                     :defaults *load-truename*))))
  (asdf:initialize-source-registry
   `(:source-registry (:tree ,(merge-pathnames "lisp/" root)) :inherit-configuration)))

(defun option (name &optional default)
  (let ((tail (member name sb-ext:*posix-argv* :test #'string=)))
    (if tail (second tail) default)))

(defvar *kind* (option "--kind" "epsilon"))
(unless (member *kind* '("epsilon" "clplus") :test #'string=)
  (format *error-output* "--kind is epsilon or clplus, not ~A~%" *kind*)
  (sb-ext:exit :code 2))

(let ((*compile-verbose* nil) (*compile-print* nil))
  (handler-bind ((warning #'muffle-warning))
    (asdf:load-system (if (string= *kind* "epsilon") "epsilon.hunchentoot" "hunchentoot"))))

(when (member "--load-only" sb-ext:*posix-argv* :test #'string=)
  (sb-ext:exit :code 0))

(defpackage #:epsilon.bench.hunchentoot (:use #:cl))
(in-package #:epsilon.bench.hunchentoot)

(defclass hello-mixin () ())

(defmethod hunchentoot:acceptor-dispatch-request ((a hello-mixin) request)
  (declare (ignore request))
  (setf (hunchentoot:content-type*) "text/plain")
  "Hello, World!")

(defclass clplus-acceptor (hello-mixin hunchentoot:ssl-acceptor) ())
(defclass epsilon-acceptor (hello-mixin
                            #.(if (find-package '#:epsilon.hunchentoot)
                                  (find-symbol "TLS-ACCEPTOR" '#:epsilon.hunchentoot)
                                  'hunchentoot:acceptor))
  ())

(defun make-server ()
  (let ((common (list :address (cl-user::option "--host" "127.0.0.1")
                      :port (parse-integer (cl-user::option "--port" "0"))
                      :access-log-destination nil
                      :message-log-destination *error-output*)))
    (if (string= cl-user::*kind* "epsilon")
        (apply #'make-instance 'epsilon-acceptor
               :certificate-file (cl-user::option "--tls-cert") :key-file (cl-user::option "--tls-key")
               common)
        (apply #'make-instance 'clplus-acceptor
               :ssl-certificate-file (cl-user::option "--tls-cert")
               :ssl-privatekey-file (cl-user::option "--tls-key")
               common))))

(let ((server (make-server)))
  (handler-case
      (progn
        (hunchentoot:start server)
        (format t "PORT ~D~%" (hunchentoot:acceptor-port server))
        (finish-output)
        (loop (sleep 1)))
    (sb-sys:interactive-interrupt ()
      (hunchentoot:stop server)
      (sb-ext:exit :code 0 :abort t))))
