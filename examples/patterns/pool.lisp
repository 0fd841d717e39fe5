;;;; SPDX-License-Identifier: MIT
;;;; pool.lisp - the connection pool of the package documentation, made
;;;; thread-safe, bounded, and checking idle connections before reuse.

(in-package #:epsilon.examples.patterns)

(defstruct (connection-pool (:constructor %make-connection-pool))
  "Connections to one HOST:PORT: at most MAX-CONNECTIONS open (idle + in use)."
  (host "127.0.0.1" :type string)
  (port 0 :type (integer 0 65535))
  (max-connections 10 :type (integer 1))
  (active-connections (make-hash-table) :type hash-table) ; fd -> checkout time
  (idle-connections '() :type list)
  (connection-timeout 300)
  (connecting 0 :type fixnum)                             ; new ones being made
  (lock (sb-thread:make-mutex :name "connection pool")))

(defun create-connection-pool (host port &key (max-connections 10))
  "A pool of TCP connections to HOST (a numeric IPv4 address) and PORT, at
most MAX-CONNECTIONS open at a time."
  (check-type host string)
  (check-type port (integer 0 65535))
  (check-type max-connections (integer 1))
  (%make-connection-pool :host host :port port :max-connections max-connections))

(defun connection-alive-p (fd)
  "True when idle FD is still usable: nothing arrived on it (no EOF, no
stray bytes, no error).  One non-blocking peek, no waiting."
  (handler-case
      (null (socket-recv fd 1 (logior +msg-dontwait+ +msg-peek+)))
    (socket-error () nil)))

(defun connect-new (pool)
  (let ((fd (socket-create +af-inet+ +sock-stream+ +ipproto-tcp+)))
    (handler-bind ((error (lambda (e) (declare (ignore e)) (socket-close fd))))
      (socket-connect fd (make-inet-address (connection-pool-host pool)
                                            (connection-pool-port pool))))
    fd))

(defun get-pooled-connection (pool)
  "A connected fd from POOL: an idle one that is still alive (dead ones are
closed and dropped), else a new connection; NIL when MAX-CONNECTIONS are
open.  Give it back with RETURN-POOLED-CONNECTION.  Signals SOCKET-ERROR
when a new connection fails."
  (let ((dead '()) (fd nil) (connect nil)
        (lock (connection-pool-lock pool))
        (active (connection-pool-active-connections pool)))
    (sb-thread:with-mutex (lock)
      (loop for candidate = (pop (connection-pool-idle-connections pool))
            while candidate
            do (if (connection-alive-p candidate)
                   (return (setf fd candidate))
                   (push candidate dead)))
      (cond (fd (setf (gethash fd active) (get-universal-time)))
            ((< (+ (hash-table-count active)
                   (length (connection-pool-idle-connections pool))
                   (connection-pool-connecting pool))
                (connection-pool-max-connections pool))
             ;; Reserve the slot; connect outside the lock.
             (incf (connection-pool-connecting pool))
             (setf connect t))))
    (mapc #'socket-close dead)
    (if connect
        (let ((new nil))
          (unwind-protect (setf new (connect-new pool))
            (sb-thread:with-mutex (lock)
              (decf (connection-pool-connecting pool))
              (when new (setf (gethash new active) (get-universal-time)))))
          new)
        fd)))

(defun return-pooled-connection (pool fd)
  "Give FD, from GET-POOLED-CONNECTION, back to POOL for reuse."
  (sb-thread:with-mutex ((connection-pool-lock pool))
    (unless (remhash fd (connection-pool-active-connections pool))
      (error "~D is not a connection in use from this pool" fd))
    (push fd (connection-pool-idle-connections pool)))
  fd)

(defun close-connection-pool (pool)
  "Close POOL's idle connections and forget them; connections in use are the
caller's to close.  Returns the number closed."
  (let ((idle (sb-thread:with-mutex ((connection-pool-lock pool))
                (shiftf (connection-pool-idle-connections pool) '()))))
    (mapc #'socket-close idle)
    (length idle)))

(defun connection-pool-idle-count (pool)
  "How many connections of POOL are idle."
  (sb-thread:with-mutex ((connection-pool-lock pool))
    (length (connection-pool-idle-connections pool))))

(defun connection-pool-active-count (pool)
  "How many connections of POOL are in use."
  (sb-thread:with-mutex ((connection-pool-lock pool))
    (hash-table-count (connection-pool-active-connections pool))))
