;;;; SPDX-License-Identifier: MIT
;;;; loop.lisp - the event loop: accept, dispatch events to a connection
;;;; handler, buffer and resume output, time out.
;;;;
;;;; One epoll instance per SERVER (one thread runs it).  Every connection
;;;; is registered once, edge-triggered, for input and output
;;;; (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET), with its fd as the data word; its
;;;; state is a CONN structure in a simple-vector indexed by fd, reused when
;;;; the kernel reuses the fd.  What a connection's events mean is the
;;;; server's CONN-HANDLER's business: HTTP (http-conn.lisp) unless told
;;;; otherwise, the echo and WebSocket servers (patterns.lisp,
;;;; websocket.lisp) the same way.
;;;;
;;;; Writing.  Handlers stage responses in the loop's staging buffer and
;;;; send them with one send per read.  What the socket does not take goes
;;;; to a pending buffer (from a pool), sent from where the socket stopped
;;;; when EPOLLOUT says there is room; above 1 MiB pending, handlers stop
;;;; reading that connection until it drains.  TLS sends resume with the
;;;; same bytes (OpenSSL's rule: the pending buffer holds exactly what was
;;;; not taken).
;;;;
;;;; Time.  One timerfd ticks; each connection carries the loop's coarse
;;;; clock of its last event; the tick closes those idle for longer than
;;;; the timeout.  No per-connection timers.
;;;;
;;;; EMFILE.  The loop holds one spare descriptor.  When accept fails for
;;;; want of descriptors it closes the spare, accepts and closes the pending
;;;; connection, and opens the spare again, so the listener's backlog
;;;; drains instead of waking the loop for ever.
;;;;
;;;; Errors.  Every condition while handling one connection closes that
;;;; connection only.

