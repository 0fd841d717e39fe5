;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - epsilon.examples.patterns.

(defpackage #:epsilon.examples.patterns
  (:use #:cl #:epsilon.sys.epoll #:epsilon.net.core #:epsilon.crypto)
  (:documentation
   "The package documentation's smaller examples, complete and with their
errata fixed (DESIGN section 6): a thread-safe connection pool that drops
dead connections on checkout, asynchronous reads and writes completed by an
epoll loop, an epoll event-rate monitor bounded by a count or a time, and a
TLS client that fetches a page verifying the server against a CA.")
  ;; Connection pool
  (:export #:connection-pool
           #:create-connection-pool
           #:get-pooled-connection
           #:return-pooled-connection
           #:close-connection-pool
           #:connection-pool-idle-count
           #:connection-pool-active-count)
  ;; Asynchronous operations
  (:export #:async-operation
           #:async-operation-type
           #:async-operation-fd
           #:async-operation-buffer
           #:async-operation-user-data
           #:async-operation-done
           #:async-read
           #:async-write
           #:process-async-operations
           #:pending-async-operations)
  ;; Monitoring
  (:export #:monitor-epoll-performance)
  ;; TLS client
  (:export #:fetch-https))
