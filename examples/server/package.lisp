;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - epsilon.examples.server: the epoll HTTP/HTTPS server.

(defpackage #:epsilon.examples.server
  (:use #:cl #:epsilon.sys.epoll #:epsilon.net.core #:epsilon.crypto)
  (:documentation
   "An HTTP/1.1 and HTTPS server on one epoll loop per thread, over
epsilon.sys.epoll, epsilon.net.core and epsilon.crypto: the main job of
`make run`.  Edge-triggered reads until would-block or a short read, writes
resumed on EPOLLOUT, TLS driven non-blocking in the same loop, keep-alive
and pipelining, idle connections closed from one timerfd tick, EMFILE on
accept handled with a spare descriptor.  HTTP and HTTPS requests cons
nothing in steady state; /stats shows the bytes consed per request.  HTTP is
one connection handler (HTTP-EVENT, MAKE-SERVER's default :HANDLER) beside
the echo and WebSocket ones of the documentation's examples.

  (let ((server (make-server :port 0)))
    (unwind-protect (run-server server)   ; until STOP-SERVER, from any thread
      (close-server server)))")
  ;; HTTP
  (:export #:parse-request
           #:find-head-end
           #:+max-head+
           #:hello-response)
  ;; Servers
  (:export #:server
           #:make-server
           #:http-event
           #:run-server
           #:stop-server
           #:close-server
           #:server-port
           #:server-tls-port
           #:server-stats
           #:raise-fd-limit
           #:fd-limit
           #:install-stop-signals
           #:startup-error
           #:listen-error
           #:listen-error-host
           #:listen-error-port
           #:listen-error-cause)
  ;; The package documentation's server examples
  (:export #:create-epoll-server
           #:handle-client-read
           #:handle-client-write
           #:create-http-server
           #:handle-http-event
           #:create-websocket-server
           #:websocket-accept)
  ;; The program of `make run`
  (:export #:main))
