;;;; SPDX-License-Identifier: MIT
;;;; suite-server-faults.lisp - fault injection against the main job's
;;;; server (examples/main.lisp, started ONCE as a subprocess for the whole
;;;; suite, with a short IDLE_TIMEOUT): peers that reset mid-request and
;;;; mid-response, half-close, stop reading, trickle one byte at a time or
;;;; stall, and TLS peers that truncate the handshake, send garbage records,
;;;; speak plaintext HTTP, or close without close_notify.  After each case the
;;;; server serves a normal request on both ports; at the end SIGINT stops it
;;;; with exit code 0.  (Descriptor exhaustion at accept is in suite-server;
;;;; the library-level cases are in suite-faults.)

(in-package #:epsilon.linux.tests)

(def-suite server-faults :in epsilon-linux
  :description "Misbehaving peers against the main job's server, as a subprocess.")

(defpackage #:epsilon.linux.tests.server-faults
  (:use #:cl #:fiveam #:epsilon.net.core #:epsilon.crypto)
  (:import-from #:epsilon.linux.tests.server
                #:start-main #:stop-main #:main-process #:main-port #:main-tls-port
                #:main-cpu-ticks #:main-fd-count #:req #:text #:root #:read-to-eof #:exchange
                #:+hello-length+)
  (:import-from #:epsilon.linux.tests.faults #:client-hello #:octets))

(in-package #:epsilon.linux.tests.server-faults)

(defconstant +idle-timeout+ 3
  "IDLE_TIMEOUT of the server under test, in seconds (whole seconds: the
main job parses an integer).")

(defvar *main* nil "The server under test, a MAIN structure of suite-server.")

(defvar *base-fds* nil "How many descriptors the server held when it started serving.")

(defun ca () (namestring (merge-pathnames "build/run-certs/ca.pem" (root))))

(defun connect (port)
  (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
    (handler-bind ((error (lambda (e) (declare (ignore e)) (socket-close fd))))
      (socket-connect fd (make-inet-address "127.0.0.1" port) :timeout 10))
    fd))

(defun reset-close (fd)
  "Close FD with SO_LINGER 0: the peer gets a RST, not a FIN."
  (set-socket-option fd +sol-socket+ +so-linger+ 0)
  (socket-close fd))

(defun recv-n (fd n &key (timeout 10))
  "N bytes from FD as a string (fewer when the peer closes first)."
  (let ((got (make-array n :element-type '(unsigned-byte 8))) (k 0))
    (loop while (< k n)
          do (let ((r (socket-recv-into fd got :start k :timeout timeout)))
               (when (zerop r) (return))
               (incf k r)))
    (text (subseq got 0 k))))

(defun http-ok-p ()
  "A normal keep-alive request on the HTTP port gets Hello, World!."
  (let ((fd (connect (main-port *main*))))
    (unwind-protect
         (progn (socket-send fd (req "GET / HTTP/1.1~Host: a~~") :timeout 10)
                (search "Hello, World!" (recv-n fd +hello-length+)))
      (socket-close fd))))

(defun https-ok-p ()
  "A verified TLS client on the HTTPS port gets Hello, World!."
  (let ((fd (connect (main-tls-port *main*))))
    (unwind-protect
         (with-tls-context (ctx :ca-file (ca))
           (with-tls-connection (c ctx fd :hostname "localhost" :timeout 10)
             (tls-handshake c)
             (tls-send c (req "GET / HTTP/1.1~Host: a~~"))
             (let ((got (make-array 0 :element-type '(unsigned-byte 8)
                                      :adjustable t :fill-pointer 0)))
               (loop while (< (length got) +hello-length+)
                     do (let ((v (tls-recv c 4096)))
                          (when (zerop (length v)) (return))
                          (loop for b across v do (vector-push-extend b got))))
               (search "Hello, World!" (text (coerce got '(simple-array (unsigned-byte 8) (*))))))))
      (socket-close fd))))

(defun raw-exchange (port octets &key (then :close))
  "Send OCTETS raw on a new connection to PORT, then half-close and collect
what comes back until EOF (THEN :CLOSE), or reset the connection (:RESET).
A reset from the server (it may close with our bytes unread) ends it too.
Returns the octets received."
  (let ((fd (connect port))
        (got (make-array 0 :element-type '(unsigned-byte 8) :adjustable t :fill-pointer 0)))
    (unwind-protect
         (handler-case
             (progn
               (when (plusp (length octets)) (socket-send fd octets :timeout 10))
               (ecase then
                 (:reset (set-socket-option fd +sol-socket+ +so-linger+ 0))
                 (:close
                  (socket-shutdown fd :write)
                  (loop for chunk = (socket-recv fd 4096 0 :timeout 10)
                        until (zerop (length chunk))
                        do (loop for b across chunk do (vector-push-extend b got))))))
           (socket-timeout () (fail "the server neither answered nor closed"))
           (socket-error () nil))
      (socket-close fd))
    (coerce got '(simple-array (unsigned-byte 8) (*)))))

(defun server-stat (name)
  "The counter NAME (a string: \"errors\", \"idle-closed\", ...) of the
server's /stats page."
  (let* ((page (exchange (main-port *main*) (req "GET /stats HTTP/1.1~Host: a~Connection: close~~")))
         (p (search (format nil "~C~A " #\Newline name) page)))
    (and p (parse-integer page :start (+ p (length name) 2) :junk-allowed t))))

(defmacro without-errors-counted (&body body)
  "BODY, then check the server counted no connection error: a peer that
resets, half-closes or stalls is not the server's error."
  (let ((before (gensym)))
    `(let ((,before (server-stat "errors")))
       (is (integerp ,before) "no errors counter on /stats")
       ,@body
       (is (eql ,before (server-stat "errors")) "/stats errors ~S before, ~S after"
           ,before (server-stat "errors")))))

(defun main-alive-p () (and *main* (sb-ext:process-alive-p (main-process *main*))))

(defmacro server-fault-test (name &body body)
  "A case against the shared server: bounded to 60 s; afterwards the server
is alive and serves a normal request on both ports."
  `(test (,name :suite epsilon.linux.tests::server-faults)
     (ensure-main)
     (if (not (and (main-alive-p) (main-port *main*) (main-tls-port *main*)))
         (fail "the server under test is not running")
         (let ((fds (epsilon.linux:open-fd-count)))
           (handler-case (sb-ext:with-timeout 60 ,@body)
             (sb-ext:timeout () (fail "~A did not finish in 60 s" ',name)))
           (is (main-alive-p) "the server died in ~A" ',name)
           (when (main-alive-p)
             (is (http-ok-p) "HTTP not served after ~A" ',name)
             (is (https-ok-p) "HTTPS not served after ~A" ',name))
           (is (= fds (epsilon.linux:open-fd-count)) "client fd leak in ~A" ',name)))))

(defun kill-main ()
  "Kill a server left running (when the last test did not run)."
  (let ((main *main*))
    (setf *main* nil)
    (when (and main (sb-ext:process-alive-p (main-process main)))
      (sb-ext:process-kill (main-process main) 9))))

(defun ensure-main ()
  (unless *main*
    (pushnew 'kill-main sb-ext:*exit-hooks*)
    (setf *main* (start-main "PORT=0" "TLS_PORT=0"
                             (format nil "IDLE_TIMEOUT=~D" +idle-timeout+))
          *base-fds* (and (main-alive-p) (main-fd-count *main*)))))

;;; The cases (each also runs alone: the first starts the server; the last
;;; test stops it, and a later run starts a new one).

(server-fault-test server-faults-start
  (is (integerp (main-port *main*)))
  (is (integerp (main-tls-port *main*))))

(server-fault-test server-faults-peer-reset-mid-request
  (without-errors-counted
    (dotimes (i 5)
      (let ((fd (connect (main-port *main*))))
        (socket-send fd (req "GET / HTTP/1.1~Host: a~X-Long: ") :timeout 10)
        (socket-send fd (octets 2000 (char-code #\x)) :timeout 10)
        (reset-close fd)))
    ;; The same on the TLS port, after the handshake, in the middle of a record.
    (dotimes (i 3)
      (let ((fd (connect (main-tls-port *main*))))
        (unwind-protect
             (with-tls-context (ctx :ca-file (ca))
               (with-tls-connection (c ctx fd :hostname "localhost" :timeout 10)
                 (tls-handshake c)
                 (tls-send c (req "GET / HTTP/1.1~Host: a~"))
                 ;; A record header announcing 16 KiB, and only part of it.
                 (socket-send fd (coerce #(23 3 3 64 0 1 2 3) '(vector (unsigned-byte 8))) :timeout 10)
                 (set-socket-option fd +sol-socket+ +so-linger+ 0)))
          (socket-close fd))))))

(server-fault-test server-faults-peer-reset-mid-response
  (without-errors-counted
    ;; 20,000 pipelined requests (1.5 MB of responses, more than the socket
    ;; buffers hold): read a little of the answer, then reset.  The sends
    ;; are bounded by their :timeout, should the server stop reading first.
    (let* ((one (req "GET / HTTP/1.1~Host: a~~"))
           (batch (apply #'concatenate '(simple-array (unsigned-byte 8) (*))
                         (loop repeat 200 collect one))))
      (dotimes (i 3)
        (let ((fd (connect (main-port *main*))))
          (dotimes (j 100) (socket-send fd batch :timeout 10))
          (is (search "Hello, World!" (recv-n fd (* 10 +hello-length+))))
          (reset-close fd)))
      ;; The same over TLS: the server's pending output is a TLS write that
      ;; OpenSSL expects to be offered again, and never will be.
      (dotimes (i 2)
        (let ((fd (connect (main-tls-port *main*))))
          (unwind-protect
               (with-tls-context (ctx :ca-file (ca))
                 (with-tls-connection (c ctx fd :hostname "localhost" :timeout 10)
                   (tls-handshake c)
                   (dotimes (j 50) (tls-send c batch))
                   (let ((v (tls-recv c 4096)))
                     (is (search "HTTP/1.1 200" (text v))))
                   (set-socket-option fd +sol-socket+ +so-linger+ 0)))
            (socket-close fd)))))))

(server-fault-test server-faults-half-close-gets-the-response
  (without-errors-counted
    (dolist (request '("GET / HTTP/1.1~Host: a~~"
                       "GET / HTTP/1.1~Host: a~~GET /nope HTTP/1.1~Host: a~~"
                       "GET / HTTP/1.0~~"))
      (let ((fd (connect (main-port *main*))))
        (unwind-protect
             (progn
               (socket-send fd (req request) :timeout 10)
               (socket-shutdown fd :write)
               ;; Every response, then the server's FIN.
               (let ((all (read-to-eof fd)))
                 (is (eql 0 (search "HTTP/1.1 200 OK" all)) "~S: ~S" request all)
                 (is (search "Hello, World!" all))
                 (when (search "/nope" request)
                   (is (search "HTTP/1.1 404" all) "~S" all))))
          (socket-close fd))))))

(server-fault-test server-faults-client-that-stops-reading
  (without-errors-counted
    ;; Requests until the connection takes no more: the server's output backs
    ;; up, it stops reading, and must wait for EPOLLOUT without spinning.
    (let ((fd (connect (main-port *main*)))
          (batch (apply #'concatenate '(simple-array (unsigned-byte 8) (*))
                        (loop repeat 500 collect (req "GET / HTTP/1.1~Host: a~~")))))
      (unwind-protect
           (progn
             (set-socket-nonblocking fd)
             (let ((sent (loop repeat 5000
                               for n = (socket-send fd batch +msg-dontwait+)
                               while n sum n)))
               (is (> sent (* 100 1024)) "only ~D bytes sent" sent))
             (sleep 0.3)
             (let ((before (main-cpu-ticks *main*)))
               (sleep 1)
               (is (< (- (main-cpu-ticks *main*) before) 20)
                   "~D ticks of CPU in 1 s while a client does not read"
                   (- (main-cpu-ticks *main*) before)))
             (is (http-ok-p) "another client is served meanwhile")
             (is (https-ok-p) "another TLS client is served meanwhile"))
        (reset-close fd)))))

(server-fault-test server-faults-slow-clients-and-the-idle-timeout
  (without-errors-counted
    (let ((idle-closed (server-stat "idle-closed"))
        (slow (loop repeat 3 collect (connect (main-port *main*))))
          (stalled (connect (main-port *main*)))
          (request (req "GET / HTTP/1.1~Host: a~~")))
      (unwind-protect
           (let ((trickle (sb-thread:make-thread
                           (lambda ()
                             (dotimes (i (length request) :done)
                               (dolist (fd slow)
                                 (socket-send fd request :start i :end (1+ i) :timeout 5))
                               (sleep 0.02)))
                           :name "one byte at a time")))
             (socket-send stalled (req "GET / HT") :timeout 5)
             (let ((start (get-internal-real-time)))
               ;; Others are served while the slow ones trickle.
               (dotimes (i 5) (is (http-ok-p) "served during the trickle"))
               (is (eq :done (sb-thread:join-thread trickle :default :timeout :timeout 30)))
               (dolist (fd slow)
                 (is (search "Hello, World!" (recv-n fd +hello-length+ :timeout 5))))
               ;; The stalled one is reaped by the idle timeout: EOF.
               (is (zerop (length (socket-recv stalled 100 0 :timeout (+ 5 +idle-timeout+)))))
               (let ((seconds (/ (- (get-internal-real-time) start) internal-time-units-per-second)))
                 (is (<= (1- +idle-timeout+) seconds (+ 3 +idle-timeout+))
                     "stalled client closed after ~,2F s" seconds))))
        (mapc #'socket-close slow)
        (socket-close stalled)))))

(server-fault-test server-faults-tls-truncated-handshake
  (let ((hello (client-hello (main-tls-port *main*))))
    (is (> (length hello) 40))
    (raw-exchange (main-tls-port *main*) (subseq hello 0 (floor (length hello) 2)))
    (raw-exchange (main-tls-port *main*) (subseq hello 0 10) :then :reset)
    (raw-exchange (main-tls-port *main*) (subseq hello 0 3))
    (raw-exchange (main-tls-port *main*) (octets 0))))

(server-fault-test server-faults-tls-garbage-records
  (let ((garbage (octets 2000)))
    (replace garbage #(23 3 3 64 0))
    (loop for i from 5 below 2000 do (setf (aref garbage i) (random 256)))
    (raw-exchange (main-tls-port *main*) garbage)
    (raw-exchange (main-tls-port *main*) garbage :then :reset))
  (let ((hello (client-hello (main-tls-port *main*))))
    (raw-exchange (main-tls-port *main*)
                (concatenate '(vector (unsigned-byte 8)) hello (octets 500 255))))
  ;; Garbage after a completed handshake, as a raw record on the socket.
  (let ((fd (connect (main-tls-port *main*))))
    (unwind-protect
         (with-tls-context (ctx :ca-file (ca))
           (with-tls-connection (c ctx fd :hostname "localhost" :timeout 10)
             (tls-handshake c)
             (let ((junk (octets 300 7)))
               (replace junk #(23 3 3 1 39))
               (socket-send fd junk :timeout 10))
             ;; The server drops the connection (an alert, then EOF).
             (let ((dropped (handler-case (loop repeat 100
                                                thereis (zerop (length (tls-recv c 4096))))
                              (tls-timeout () nil)
                              (socket-timeout () nil)
                              (tls-error () t)
                              (socket-error () t))))
               (is-true dropped "the server kept a connection that sent garbage"))))
      (socket-close fd))))

(server-fault-test server-faults-plaintext-http-on-the-tls-port
  (dolist (request '("GET / HTTP/1.1~Host: a~Connection: close~~"
                     "GET / HTTP/1.1~Host: a~~"
                     "POST / HTTP/1.1~Host: a~Content-Length: 5000~~"))
    (let ((reply (raw-exchange (main-tls-port *main*) (req request))))
      ;; At most an alert comes back, never an HTTP answer.
      (is (not (search (sb-ext:string-to-octets "HTTP/1.1") reply)) "~S" reply)
      (is (not (search (sb-ext:string-to-octets "Hello") reply))))))

(server-fault-test server-faults-tls-client-closes-without-close-notify
  (dotimes (i 3)
    (let ((fd (connect (main-tls-port *main*))))
      (unwind-protect
           (with-tls-context (ctx :ca-file (ca))
             (with-tls-connection (c ctx fd :hostname "localhost" :timeout 10)
               (tls-handshake c)
               (tls-send c (req "GET / HTTP/1.1~Host: a~~"))
               (is (plusp (length (tls-recv c 4096))))
               ;; FIN without close_notify; the server closes its side too.
               (socket-shutdown fd :write)
               (let ((closed (handler-case
                                 (loop repeat 100
                                       thereis (zerop (length (socket-recv fd 4096 0 :timeout 10))))
                               (socket-timeout () nil)
                               (socket-error () t))))
                 (is-true closed "the server did not close"))))
        (socket-close fd)))))

(test (server-faults-stop :suite epsilon.linux.tests::server-faults)
  ;; Last: every connection closed (back to the descriptors of an idle
  ;; server), then SIGINT stops it with exit code 0.
  (ensure-main)
  (let ((main *main*))
    (setf *main* nil)
    (unwind-protect
         (when (sb-ext:process-alive-p (main-process main))
           (let ((fds (loop repeat 100
                            for n = (main-fd-count main)
                            until (= n *base-fds*)
                            do (sleep 0.1)
                            finally (return n))))
             (is (= fds *base-fds*) "the server holds ~D descriptors at the end, ~D at the start"
                 fds *base-fds*))
           (multiple-value-bind (code rest) (stop-main main)
             (is (eql 0 code) "exit code ~S; output ~A" code rest)
             (is (search "library descriptors open: 0" rest) "output: ~A" rest)))
      (when (sb-ext:process-alive-p (main-process main))
        (sb-ext:process-kill (main-process main) 9)))))
