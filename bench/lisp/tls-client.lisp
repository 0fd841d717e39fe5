;;;; SPDX-License-Identifier: MIT
;;;; tls-client.lisp - the Lisp subject of the TLS handshake row
;;;; (LISP_TLS_CLIENT_CMD): full handshakes in a loop with epsilon.crypto.
;;;;
;;;;   sbcl --script bench/lisp/tls-client.lisp --host H --port P --seconds S
;;;;
;;;; One client context (:verify nil: the same work as `openssl s_time -new`,
;;;; which does not verify either), then for S seconds: connect a new TCP
;;;; socket, TLS handshake (no session offered, so never resumed),
;;;; close_notify, free, close.  Prints `HANDSHAKES <n> SECONDS <x>`.

(load (merge-pathnames "load.lisp" *load-truename*))

(defpackage #:epsilon.bench.tls-client
  (:use #:cl #:epsilon.net.core #:epsilon.crypto #:epsilon.bench.lisp))
(in-package #:epsilon.bench.tls-client)

(defun handshake-once (ctx host port)
  (with-client-socket (fd :host host :port port :timeout 10)
    (let ((conn (make-tls-connection ctx fd :timeout 10)))
      (unwind-protect
           (progn (tls-handshake conn)
                  (ignore-errors (tls-shutdown conn)))
        (tls-connection-free conn)))))

(defun main ()
  (let* ((host (arg "--host" "127.0.0.1"))
         (port (parse-integer (arg "--port" "4433")))
         (seconds (let ((*read-default-float-format* 'double-float))
                    (coerce (read-from-string (arg "--seconds" "5")) 'double-float)))
         (start (get-internal-real-time))
         (end (+ start (round (* seconds internal-time-units-per-second))))
         (n 0))
    (with-tls-context (ctx :role :client :verify nil)
      (loop while (< (get-internal-real-time) end)
            do (handshake-once ctx host port)
               (incf n)))
    (format t "HANDSHAKES ~D SECONDS ~,3F~%" n (seconds-since start))
    (finish-output)))

(main)
