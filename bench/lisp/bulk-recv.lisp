;;;; SPDX-License-Identifier: MIT
;;;; bulk-recv.lisp - the Lisp subject of the bulk receiver rows
;;;; (LISP_BULK_RECV_CMD): the CLI of `bench/c/bulk recv`.
;;;;
;;;;   sbcl --script bench/lisp/bulk-recv.lisp [--host H] [--port P]
;;;;        [--tls-cert PEM --tls-key PEM] [--buffer B] [--timeout S]
;;;;
;;;; Listens (--port 0: prints `PORT <n>`), accepts one connection (blocking,
;;;; like the C receiver), reads into one reused buffer (default 64 KiB) with
;;;; SOCKET-RECV-INTO, or TLS-RECV-INTO with a certificate, each call with
;;;; :TIMEOUT S when given (the timed path), until EOF (TLS: close_notify or
;;;; EOF) and prints `BYTES <n> SECONDS <x> MIBPS <y> CPU <c>`: wall and
;;;; thread CPU time from the first byte received to the EOF, as the C
;;;; receiver does.

(load (merge-pathnames "load.lisp" *load-truename*))
(load (merge-pathnames "bulk-common.lisp" *load-truename*))

(defpackage #:epsilon.bench.bulk-recv
  (:use #:cl #:epsilon.net.core #:epsilon.crypto #:epsilon.bench.lisp))
(in-package #:epsilon.bench.bulk-recv)

(defvar *t0* 0d0 "Wall seconds at the first byte.")
(defvar *c0* 0d0 "Thread CPU seconds at the first byte.")

(defun first-byte ()
  (setf *t0* (wall-seconds) *c0* (thread-cpu-seconds)))

(defun recv-tcp (fd buffer timeout)
  (declare (type (simple-array (unsigned-byte 8) (*)) buffer))
  (let ((total (socket-recv-into fd buffer :timeout timeout)))
    (declare (type (unsigned-byte 62) total))
    (first-byte)
    (unless (zerop total)
      (if timeout
          (loop for n of-type fixnum = (socket-recv-into fd buffer :timeout timeout)
                until (zerop n)
                do (incf total n))
          (loop for n of-type fixnum = (socket-recv-into fd buffer)
                until (zerop n)
                do (incf total n))))
    total))

(defun recv-tls (ctx fd buffer timeout)
  (declare (type (simple-array (unsigned-byte 8) (*)) buffer))
  (let ((total 0)
        (conn (make-tls-connection ctx fd :timeout timeout)))
    (declare (type (unsigned-byte 62) total))
    (unwind-protect
         (handler-case
             (progn
               (setf total (tls-recv-into conn buffer))
               (first-byte)
               (unless (zerop total)
                 (loop for n of-type fixnum = (tls-recv-into conn buffer)
                       until (zerop n)
                       do (incf total n))))
           ;; As the C receiver: a peer gone without close_notify, or
           ;; resetting (it closes with our session ticket unread), is EOF.
           (tls-unexpected-eof () nil)
           (tls-error (e)
             (unless (eql (epsilon-error-code e) +econnreset+)
               (error e))))
      (tls-connection-free conn))
    total))

(defun main ()
  (let* ((host (arg "--host" "127.0.0.1"))
         (port (parse-integer (arg "--port" "0")))
         (cert (arg "--tls-cert" nil))
         (key (arg "--tls-key" nil))
         (timeout (let ((s (arg "--timeout" nil))) (and s (parse-integer s))))
         (buffer (make-array (parse-integer (arg "--buffer" "65536"))
                             :element-type '(unsigned-byte 8))))
    (with-server-socket (listener :host host :port port)
      (format t "PORT ~D~%" (address-port (socket-local-address listener)))
      (finish-output)
      (let* ((fd (socket-accept listener))
             (bytes (unwind-protect
                         (if cert
                             (with-tls-context (ctx :role :server :cert-file cert
                                                    :key-file key)
                               (recv-tls ctx fd buffer timeout))
                             (recv-tcp fd buffer timeout))
                      (socket-close fd)))
             (cpu (- (thread-cpu-seconds) *c0*))
             (seconds (max (- (wall-seconds) *t0*) 1d-9)))
        (format t "BYTES ~D SECONDS ~,3F MIBPS ~,1F CPU ~,3F~%" bytes seconds
                (/ bytes 1048576d0 seconds) cpu)
        (finish-output)))))

(main)