(in-package #:epsilon.examples.server)

(defconstant +read-size+ 65536 "Bytes read at a time into the loop's buffer.")
(defconstant +carry-size+ (* 2 +max-head+) "Room for an incomplete request and one read.")
(defconstant +stage-size+ 65536 "The loop's staging buffer for responses.")
(defconstant +pending-size+ 16384 "A pooled pending-output buffer.")
(defconstant +high-water+ (* 1024 1024) "Pending output above which reading pauses.")
(defconstant +conn-events+ (logior +epollin+ +epollout+ +epollrdhup+ +epollet+))

;;; Buffer pools: a stack in a simple vector, no consing once warm.

(defstruct (pool (:constructor make-pool (size)))
  (size 0 :type index :read-only t)
  (items (make-array 256) :type simple-vector)
  (count 0 :type index))

(defun pool-take (pool)
  (declare (type pool pool))
  (if (plusp (pool-count pool))
      (let ((v (svref (pool-items pool) (decf (pool-count pool)))))
        (setf (svref (pool-items pool) (pool-count pool)) nil)
        v)
      (make-array (pool-size pool) :element-type '(unsigned-byte 8))))

(defun pool-give (pool buffer)
  (declare (type pool pool) (type octets buffer))
  (when (and (= (length buffer) (pool-size pool))
             (< (pool-count pool) (length (pool-items pool))))
    (setf (svref (pool-items pool) (pool-count pool)) buffer)
    (incf (pool-count pool)))
  nil)

;;; Connections

(defstruct (conn (:constructor make-conn ()))
  (fd -1 :type fixnum)
  (open nil)
  (tls nil :type (or null tls-connection))
  (handshaking nil)
  (carry nil :type (or null octets))
  (carry-len 0 :type index)
  (out nil :type (or null octets))     ; pending output: OUT[OUT-START,OUT-LEN)
  (out-start 0 :type index)
  (out-len 0 :type index)
  (body-left 0 :type (integer 0 #.+max-content-length+))
  (readable nil)
  (close-after nil)                     ; close once the output is sent
  (eof nil)                             ; the peer sent its FIN
  (rdhup nil)                           ; epoll saw the FIN: read on to the EOF
  (lingering nil)                       ; our FIN sent; reading until theirs
  (last-active 0 :type fixnum)
  (state nil))                          ; a CONN-HANDLER's own, NIL when opened

;;; The server

(defstruct (server (:constructor %make-server) (:copier nil))
  "One epoll loop serving HTTP/1.1 and HTTPS.  Make it with MAKE-SERVER, run
it with RUN-SERVER (in one thread), stop it with STOP-SERVER (from any
thread or a signal handler) and close it with CLOSE-SERVER."
  (epfd -1 :type fixnum)
  (listener -1 :type fixnum)
  (tls-listener -1 :type fixnum)
  (tls-context nil)
  (port nil)
  (tls-port nil)
  (host "127.0.0.1")
  (timer -1 :type fixnum)
  (wakeup -1 :type fixnum)
  (spare -1 :type fixnum)
  (events (make-event-buffer 512) :type event-buffer)
  (rbuf (make-array +read-size+ :element-type '(unsigned-byte 8)) :type octets)
  (stage (make-array +stage-size+ :element-type '(unsigned-byte 8)) :type octets)
  (olen 0 :type index)
  (conns #() :type simple-vector)
  (carry-pool (make-pool +carry-size+) :type pool)
  (out-pool (make-pool +pending-size+) :type pool)
  (idle-ms 60000 :type fixnum)
  (tick-ms 1000 :type fixnum)
  (now-ms 0 :type fixnum)
  (stop nil)
  (accept-paused nil)
  (on-wakeup nil)
  ;; A function of (server conn mask) that handles the events of every
  ;; connection: HTTP-EVENT (http-conn.lisp), or one of the package
  ;; documentation's examples (patterns.lisp, websocket.lisp).  It keeps
  ;; what it needs per connection in the CONN (CONN-STATE is its own).
  (conn-handler (error "A server needs a connection handler.") :type function)
  (closed nil)
  ;; Counters
  (open-count 0 :type fixnum)
  (requests 0 :type fixnum)
  (event-count 0 :type fixnum)
  (accepted 0 :type fixnum)
  (idle-closed 0 :type fixnum)
  (shed 0 :type fixnum)
  (errors 0 :type fixnum)
  ;; The last tick's rates
  (events-per-second 0 :type fixnum)
  (consed-per-request -1 :type fixnum)
  (last-tick-ms 0 :type fixnum)
  (last-events 0 :type fixnum)
  (last-requests 0 :type fixnum)
  (last-consed 0 :type fixnum)
  (start-consed 0 :type fixnum)
  (start-requests 0 :type fixnum))

(declaim (inline clock-ms))
(defun clock-ms ()
  (values (floor (get-internal-real-time) #.(floor internal-time-units-per-second 1000))))

;;; File descriptor limits, through getrlimit/setrlimit (RLIMIT_NOFILE = 7).

(defun fd-limit ()
  "The soft and hard limits on open descriptors of this process."
  (let ((lim (make-array 2 :element-type '(unsigned-byte 64))))
    (assert (zerop (epsilon.foreign:shared-call "getrlimit" :int '(:int :pointer) 7 lim)))
    (values (aref lim 0) (aref lim 1))))

(defun raise-fd-limit (&optional n)
  "Set the soft limit on open descriptors to N (default: the hard limit; at
most the hard limit), and return the new soft limit.  Lowering works too."
  (let ((lim (make-array 2 :element-type '(unsigned-byte 64))))
    (assert (zerop (epsilon.foreign:shared-call "getrlimit" :int '(:int :pointer) 7 lim)))
    (setf (aref lim 0) (min (or n (aref lim 1)) (aref lim 1)))
    (assert (zerop (epsilon.foreign:shared-call "setrlimit" :int '(:int :pointer) 7 lim)))
    (aref lim 0)))

;;; Listeners

(defun listen-address (host port)
  (if (find #\: host)
      (make-inet6-address host port)
      (handler-case (make-inet-address host port)
        (address-error ()
          (or (first (resolve-host host :port port :family +af-inet+))
              (error "~A: no address" host))))))

(define-condition startup-error (error)
  ((message :initarg :message :reader startup-error-message
            :documentation "What failed, one line."))
  (:report (lambda (c s) (write-string (startup-error-message c) s)))
  (:documentation "A server could not start: a listener could not be made
(the port is in use, no permission, no such address) or what it needs is
missing.  Its message is one line, for the user."))

(define-condition listen-error (startup-error socket-error)
  ((host :initarg :host :reader listen-error-host
         :documentation "The host (a string) the listener was for.")
   (port :initarg :port :reader listen-error-port
         :documentation "The port asked for.")
   (cause :initarg :cause :reader listen-error-cause
          :documentation "The library's SOCKET-ERROR from the bind or listen."))
  (:documentation "A listener on HOST:PORT could not be made; CAUSE is the
library's condition.  Also a SOCKET-ERROR with CAUSE's code, so
EPSILON-ERROR-NAME says :EADDRINUSE, :EACCES, ..."))

(defun listen-failure (host port cause)
  (make-condition 'listen-error
                  :host host :port port :cause cause
                  :code (epsilon-error-code cause) :operation 'make-server
                  :message (format nil "~A:~D: ~A"
                                   (if (find #\: host) (format nil "[~A]" host) host) port
                                   (case (epsilon-error-name cause)
                                     (:eaddrinuse "address already in use (by another server?)")
                                     (:eacces "permission denied (ports below 1024 need privileges)")
                                     (:eaddrnotavail "not an address of this machine (HOST=127.0.0.1 is)")
                                     (t (error-message (epsilon-error-code cause)))))))

(defun check-port-free (address)
  "Signal LISTEN-ERROR unless ADDRESS (with a fixed port) can be bound by a
socket without SO_REUSEPORT: then no other socket listens there, whoever
owns it.  Listeners with SO_REUSEPORT share a port with any other that also
sets it (same user), so a second server would silently join the first."
  (let ((probe (socket-create (address-family address) +sock-stream+ 0)))
    (unwind-protect
         (progn (set-socket-option probe +sol-socket+ +so-reuseaddr+ 1)
                (socket-bind probe address))
      (socket-close probe))))

(defun open-listener (host port backlog reuse-port)
  "A non-blocking TCP listener on HOST:PORT; returns its fd and port.
REUSE-PORT: NIL, no SO_REUSEPORT; T, SO_REUSEPORT on a port nobody listens
on yet (checked first, see CHECK-PORT-FREE); :JOIN, SO_REUSEPORT on the
port of a listener of this process (another loop of the same server).
Signals LISTEN-ERROR when the address cannot be bound."
  (let* ((address (listen-address host port))
         (fd (socket-create (address-family address)
                            (logior +sock-stream+ +sock-nonblock+) 0))
         (ok nil))
    (unwind-protect
         (handler-case
             (progn
               (set-socket-option fd +sol-socket+ +so-reuseaddr+ 1)
               (when (and (eq reuse-port t) (/= port 0))
                 (check-port-free address))
               (when reuse-port
                 (set-socket-option fd +sol-socket+ +so-reuseport+ 1))
               (socket-bind fd address)
               (socket-listen fd backlog)
               (setf ok t)
               (values fd (address-port (socket-local-address fd))))
           (socket-error (e)
             (error (listen-failure host port e))))
      (unless ok (socket-close fd)))))

(defun make-server (&key (host "127.0.0.1") (port 8080) tls-port cert-file key-file
                         ocsp-response-file (idle-timeout 60) (tick 1) (backlog 65535) (reuse-port t)
                         (max-events 512) max-fds (handler 'http-event))
  "Make a server: a plain HTTP listener on HOST:PORT unless PORT is NIL, an
HTTPS one on HOST:TLS-PORT (with the PEM files CERT-FILE and KEY-FILE)
unless TLS-PORT is NIL, stapling the DER OCSP-RESPONSE-FILE when given;
port 0 picks a free port (read it back with
SERVER-PORT / SERVER-TLS-PORT).  IDLE-TIMEOUT (seconds) closes connections
without traffic; TICK (seconds) is how often that is checked.  MAX-FDS
(default: the soft descriptor limit) sizes the connection table.
REUSE-PORT (default T) sets SO_REUSEPORT, so that several servers in
several threads can listen on the same port: the first with T (it signals
LISTEN-ERROR when anything already listens on the port, so a second
program does not join the first), the others with :JOIN and the first's
ports.  HANDLER (a function designator of SERVER, CONN and the event mask;
default HTTP-EVENT, the HTTP/HTTPS server) handles every connection's
events.  Close it with CLOSE-SERVER."
  (let ((server (%make-server :events (make-event-buffer max-events)
                              :conn-handler (coerce handler 'function)
                              :host host
                              :idle-ms (max 1 (round (* idle-timeout 1000)))
                              :tick-ms (max 1 (round (* tick 1000)))
                              :conns (make-array (or max-fds (fd-limit)) :initial-element nil)))
        (ok nil))
    (unwind-protect
         (progn
           (setf (server-epfd server) (epoll-create1))
           (when port
             (multiple-value-bind (fd p) (open-listener host port backlog reuse-port)
               (setf (server-listener server) fd (server-port server) p)
               (add-event (server-epfd server) fd +epollin+)))
           (when tls-port
             (setf (server-tls-context server)
                   (make-tls-context :role :server :cert-file cert-file :key-file key-file
                                     :ocsp-response-file ocsp-response-file))
             (multiple-value-bind (fd p) (open-listener host tls-port backlog reuse-port)
               (setf (server-tls-listener server) fd (server-tls-port server) p)
               (add-event (server-epfd server) fd +epollin+)))
           (setf (server-wakeup server) (make-eventfd))
           (add-event (server-epfd server) (server-wakeup server) +epollin+)
           (setf (server-timer server) (make-timerfd))
           (add-event (server-epfd server) (server-timer server) +epollin+)
           (let ((s (/ (server-tick-ms server) 1000)))
             (timerfd-arm (server-timer server) s s))
           (setf (server-spare server) (make-eventfd))
           (let ((now (clock-ms)))
             (setf (server-now-ms server) now
                   (server-last-tick-ms server) now
                   (server-last-consed server) (sb-ext:get-bytes-consed)
                   (server-start-consed server) (sb-ext:get-bytes-consed)))
           (setf ok t)
           server)
      (unless ok (close-server server)))))

(defun stop-server (server)
  "Ask SERVER's loop to return from RUN-SERVER (after the current events);
from any thread, or from a signal handler.  Returns T."
  (setf (server-stop server) t)
  (when (>= (server-wakeup server) 0)
    (eventfd-signal (server-wakeup server)))
  t)

(defun wake-server (server)
  "Wake SERVER's loop, which then calls its ON-WAKEUP function."
  (when (>= (server-wakeup server) 0)
    (eventfd-signal (server-wakeup server))))

;;; Output

(defun send-bytes (conn buffer start end)
  "Send BUFFER[START,END) on CONN; the count the socket took (maybe 0)."
  (declare (type conn conn) (type octets buffer) (type index start end))
  (let ((tls (conn-tls conn)))
    (the index
         (or (if tls
                 (tls-send tls buffer :start start :end end)
                 (socket-send (conn-fd conn) buffer +msg-dontwait+ :start start :end end))
             0))))

(declaim (inline pending-bytes))
(defun pending-bytes (conn)
  "How many bytes of output CONN has waiting for the socket."
  (- (conn-out-len conn) (conn-out-start conn)))

(defun release-out (server conn)
  (let ((out (conn-out conn)))
    (when out
      (setf (conn-out conn) nil (conn-out-start conn) 0 (conn-out-len conn) 0)
      (pool-give (server-out-pool server) out))))

(defun append-out (server conn src start end)
  "Append SRC[START,END) to CONN's pending output."
  (declare (type octets src) (type index start end))
  (let* ((n (- end start))
         (out (or (conn-out conn)
                  (setf (conn-out conn) (pool-take (server-out-pool server)))))
         (from (conn-out-start conn))
         (len (conn-out-len conn)))
    (declare (type octets out) (type index from len))
    (when (> (+ len n) (length out))
      ;; No room after the pending bytes: move them to the front of this
      ;; buffer, or of a bigger one.
      (let ((to (if (<= (+ (- len from) n) (length out))
                    out
                    (make-array (max (* 2 (length out)) (+ (- len from) n))
                                :element-type '(unsigned-byte 8)))))
        (replace to out :start2 from :end2 len)
        (setf len (- len from) from 0 out to
              (conn-out conn) to (conn-out-start conn) 0)))
    (replace out src :start1 len :start2 start :end2 end)
    (setf (conn-out-len conn) (+ len n))))

(defun flush-pending (server conn)
  "Send what CONN has pending, from where the socket stopped last time."
  (let ((len (conn-out-len conn))
        (from (conn-out-start conn)))
    (when (< from len)
      (let ((k (send-bytes conn (conn-out conn) from len)))
        (if (= (+ from k) len)
            (release-out server conn)
            (setf (conn-out-start conn) (+ from k)))))))

(defun flush-staged (server conn)
  "Send the loop's staged responses for CONN: at once when nothing is
pending, else after what is."
  (let ((n (server-olen server))
        (stage (server-stage server)))
    (setf (server-olen server) 0)
    (when (plusp n)
      (if (zerop (pending-bytes conn))
          (let ((k (send-bytes conn stage 0 n)))
            (when (< k n)
              (append-out server conn stage k n)))
          (progn (append-out server conn stage 0 n)
                 (flush-pending server conn))))))

(defun stage (server conn bytes end)
  "Stage BYTES[0,END) as the next response on CONN."
  (declare (type octets bytes) (type index end))
  (when (> (+ (server-olen server) end) +stage-size+)
    (flush-staged server conn))
  (if (> end +stage-size+)
      (progn (flush-staged server conn) (append-out server conn bytes 0 end)
             (flush-pending server conn))
      (let ((olen (server-olen server)))
        (replace (server-stage server) bytes :start1 olen :end2 end)
        (setf (server-olen server) (+ olen end)))))

;;; Statistics

(defun server-stats (server)
  "A plist of SERVER's counters: :CONNECTIONS (open now), :REQUESTS
(served), :EVENTS-PER-SECOND and :BYTES-CONSED-PER-REQUEST (over the last
tick; -1 when no request arrived in it), :AVERAGE-BYTES-CONSED-PER-REQUEST
(since the server was made), :ACCEPTED, :IDLE-CLOSED, :SHED (connections
closed at once for want of descriptors), :ERRORS (connections closed on
an error other than the peer going away), and for leak checks (make soak):
:OPEN-FDS and :OPEN-HANDLES (the library's descriptors and live handles),
:BYTES-CONSED (since the image started) and :DYNAMIC-USAGE (heap bytes in
use now)."
  (let ((requests (- (server-requests server) (server-start-requests server))))
    (list :connections (server-open-count server)
          :requests (server-requests server)
          :events-per-second (server-events-per-second server)
          :bytes-consed-per-request (server-consed-per-request server)
          :average-bytes-consed-per-request
          (if (plusp requests)
              (float (/ (- (sb-ext:get-bytes-consed) (server-start-consed server)) requests))
              0)
          :accepted (server-accepted server)
          :idle-closed (server-idle-closed server)
          :shed (server-shed server)
          :errors (server-errors server)
          :open-fds (epsilon.linux:open-fd-count)
          :open-handles (epsilon.linux:open-handle-count)
          :bytes-consed (sb-ext:get-bytes-consed)
          :dynamic-usage (sb-kernel:dynamic-usage))))

(defun close-conn (server conn)
  "Close CONN and recycle its buffers; never signals."
  (when (conn-open conn)
    (setf (conn-open conn) nil)
    (decf (server-open-count server))
    (let ((tls (conn-tls conn)))
      (when tls
        (setf (conn-tls conn) nil)
        (unless (conn-handshaking conn)
          (ignore-errors (tls-shutdown tls)))
        (ignore-errors (tls-connection-free tls))))
    (ignore-errors (socket-close (conn-fd conn)))
    (release-out server conn)
    (let ((carry (conn-carry conn)))
      (when carry
        (setf (conn-carry conn) nil (conn-carry-len conn) 0)
        (pool-give (server-carry-pool server) carry)))
    (setf (conn-fd conn) -1)))

(defun open-conn (server fd tls-p)
  (let ((conns (server-conns server)))
    (when (>= fd (length conns))
      (socket-close fd)
      (return-from open-conn nil))
    (let ((conn (or (svref conns fd) (setf (svref conns fd) (make-conn)))))
      (setf (conn-fd conn) fd
            (conn-open conn) t
            (conn-tls conn) nil
            (conn-handshaking conn) tls-p
            (conn-readable conn) nil
            (conn-close-after conn) nil
            (conn-eof conn) nil
            (conn-rdhup conn) nil
            (conn-lingering conn) nil
            (conn-body-left conn) 0
            (conn-carry-len conn) 0
            (conn-out-start conn) 0
            (conn-out-len conn) 0
            (conn-state conn) nil
            (conn-last-active conn) (server-now-ms server))
      (incf (server-open-count server))
      (incf (server-accepted server))
      (handler-case
          (progn
            (set-socket-option fd +ipproto-tcp+ +tcp-nodelay+ 1)
            (when tls-p
              (setf (conn-tls conn) (make-tls-connection (server-tls-context server) fd)))
            (add-event (server-epfd server) fd +conn-events+))
        (error ()
          (incf (server-errors server))
          (close-conn server conn))))))

;;; Accepting

(defun shed-one (server listener)
  "Out of descriptors: close the spare, accept the next pending connection
and close it, reopen the spare.  True when one was shed; else accepting
pauses until the next tick."
  (let ((spare (server-spare server)))
    (when (>= spare 0)
      (setf (server-spare server) -1)
      (ignore-errors (epoll-close spare))
      (let ((fd (ignore-errors (socket-accept listener :nonblocking t :address nil))))
        (when fd
          (ignore-errors (socket-close fd))
          (incf (server-shed server))))
      (setf (server-spare server) (or (ignore-errors (make-eventfd)) -1))
      (when (>= (server-spare server) 0)
        (return-from shed-one t))))
  ;; No spare to trade: stop watching the listeners until the next tick.
  (unless (server-accept-paused server)
    (setf (server-accept-paused server) t)
    (dolist (l (list (server-listener server) (server-tls-listener server)))
      (when (>= l 0) (ignore-errors (delete-event (server-epfd server) l)))))
  nil)

(defun resume-accepting (server)
  (when (server-accept-paused server)
    (when (< (server-spare server) 0)
      (setf (server-spare server) (or (ignore-errors (make-eventfd)) -1)))
    (when (>= (server-spare server) 0)
      (setf (server-accept-paused server) nil)
      (dolist (l (list (server-listener server) (server-tls-listener server)))
        (when (>= l 0) (ignore-errors (add-event (server-epfd server) l +epollin+)))))))

(defun accept-some (server listener tls-p)
  "Accept up to 64 connections (the listener is level-triggered: more are
reported by the next wait, after the other events had their turn)."
  (loop repeat 64
        do (let ((fd (handler-case (socket-accept listener :nonblocking t :address nil)
                       (socket-error (e)
                         (if (member (epsilon-error-name e) '(:emfile :enfile))
                             :emfile
                             :error)))))
             (case fd
               ((nil :error) (return))
               (:emfile (unless (shed-one server listener) (return)))
               (t (open-conn server fd tls-p))))))

;;; Ticks

(defun tick (server)
  (timerfd-read (server-timer server))
  (let* ((now (clock-ms))
         (elapsed (max 1 (- now (server-last-tick-ms server))))
         (consed (sb-ext:get-bytes-consed))
         (requests (- (server-requests server) (server-last-requests server))))
    (declare (type fixnum now elapsed consed requests))
    (setf (server-now-ms server) now
          (server-events-per-second server)
          (floor (* 1000 (- (server-event-count server) (server-last-events server))) elapsed)
          (server-consed-per-request server)
          (if (plusp requests) (floor (- consed (server-last-consed server)) requests) -1)
          (server-last-tick-ms server) now
          (server-last-events server) (server-event-count server)
          (server-last-requests server) (server-requests server)
          (server-last-consed server) consed)
    (resume-accepting server)
    ;; Idle connections.
    (let ((conns (server-conns server))
          (limit (- now (server-idle-ms server))))
      (dotimes (fd (length conns))
        (let ((conn (svref conns fd)))
          (when (and conn (conn-open conn) (< (conn-last-active conn) limit))
            (incf (server-idle-closed server))
            (close-conn server conn)))))))

;;; The loop

(defun peer-gone-p (condition)
  "True when CONDITION only says the peer went away (a reset, a closed
pipe, TCP EOF in the middle of TLS): routine, not an error of ours."
  (and (typep condition 'epsilon-error)
       (member (epsilon-error-name condition) '(:econnreset :epipe :eunexpectedeof))))

(declaim (inline server-event))
(defun server-event (server fd mask)
  "Handle one event of SERVER's loop: MASK (the +EPOLL...+ bits) on FD."
  (declare (type server server) (type (unsigned-byte 31) fd)
           (type (unsigned-byte 32) mask))
  (let ((conns (server-conns server)))
    (declare (type simple-vector conns))
    (cond ((= fd (server-listener server)) (accept-some server fd nil))
          ((= fd (server-tls-listener server)) (accept-some server fd t))
          ((= fd (server-timer server)) (tick server))
          ((= fd (server-wakeup server))
           (eventfd-drain fd)
           (let ((f (server-on-wakeup server)))
             (when f (funcall f server))))
          ((< fd (length conns))
           (let ((conn (svref conns fd)))
             (when (and conn (conn-open conn))
               (setf (conn-last-active conn) (server-now-ms server))
               (handler-case (funcall (server-conn-handler server) server conn mask)
                 (error (e)
                   (setf (server-olen server) 0)
                   (unless (peer-gone-p e)
                     (incf (server-errors server)))
                   (close-conn server conn)))))))
    nil))

(defun run-server (server)
  "Run SERVER's event loop in this thread until STOP-SERVER.  Returns T."
  (let ((epfd (server-epfd server))
        (events (server-events server)))
    (loop until (server-stop server)
          do (do-events ((data mask) epfd events -1)
               (incf (server-event-count server))
               ;; Every data word is a descriptor we registered: a fixnum
               ;; compare from here on, not a 64-bit one.
               (server-event server (logand data #x7fffffff) mask)))
    t))

(defun close-server (server)
  "Close every connection and descriptor of SERVER and free its TLS
context.  Idempotent; never signals.  Returns NIL."
  (unless (server-closed server)
    (setf (server-closed server) t)
    (loop for conn across (server-conns server)
          when (and conn (conn-open conn)) do (close-conn server conn))
    (flet ((done (fd closer)
             (when (>= fd 0) (ignore-errors (funcall closer fd)))))
      (done (server-listener server) #'socket-close)
      (done (server-tls-listener server) #'socket-close)
      (done (server-timer server) #'epoll-close)
      (done (server-spare server) #'epoll-close)
      (done (server-wakeup server) #'epoll-close)
      (done (server-epfd server) #'epoll-close))
    (setf (server-listener server) -1 (server-tls-listener server) -1
          (server-timer server) -1 (server-spare server) -1
          (server-wakeup server) -1 (server-epfd server) -1)
    (when (server-tls-context server)
      (ignore-errors (tls-context-free (server-tls-context server)))))
  nil)
