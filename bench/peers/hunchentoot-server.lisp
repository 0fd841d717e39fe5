;;;; SPDX-License-Identifier: MIT
;;;; hunchentoot-server.lisp - Hunchentoot from Debian (cl-hunchentoot) under
;;;; the harness's server contract (bench/README.md): an EASY-ACCEPTOR (a
;;;; thread per connection, Hunchentoot's default), logs off, one handler
;;;; for / answering the body of bench/response.txt as text/plain.
;;;;
;;;;   sbcl --script bench/peers/hunchentoot-server.lisp --host H --port P
;;;;
;;;; Prints `PORT <n>` once it listens; SIGINT or SIGTERM stop it (exit 0).
;;;; HTTP only (the row of the issue).

(require :asdf)
(let ((*standard-output* (make-broadcast-stream))
      (*error-output* (make-broadcast-stream)))
  (handler-bind ((warning #'muffle-warning))
    (asdf:load-system "hunchentoot")))

(defpackage #:bench.hunchentoot (:use #:cl))
(in-package #:bench.hunchentoot)

(defun option (name default)
  (let ((tail (member name (rest sb-ext:*posix-argv*) :test #'string=)))
    (if tail (second tail) default)))

(defparameter *body*
  (let* ((file (merge-pathnames "../response.txt" *load-truename*))
         (text (with-open-file (in file :external-format :latin-1)
                 (let ((s (make-string (file-length in))))
                   (subseq s 0 (read-sequence s in)))))
         (blank (search (format nil "~C~C~C~C" #\Return #\Newline #\Return #\Newline) text)))
    (subseq text (+ blank 4)))
  "The body of bench/response.txt.")

(hunchentoot:define-easy-handler (hello :uri "/") ()
  (setf (hunchentoot:content-type*) "text/plain")
  *body*)

(let* ((acceptor (make-instance 'hunchentoot:easy-acceptor
                                :address (option "--host" "127.0.0.1")
                                :port (parse-integer (option "--port" "0"))
                                :access-log-destination nil
                                :message-log-destination nil))
       (done (sb-thread:make-semaphore)))
  (when (option "--tls-cert" nil)
    (format *error-output* "hunchentoot-server.lisp: HTTP only~%")
    (sb-ext:exit :code 2))
  (hunchentoot:start acceptor)
  (flet ((stop (signal info context)
           (declare (ignore signal info context))
           (sb-thread:signal-semaphore done)))
    (sb-sys:enable-interrupt sb-unix:sigint #'stop)
    (sb-sys:enable-interrupt sb-unix:sigterm #'stop))
  (format t "PORT ~D~%"
          (usocket:get-local-port (hunchentoot::acceptor-listen-socket acceptor)))
  (finish-output)
  (sb-thread:wait-on-semaphore done)
  (ignore-errors (hunchentoot:stop acceptor :soft nil))
  (sb-ext:exit :code 0 :abort t))
