;;;; SPDX-License-Identifier: MIT
;;;; bulk-send.lisp - the Lisp subject of the bulk sender rows
;;;; (LISP_BULK_SEND_CMD): the CLI of `bench/c/bulk send`.
;;;;
;;;;   sbcl --script bench/lisp/bulk-send.lisp [--host H] --port P
;;;;        [--bytes N] [--tls] [--buffer B] [--timeout S]
;;;;
;;;; Connects (blocking, like the C sender), sends N bytes (default 1G;
;;;; suffixes K, M, G) from one reused B-byte buffer (default 64 KiB) with
;;;; SOCKET-SEND, or TLS-SEND over a client connection that does not verify
;;;; (the peer is the C receiver), each call with :TIMEOUT S when given;
;;;; then close_notify (TLS) and a write shutdown, and prints `BYTES <n>
;;;; SECONDS <x> MIBPS <y> CPU <c>`: wall and thread CPU time from the first
;;;; send to the shutdown, as the C sender does.

(load (merge-pathnames "load.lisp" *load-truename*))
(load (merge-pathnames "bulk-common.lisp" *load-truename*))

(defpackage #:epsilon.bench.bulk-send
  (:use #:cl #:epsilon.net.core #:epsilon.crypto #:epsilon.bench.lisp))
(in-package #:epsilon.bench.bulk-send)

(defun parse-size (s)
  (let* ((last (char-upcase (char s (1- (length s)))))
         (shift (case last (#\K 10) (#\M 20) (#\G 30) (t 0))))
    (ash (parse-integer s :end (if (zerop shift) (length s) (1- (length s)))) shift)))

(defun send-tcp (fd buffer bytes timeout)
  (declare (type (simple-array (unsigned-byte 8) (*)) buffer)
           (type (unsigned-byte 62) bytes))
  (let ((left bytes) (size (length buffer)))
    (declare (type (unsigned-byte 62) left) (type fixnum size))
    (loop while (plusp left)
          do (decf left (the fixnum (socket-send fd buffer :end (min size left)
                                                          :timeout timeout))))))

(defun send-tls (conn buffer bytes)
  (declare (type (simple-array (unsigned-byte 8) (*)) buffer)
           (type (unsigned-byte 62) bytes))
  (let ((left bytes) (size (length buffer)))
    (declare (type (unsigned-byte 62) left) (type fixnum size))
    (loop while (plusp left)
          do (decf left (the fixnum (tls-send conn buffer :end (min size left)))))))

(defun main ()
  (let* ((host (arg "--host" "127.0.0.1"))
         (port (parse-integer (arg "--port" "0")))
         (bytes (parse-size (arg "--bytes" "1G")))
         (tls (member "--tls" sb-ext:*posix-argv* :test #'string=))
         (timeout (let ((s (arg "--timeout" nil))) (and s (parse-integer s))))
         (buffer (make-array (parse-size (arg "--buffer" "64K"))
                             :element-type '(unsigned-byte 8) :initial-element 120))
         (fd (socket-create (if (find #\: host) +af-inet6+ +af-inet+) +sock-stream+ 0))
         t0 c0)
    (unwind-protect
         (progn
           (socket-connect fd (if (find #\: host)
                                  (make-inet6-address host port)
                                  (make-inet-address host port)))
           (flet ((start () (setf t0 (wall-seconds) c0 (thread-cpu-seconds))))
             (if tls
                 (with-tls-context (ctx :role :client :verify nil)
                   (with-tls-connection (conn ctx fd :timeout timeout)
                     (tls-handshake conn)
                     (start)
                     (send-tls conn buffer bytes)
                     (tls-shutdown conn)))
                 (progn (start) (send-tcp fd buffer bytes timeout))))
           (socket-shutdown fd :write))
      (socket-close fd))
    (let ((cpu (- (thread-cpu-seconds) c0))
          (seconds (max (- (wall-seconds) t0) 1d-9)))
      (format t "BYTES ~D SECONDS ~,3F MIBPS ~,1F CPU ~,3F~%" bytes seconds
              (/ bytes 1048576d0 seconds) cpu)
      (finish-output))))

(main)
