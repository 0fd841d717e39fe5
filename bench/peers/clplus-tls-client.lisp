;;;; SPDX-License-Identifier: MIT
;;;; clplus-tls-client.lisp - the peer of the TLS handshake row: a loop of
;;;; full TLS handshakes written with cl+ssl (Debian cl-plus-ssl), what a
;;;; Lisp user would write without epsilon.
;;;;
;;;;   sbcl --script bench/peers/clplus-tls-client.lisp --host H --port P --seconds S
;;;;
;;;; Connects (sb-bsd-sockets), handshakes (cl+ssl:make-ssl-client-stream, no
;;;; session reuse, no verification: the same work as `openssl s_time -new`),
;;;; closes, again, for S seconds; prints `HANDSHAKES <n> SECONDS <x>`.

(require :asdf)
(require :sb-bsd-sockets)
(let ((*compile-verbose* nil) (*compile-print* nil))
  (handler-bind ((warning #'muffle-warning))
    (asdf:load-system "cl+ssl")))

(defpackage #:epsilon.bench.clplus-client
  (:use #:cl #:sb-bsd-sockets))
(in-package #:epsilon.bench.clplus-client)

(defun arg (name default)
  (let ((tail (member name sb-ext:*posix-argv* :test #'string=)))
    (if tail (second tail) default)))

(defun handshake-once (address port)
  (let ((socket (make-instance 'inet-socket :type :stream :protocol :tcp)))
    (unwind-protect
         (progn
           (socket-connect socket address port)
           (let ((stream (cl+ssl:make-ssl-client-stream
                          (socket-file-descriptor socket) :verify nil)))
             (close stream)))
      (socket-close socket))))

(defun main ()
  (let* ((host (arg "--host" "127.0.0.1"))
         (port (parse-integer (arg "--port" "4433")))
         (seconds (let ((*read-default-float-format* 'double-float))
                    (coerce (read-from-string (arg "--seconds" "5")) 'double-float)))
         (address (host-ent-address (get-host-by-name host)))
         (start (get-internal-real-time))
         (end (+ start (round (* seconds internal-time-units-per-second))))
         (n 0))
    (loop while (< (get-internal-real-time) end)
          do (handshake-once address port)
             (incf n))
    (format t "HANDSHAKES ~D SECONDS ~,3F~%" n
            (/ (- (get-internal-real-time) start) internal-time-units-per-second))
    (finish-output)))

(main)
