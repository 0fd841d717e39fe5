;;;; SPDX-License-Identifier: MIT
;;;; patterns.lisp - the package documentation's server examples on the
;;;; main job's loop: CREATE-EPOLL-SERVER with HANDLE-CLIENT-READ /
;;;; HANDLE-CLIENT-WRITE (the "High-Performance Server Pattern": an echo
;;;; server), and CREATE-HTTP-SERVER with HANDLE-HTTP-EVENT.
;;;;
;;;; Both reuse the server of loop.lisp (listener, accept with EMFILE
;;;; shedding, the connection table, buffer pools, output resumed on
;;;; EPOLLOUT, idle timeouts, STOP-SERVER) instead of copying it: the echo
;;;; server is the loop's connection handler (MAKE-SERVER :HANDLER), the HTTP
;;;; server runs the documentation's WAIT-FOR-EVENTS loop and hands each
;;;; event to the loop's dispatcher.  Errata of the documentation fixed
;;;; (DESIGN section 6): LOGTEST instead of LOGAND as a test, a
;;;; non-blocking listener for the accept loop, both read and write handled
;;;; when one edge-triggered event reports both, SERVER-FD in scope, and a
;;;; way to stop (STOP-SERVER from another thread; READY gets the server).

(in-package #:epsilon.examples.server)

(defvar *servers* (make-hash-table :synchronized t)
  "The running servers of this file, by their epoll descriptor.")

(defun epfd-server (epfd)
  "The running server whose epoll descriptor is EPFD."
  (or (gethash epfd *servers*)
      (error "No example server runs on epoll descriptor ~D." epfd)))

(defun call-with-example-server (server ready body)
  "Register SERVER under its epoll descriptor, call READY (if any) with it,
run BODY, and always unregister and close SERVER.  Returns T."
  (unwind-protect
       (progn
         (setf (gethash (server-epfd server) *servers*) server)
         (when ready (funcall ready server))
         (funcall body)
         t)
    (remhash (server-epfd server) *servers*)
    (close-server server)))

;;; The High-Performance Server Pattern: an echo server.

(defun handle-client-read (fd epfd)
  "Read everything client FD has sent (FD is a connection of the server
running on epoll descriptor EPFD) and echo it back: at once when the socket
takes it, else kept as pending output, sent by HANDLE-CLIENT-WRITE.  Reads
until would-block, and pauses while more than 1 MiB waits to be sent.  At
end of file the connection is closed.  Returns NIL."
  (let* ((server (epfd-server epfd))
         (conn (svref (server-conns server) fd))
         (rbuf (server-rbuf server)))
    (declare (type octets rbuf))
    (loop while (and (conn-open conn) (<= (pending-bytes conn) +high-water+))
          do (let ((n (socket-recv-into fd rbuf :flags +msg-dontwait+)))
               (cond ((null n) (return))
                     ((zerop n) (close-conn server conn) (return))
                     ((zerop (pending-bytes conn))
                      (let ((k (send-bytes conn rbuf 0 n)))
                        (when (< k n) (append-out server conn rbuf k n))))
                     (t (append-out server conn rbuf 0 n)))))
    nil))

(defun handle-client-write (fd epfd)
  "Client FD (a connection of the server running on EPFD) can take output:
send what is pending, and when all of it is sent, resume reading (reading
pauses while too much is pending).  Returns NIL."
  (let* ((server (epfd-server epfd))
         (conn (svref (server-conns server) fd)))
    (when (plusp (pending-bytes conn))
      (flush-pending server conn)
      (when (zerop (pending-bytes conn))
        (handle-client-read fd epfd)))
    nil))

(defun echo-event (server conn mask)
  ;; Every connection is registered once, edge-triggered, for input and
  ;; output: one event can report both, so both are handled.  An error or
  ;; hang-up shows up as a failed or empty read, which closes.
  (declare (type (unsigned-byte 32) mask))
  (let ((fd (conn-fd conn))
        (epfd (server-epfd server)))
    (when (logtest mask +epollout+)
      (handle-client-write fd epfd))
    (when (and (conn-open conn)
               (logtest mask (logior +epollin+ +epollrdhup+ +epollhup+ +epollerr+)))
      (handle-client-read fd epfd))))

(defun create-epoll-server (port max-connections &key (host "127.0.0.1") ready)
  "Run an edge-triggered epoll echo server on HOST:PORT (port 0: a free
one) in this thread, taking up to MAX-CONNECTIONS events per wait; every
connection's bytes are sent back by HANDLE-CLIENT-READ and
HANDLE-CLIENT-WRITE.  READY, if given, is called with the server object
once it listens: read the port with SERVER-PORT, and stop the server from
any thread with STOP-SERVER.  Closes everything and returns T when
stopped."
  (check-type max-connections (integer 1 1048576))
  (let ((server (make-server :host host :port port :max-events max-connections
                             :reuse-port nil :handler #'echo-event)))
    (call-with-example-server server ready (lambda () (run-server server)))))

;;; The HTTP server of the documentation's integration examples.

(defun handle-http-event (epfd event)
  "Handle EVENT (an EPOLL-EVENT from WAIT-FOR-EVENTS on EPFD) of the HTTP
server running on EPFD: accept on its listener, read requests and answer
them (GET / says hello, GET /stats shows the counters), send pending
responses, close on error or end of file.  Returns NIL."
  (let ((server (epfd-server epfd)))
    (incf (server-event-count server))
    (server-event server (logand (epoll-event-data event) #x7fffffff)
                  (epoll-event-events event))))

(defun create-http-server (port &key (host "127.0.0.1") ready)
  "Run a simple HTTP/1.1 server on HOST:PORT (port 0: a free one) in this
thread: the documentation's loop of WAIT-FOR-EVENTS and HANDLE-HTTP-EVENT
over the main job's server.  READY, if given, is called with the server
object once it listens (SERVER-PORT reads the port; STOP-SERVER, from any
thread, stops it).  Closes everything and returns T when stopped."
  (let ((server (make-server :host host :port port :reuse-port nil)))
    (call-with-example-server
     server ready
     (lambda ()
       (let ((epfd (server-epfd server)))
         (loop until (server-stop server)
               do (dolist (event (wait-for-events epfd 100 1000))
                    (handle-http-event epfd event))))))))
