;;;; bulk-recv.lisp - the Lisp subject of the bulk row (LISP_BULK_RECV_CMD):
;;;; the CLI of `bench/c/bulk recv`.
;;;;
;;;;   sbcl --script bench/lisp/bulk-recv.lisp [--host H] [--port P]
;;;;        [--tls-cert PEM --tls-key PEM] [--buffer B]
;;;;
;;;; Listens (--port 0: prints `PORT <n>`), accepts one connection (blocking,
;;;; like the C receiver), reads into one reused buffer (default 64 KiB) with
;;;; SOCKET-RECV-INTO, or TLS-RECV-INTO with a certificate, until EOF (TLS:
;;;; close_notify or EOF) and prints `BYTES <n> SECONDS <x> MIBPS <y>`, timed
;;;; from the accept to the EOF.

(load (merge-pathnames "load.lisp" *load-truename*))

(defpackage #:epsilon.bench.bulk-recv
  (:use #:cl #:epsilon.net.core #:epsilon.crypto #:epsilon.bench.lisp))
(in-package #:epsilon.bench.bulk-recv)

(defun recv-tcp (fd buffer)
  (declare (type (simple-array (unsigned-byte 8) (*)) buffer))
  (let ((total 0))
    (declare (type (unsigned-byte 62) total))
    (loop for n of-type fixnum = (socket-recv-into fd buffer)
          until (zerop n)
          do (incf total n))
    total))

(defun recv-tls (ctx fd buffer)
  (declare (type (simple-array (unsigned-byte 8) (*)) buffer))
  (let ((total 0)
        (conn (make-tls-connection ctx fd)))
    (declare (type (unsigned-byte 62) total))
    (unwind-protect
         (handler-case
             (loop for n of-type fixnum = (tls-recv-into conn buffer)
                   until (zerop n)
                   do (incf total n))
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
         (buffer (make-array (parse-integer (arg "--buffer" "65536"))
                             :element-type '(unsigned-byte 8))))
    (with-server-socket (listener :host host :port port)
      (format t "PORT ~D~%" (address-port (socket-local-address listener)))
      (finish-output)
      (let* ((fd (socket-accept listener))
             (start (get-internal-real-time))
             (bytes (unwind-protect
                         (if cert
                             (with-tls-context (ctx :role :server :cert-file cert
                                                    :key-file key)
                               (recv-tls ctx fd buffer))
                             (recv-tcp fd buffer))
                      (socket-close fd)))
             (seconds (max (seconds-since start) 1d-9)))
        (format t "BYTES ~D SECONDS ~,3F MIBPS ~,1F~%" bytes seconds
                (/ bytes 1048576d0 seconds))
        (finish-output)))))

(main)
