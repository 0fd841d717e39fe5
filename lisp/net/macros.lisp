;;;; SPDX-License-Identifier: MIT
;;;; macros.lisp - WITH-SERVER-SOCKET, WITH-CLIENT-SOCKET, WITH-SOCKET.

(in-package #:epsilon.net.core.internal)

(defmacro with-socket ((fd domain type &optional (protocol 0)) &body body)
  "Bind FD to a new socket (SOCKET-CREATE DOMAIN TYPE PROTOCOL) for BODY and
close it on every exit, unless a socket stream over it (MAKE-SOCKET-STREAM,
WITH-SOCKET-STREAM) closed it first: then it is not closed twice.  Returns
BODY's values."
  (let ((cell (gensym "CELL")))
    `(with-claimed-fd (,fd ,cell (create-into ,cell ,domain ,type ,protocol))
       ,@body)))

(defun listen-address (host port)
  "The address to listen on for HOST: an IPv4 or IPv6 literal, else the
first address HOST resolves to."
  (cond ((find #\: host) (make-inet6-address host port))
        (t (handler-case (make-inet-address host port)
             (address-error ()
               (or (first (resolve-host host :port port))
                   (error 'resolve-error :code +eainoname+ :operation 'with-server-socket)))))))

(defun open-server-socket (cell host port backlog reuse-address)
  "A listener on HOST and PORT, opened into CELL (see WITH-CLAIMED-FD):
on any failure the macro's cleanup closes it."
  (check-type host string)
  (check-type port port)
  (check-type backlog size)
  (let ((address (listen-address host port)))
    (create-into cell (address-family address) +sock-stream+ 0)
    (let ((fd (car cell)))
      (when reuse-address
        (set-socket-option fd +sol-socket+ +so-reuseaddr+ 1))
      (socket-bind fd address)
      (socket-listen fd backlog))))

(defmacro with-server-socket ((fd &key (port 0) (host "0.0.0.0") (backlog '+somaxconn+)
                                    (reuse-address t))
                              &body body)
  "Bind FD to a new blocking TCP listener on HOST (an IPv4 or IPv6 literal or
a name; default \"0.0.0.0\", all IPv4 interfaces) and PORT (default 0: the
kernel picks one; read it with (ADDRESS-PORT (SOCKET-LOCAL-ADDRESS FD))),
with SO_REUSEADDR unless REUSE-ADDRESS is NIL and BACKLOG pending
connections (default +SOMAXCONN+), for BODY; close it on every exit (unless
a socket stream over it closed it first).  A descriptor SOCKET-ACCEPT
returns is the caller's: WITH-SOCKET-STREAM over it closes it."
  (let ((cell (gensym "CELL")))
    `(with-claimed-fd (,fd ,cell (open-server-socket ,cell ,host ,port ,backlog ,reuse-address))
       ,@body)))

(defun open-client-socket (cell host port timeout)
  "A TCP socket connected to HOST and PORT, opened into CELL (see
WITH-CLAIMED-FD): each address in turn; one that does not connect is
closed here, any other failure is the macro's cleanup to close."
  (check-type host string)
  (check-type port port)
  (let ((last-error nil))
    (dolist (address (resolve-host host :port port :type +sock-stream+))
      (create-into cell (address-family address) +sock-stream+ 0)
      (handler-case (progn (socket-connect (car cell) address :timeout timeout)
                           (return-from open-client-socket))
        (socket-error (e)
          (setf last-error e)
          (close-from cell))))
    (if last-error
        (error last-error)
        (error (quote resolve-error) :code +eainodata+ :operation (quote with-client-socket)))))

(defmacro with-client-socket ((fd &key host port timeout) &body body)
  "Bind FD to a new blocking TCP socket connected to HOST (a name such as
\"localhost\", resolved with RESOLVE-HOST, or a literal) and PORT, for BODY;
close it on every exit, unless a socket stream over it (MAKE-SOCKET-STREAM
with :CLOSE-FD T, the default, or WITH-SOCKET-STREAM) closed it first: the
fd is closed exactly once.  Each address HOST resolves to is tried in turn,
each for up to TIMEOUT seconds (NIL: no limit); when none connects, the
last SOCKET-ERROR is signalled."
  (let ((cell (gensym "CELL")))
    `(with-claimed-fd (,fd ,cell (open-client-socket ,cell ,host ,port ,timeout))
       ,@body)))
