;;;; SPDX-License-Identifier: MIT
;;;; suite-waitall.lisp - +MSG-WAITALL+ waits for the whole size or range,
;;;; over a socket pair and over TCP, with a sender that pauses between
;;;; parts (issue 15).

(in-package #:epsilon.linux.tests)

(def-suite waitall :in epsilon-linux
  :description "+msg-waitall+: the whole size, end of stream, or the timeout with what arrived.")

(defpackage #:epsilon.linux.tests.waitall
  (:use #:cl #:fiveam #:epsilon.net.core))

(in-package #:epsilon.linux.tests.waitall)

(defmacro waitall-test (name &body body)
  "A test that also checks no descriptor is left open after BODY."
  `(test (,name :suite epsilon.linux.tests::waitall)
     (let ((fds (epsilon.linux:open-fd-count)))
       (unwind-protect (progn ,@body)
         (is (= fds (epsilon.linux:open-fd-count)) "fd leak in ~A" ',name)))))

(defun pattern (n offset)
  (let ((v (make-array n :element-type '(unsigned-byte 8))))
    (dotimes (i n v) (setf (aref v i) (mod (+ i offset) 251)))))

(defun call-with-pair (kind function)
  "Call FUNCTION with the two ends (sender receiver) of a connected stream
socket pair: KIND :UNIX (socket-pair) or :TCP (loopback, port 0)."
  (ecase kind
    (:unix (multiple-value-bind (a b) (socket-pair)
             (unwind-protect (funcall function a b)
               (socket-close a)
               (socket-close b))))
    (:tcp (with-server-socket (listener :host "127.0.0.1")
            (with-client-socket (a :host "127.0.0.1"
                                   :port (address-port (socket-local-address listener))
                                   :timeout 5)
              (let ((b (socket-accept listener :timeout 5)))
                (unwind-protect (funcall function a b)
                  (socket-close b))))))))

(defun send-in-parts (fd parts &key (pause 0.3) shutdown)
  "Start a thread that sends each octet vector of PARTS on FD, PAUSE seconds
apart, then shuts FD down for writing when SHUTDOWN."
  (sb-thread:make-thread
   (lambda ()
     (loop for (part . more) on parts
           do (socket-send-all fd part :timeout 5)
              (when more (sleep pause)))
     (when shutdown
       (sleep pause)
       (socket-shutdown fd :write))
     t)
   :name "waitall sender"))

(defun join (thread)
  (sb-thread:join-thread thread :default :timeout :timeout 10))

(defmacro over-both ((sender receiver) &body body)
  "Run BODY over a socket pair, then over TCP."
  `(dolist (kind '(:unix :tcp))
     (call-with-pair kind (lambda (,sender ,receiver) ,@body))))

(defun concat (&rest vectors)
  (apply #'concatenate '(simple-array (unsigned-byte 8) (*)) vectors))

;;; The whole size

(waitall-test recv-waitall-gets-both-parts-with-timeout
  (over-both (a b)
    (let* ((p1 (pattern 1000 0)) (p2 (pattern 1000 7))
           (thread (send-in-parts a (list p1 p2)))
           (got (socket-recv b 2000 +msg-waitall+ :timeout 5)))
      (is (= 2000 (length got)))
      (is (equalp (concat p1 p2) got))
      (is (eq t (join thread))))))

(waitall-test recv-waitall-gets-both-parts-without-timeout
  (over-both (a b)
    (let* ((p1 (pattern 1000 3)) (p2 (pattern 1000 5))
           (thread (send-in-parts a (list p1 p2)))
           (got (socket-recv b 2000 +msg-waitall+)))
      (is (equalp (concat p1 p2) got))
      (is (eq t (join thread))))))

(waitall-test recv-into-waitall-fills-the-range
  (over-both (a b)
    (let* ((p1 (pattern 700 1)) (p2 (pattern 600 2)) (p3 (pattern 700 3))
           (buffer (make-array 2100 :element-type '(unsigned-byte 8) :initial-element 9))
           (thread (send-in-parts a (list p1 p2 p3) :pause 0.2)))
      (is (= 2000 (socket-recv-into b buffer :start 50 :end 2050 :flags +msg-waitall+
                                             :timeout 5)))
      (is (equalp (concat p1 p2 p3) (subseq buffer 50 2050)))
      (is (every (lambda (x) (= x 9)) (subseq buffer 0 50)))
      (is (every (lambda (x) (= x 9)) (subseq buffer 2050)))
      (is (eq t (join thread)))
      ;; Untimed, into the same buffer.
      (let ((thread (send-in-parts a (list p3 p1) :pause 0.2)))
        (is (= 1400 (socket-recv-into b buffer :end 1400 :flags +msg-waitall+)))
        (is (equalp (concat p3 p1) (subseq buffer 0 1400)))
        (is (eq t (join thread)))))))

(waitall-test recv-without-waitall-returns-the-first-part
  ;; The contrast: without the flag a receive returns what is there.
  (over-both (a b)
    (let* ((thread (send-in-parts a (list (pattern 1000 0) (pattern 1000 0))))
           (got (socket-recv b 2000 :timeout 5)))
      (is (= 1000 (length got)))
      (is (= 1000 (length (socket-recv b 2000 :timeout 5))))
      (is (eq t (join thread))))))

;;; End of stream

(waitall-test recv-waitall-at-end-of-stream-gives-what-arrived
  (over-both (a b)
    (let* ((p1 (pattern 1000 4))
           (thread (send-in-parts a (list p1) :shutdown t)))
      (is (equalp p1 (socket-recv b 2000 +msg-waitall+ :timeout 5)))
      (is (eq t (join thread)))
      (is (zerop (length (socket-recv b 10 +msg-waitall+ :timeout 5))))))
  (over-both (a b)
    (let* ((p1 (pattern 1000 6))
           (buffer (make-array 2000 :element-type '(unsigned-byte 8)))
           (thread (send-in-parts a (list p1) :shutdown t)))
      (is (= 1000 (socket-recv-into b buffer :flags +msg-waitall+)))
      (is (equalp p1 (subseq buffer 0 1000)))
      (is (eq t (join thread))))))

;;; The timeout

(waitall-test recv-waitall-timeout-carries-what-arrived
  (over-both (a b)
    (let* ((p1 (pattern 1000 8))
           (thread (send-in-parts a (list p1)))
           (start (get-internal-real-time))
           (condition (handler-case (progn (socket-recv b 2000 +msg-waitall+ :timeout 0.5) nil)
                        (socket-timeout (c) c))))
      (is (typep condition 'socket-transfer-timeout))
      (is (>= (/ (- (get-internal-real-time) start) internal-time-units-per-second) 0.45))
      (when condition
        (is (= +etimedout+ (socket-error-code condition)))
        (is (= 1000 (socket-timeout-count condition)))
        (is (equalp p1 (socket-timeout-octets condition))))
      (is (eq t (join thread)))
      ;; Nothing was lost and nothing is left over: the next bytes are new.
      (socket-send a (pattern 10 99))
      (is (equalp (pattern 10 99) (socket-recv b 10 +msg-waitall+ :timeout 5))))))

(waitall-test recv-into-waitall-timeout-leaves-the-bytes-in-the-buffer
  (over-both (a b)
    (let* ((p1 (pattern 300 2))
           (buffer (make-array 1000 :element-type '(unsigned-byte 8)))
           (thread (send-in-parts a (list p1)))
           (condition (handler-case
                          (progn (socket-recv-into b buffer :start 100 :flags +msg-waitall+
                                                            :timeout 0.5)
                                 nil)
                        (socket-timeout (c) c))))
      (is (typep condition 'socket-transfer-timeout))
      (when condition
        (is (= 300 (socket-timeout-count condition)))
        (is (equalp p1 (subseq buffer 100 400))))
      (is (eq t (join thread))))))

(waitall-test recv-timeout-with-nothing-counts-zero
  (over-both (a b)
    (declare (ignore a))
    (let ((condition (handler-case (progn (socket-recv b 10 +msg-waitall+ :timeout 0.2) nil)
                       (socket-timeout (c) c))))
      (is (typep condition 'socket-transfer-timeout))
      (when condition
        (is (zerop (socket-timeout-count condition)))))))

(waitall-test send-timeout-carries-the-count-sent
  ;; The peer never reads: a send of more than the socket buffers hold
  ;; times out after sending some of it, and says how much.
  (over-both (a b)
    (declare (ignore b))
    (let* ((data (make-array (* 64 1024 1024) :element-type '(unsigned-byte 8)))
           (condition (handler-case (progn (socket-send-all a data :timeout 0.3) nil)
                        (socket-timeout (c) c))))
      (is (typep condition 'socket-transfer-timeout))
      (when condition
        (is (< 0 (socket-timeout-count condition) (length data)))
        (is (null (socket-timeout-octets condition)))))))

;;; Non-blocking callers keep one attempt

(waitall-test dontwait-waitall-returns-what-is-there
  (over-both (a b)
    (socket-send a (pattern 100 0))
    (sleep 0.05)
    (is (= 100 (length (socket-recv b 2000 (logior +msg-dontwait+ +msg-waitall+)))))
    (is (null (socket-recv b 2000 (logior +msg-dontwait+ +msg-waitall+))))))
