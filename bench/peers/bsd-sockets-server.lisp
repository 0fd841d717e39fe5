;;;; SPDX-License-Identifier: MIT
;;;; bsd-sockets-server.lisp - the peer row of the HTTP benchmarks: the same
;;;; server as bench/c/ref-http-server.c written the way a Lisp user would
;;;; without epsilon: SBCL's sb-bsd-sockets, one thread, non-blocking
;;;; sockets, readiness from SBCL's serve-event (poll(2) over every
;;;; registered fd on each turn, level-triggered).
;;;;
;;;;   sbcl --script bench/peers/bsd-sockets-server.lisp [--host H] [--port P]
;;;;
;;;; Serves bench/response.txt byte for byte to every request (keep-alive,
;;;; pipelining: every complete request head in the buffer is answered, in
;;;; order). Request bodies are not supported (the benchmarks send none).
;;;; Prints `PORT <n>` once listening; SIGINT or SIGTERM exits with status 0.
;;;; SIGUSR1 prints `CONSED <n>` (sb-ext:get-bytes-consed): the harness's
;;;; hook for bytes consed per request.

(require :sb-bsd-sockets)

(defpackage #:epsilon.bench.bsd-server
  (:use #:cl #:sb-bsd-sockets))
(in-package #:epsilon.bench.bsd-server)

(deftype octets () '(simple-array (unsigned-byte 8) (*)))

(defun read-file-octets (path)
  (with-open-file (in path :element-type '(unsigned-byte 8))
    (let ((v (make-array (file-length in) :element-type '(unsigned-byte 8))))
      (read-sequence v in)
      v)))

(defparameter *response*
  (read-file-octets (merge-pathnames "../response.txt" *load-truename*)))

(defconstant +read-size+ 65536)
(defconstant +max-head+ 8192)

;;; One read buffer for the thread; a connection keeps only the start of an
;;; incomplete request, and the output the socket did not take.
(defvar *rbuf* (make-array (+ +read-size+ +max-head+) :element-type '(unsigned-byte 8)))
(defvar *obuf* (make-array 0 :element-type '(unsigned-byte 8) :adjustable t :fill-pointer 0))

(defstruct conn
  socket
  (fd -1 :type fixnum)
  (in nil)                              ; octets of an incomplete request
  (out nil)                             ; octets not yet sent
  (out-off 0 :type fixnum)
  (output-handler nil)
  (input-handler nil))

(defun conn-close (c)
  (when (conn-input-handler c)
    (sb-sys:remove-fd-handler (conn-input-handler c))
    (setf (conn-input-handler c) nil))
  (when (conn-output-handler c)
    (sb-sys:remove-fd-handler (conn-output-handler c))
    (setf (conn-output-handler c) nil))
  (ignore-errors (socket-close (conn-socket c))))

(defun send-some (c buf start end)
  "Send BUF[START, END) until the socket would block; return the new start."
  (declare (type octets buf) (type fixnum start end))
  (loop while (< start end)
        do (let ((n (if (zerop start)
                        (socket-send (conn-socket c) buf (- end start))
                        (socket-send (conn-socket c) (subseq buf start end) (- end start)))))
             (if (and n (plusp n))
                 (incf start n)
                 (return))))
  start)

(defun flush-pending (c)
  (let ((out (conn-out c)))
    (when out
      (let ((start (send-some c out (conn-out-off c) (length out))))
        (if (= start (length out))
            (progn (setf (conn-out c) nil (conn-out-off c) 0)
                   (when (conn-output-handler c)
                     (sb-sys:remove-fd-handler (conn-output-handler c))
                     (setf (conn-output-handler c) nil)))
            (setf (conn-out-off c) start))))))

(defun write-response-bytes (c bytes)
  "Send BYTES now if nothing is pending; keep the rest for the output handler."
  (declare (type octets bytes))
  (if (conn-out c)
      (setf (conn-out c) (concatenate 'octets (subseq (conn-out c) (conn-out-off c)) bytes)
            (conn-out-off c) 0)
      (let ((start (send-some c bytes 0 (length bytes))))
        (when (< start (length bytes))
          (setf (conn-out c) (subseq bytes start) (conn-out-off c) 0))))
  (when (and (conn-out c) (not (conn-output-handler c)))
    (setf (conn-output-handler c)
          (sb-sys:add-fd-handler (conn-fd c) :output
                                 (lambda (fd) (declare (ignore fd))
                                   (handler-case (flush-pending c)
                                     (socket-error () (conn-close c))))))))

(defun head-end (buf start end)
  "Index just past the first CRLFCRLF in BUF[START, END), or NIL."
  (declare (type octets buf) (type fixnum start end))
  (loop for i of-type fixnum from start below (- end 3)
        when (and (= (aref buf i) 13) (= (aref buf (+ i 1)) 10)
                  (= (aref buf (+ i 2)) 13) (= (aref buf (+ i 3)) 10))
          do (return (+ i 4))))

(defun answer (c buf len)
  "Answer every complete request in BUF[0, LEN); keep an incomplete one.
Returns NIL when the connection must be closed."
  (declare (type octets buf) (type fixnum len))
  (setf (fill-pointer *obuf*) 0)
  (let ((p 0))
    (loop for e = (head-end buf p len)
          while e
          do (loop for b across *response* do (vector-push-extend b *obuf*))
             (setf p e))
    (when (< p len)
      (when (> (- len p) +max-head+)
        (return-from answer nil))
      (setf (conn-in c) (subseq buf p len))))
  (when (plusp (fill-pointer *obuf*))
    (write-response-bytes c (coerce *obuf* 'octets)))
  t)

(defun on-readable (c)
  (handler-case
      (loop
        (let* ((in (conn-in c))
               (have (if in (length in) 0)))
          (when in
            (replace *rbuf* in)
            (setf (conn-in c) nil))
          (let ((n (nth-value 1 (socket-receive (conn-socket c) (make-displaced *rbuf* have)
                                                +read-size+))))
            (cond ((null n)             ; would block
                   (when in (setf (conn-in c) in))
                   (return))
                  ((zerop n) (conn-close c) (return))
                  (t (unless (answer c *rbuf* (+ have n))
                       (conn-close c)
                       (return))
                     (when (< n +read-size+) ; a short read: drained
                       (return)))))))
    (socket-error () (conn-close c))))

(defun make-displaced (buf offset)
  (if (zerop offset)
      buf
      (make-array (- (length buf) offset) :element-type '(unsigned-byte 8)
                                          :displaced-to buf :displaced-index-offset offset)))

(defun on-accept (listener)
  (loop
    (let ((s (handler-case (socket-accept listener)
               (socket-error () nil))))
      (unless s (return))
      (setf (non-blocking-mode s) t
            (sockopt-tcp-nodelay s) t)
      (let ((c (make-conn :socket s :fd (socket-file-descriptor s))))
        (setf (conn-input-handler c)
              (sb-sys:add-fd-handler (conn-fd c) :input
                                     (lambda (fd) (declare (ignore fd)) (on-readable c))))))))

(defun arg (name default)
  (let ((tail (member name sb-ext:*posix-argv* :test #'string=)))
    (if tail (second tail) default)))

(defun main ()
  (dolist (a (rest sb-ext:*posix-argv*))
    (when (member a '("--tls-cert" "--tls-key" "--threads") :test #'string=)
      (format *error-output* "bsd-sockets-server: ~A is not supported~%" a)
      (sb-ext:exit :code 2 :abort t)))
  (let* ((host (arg "--host" "127.0.0.1"))
         (port (parse-integer (arg "--port" "8080")))
         (listener (make-instance 'inet-socket :type :stream :protocol :tcp)))
    (setf (sockopt-reuse-address listener) t)
    (socket-bind listener (host-ent-address (get-host-by-name host)) port)
    (socket-listen listener 4096)
    (setf (non-blocking-mode listener) t)
    (sb-sys:enable-interrupt sb-unix:sigusr1
                             (lambda (&rest args)
                               (declare (ignore args))
                               (format t "CONSED ~D~%" (sb-ext:get-bytes-consed))
                               (finish-output)))
    (format t "PORT ~D~%" (nth-value 1 (socket-name listener)))
    (finish-output)
    (sb-sys:add-fd-handler (socket-file-descriptor listener) :input
                           (lambda (fd) (declare (ignore fd)) (on-accept listener)))
    (handler-case (loop (sb-sys:serve-all-events))
      (sb-sys:interactive-interrupt ()
        (sb-ext:exit :code 0 :abort t)))))

(main)
