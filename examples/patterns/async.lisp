;;;; SPDX-License-Identifier: MIT
;;;; async.lisp - the package documentation's asynchronous operations: a
;;;; read or write is queued, and PROCESS-ASYNC-OPERATIONS completes it on an
;;;; epoll loop with non-blocking calls, then calls its callback.
;;;;
;;;; Errata fixed: the documentation's (logand mask +epollin+) is always
;;;; true (LOGTEST here), WHEN-LET is not CL, and nothing registered the fds
;;;; with the epoll instance: PROCESS-ASYNC-OPERATIONS does, and removes
;;;; them once their operations are done.

(in-package #:epsilon.examples.patterns)

(defstruct async-operation
  "One queued operation.  BUFFER is the octet vector read into (:READ) or the
octets to write (:WRITE); DONE counts the bytes transferred so far."
  (type :read :type (member :read :write))
  (fd 0 :type fixnum)
  (buffer nil)
  (callback nil)
  (user-data nil)
  (done 0 :type fixnum))

(defvar *async-lock* (sb-thread:make-mutex :name "async operations"))
(defvar *async-queue* '()
  "The operations not yet completed, oldest first.")

(defun add-to-async-queue (op)
  (sb-thread:with-mutex (*async-lock*)
    (setf *async-queue* (nconc *async-queue* (list op))))
  op)

(defun pending-async-operations ()
  "The operations queued and not yet completed (a fresh list)."
  (sb-thread:with-mutex (*async-lock*) (copy-list *async-queue*)))

(defun async-read (fd size callback &optional user-data)
  "Queue a read of up to SIZE bytes from socket FD.  When data arrives (or
the peer closes), PROCESS-ASYNC-OPERATIONS calls CALLBACK with the operation
and the bytes read (an octet vector, empty at end of stream).  Returns the
operation."
  (check-type size (integer 1 #.(1- (expt 2 31))))
  (add-to-async-queue
   (make-async-operation :type :read :fd fd
                         :buffer (make-array size :element-type '(unsigned-byte 8))
                         :callback callback :user-data user-data)))

(defun async-write (fd data callback &optional user-data)
  "Queue a write of DATA (a string, sent as UTF-8, or an octet vector) to
socket FD.  When all of it is sent, PROCESS-ASYNC-OPERATIONS calls CALLBACK
with the operation and the byte count.  Returns the operation."
  (add-to-async-queue
   (make-async-operation :type :write :fd fd
                         :buffer (if (stringp data)
                                     (sb-ext:string-to-octets data :external-format :utf-8)
                                     (coerce data '(simple-array (unsigned-byte 8) (*))))
                         :callback callback :user-data user-data)))

(defun wanted-events (ops fd)
  (let ((mask 0))
    (dolist (op ops mask)
      (when (= fd (async-operation-fd op))
        (setf mask (logior mask (if (eq (async-operation-type op) :read)
                                    +epollin+ +epollout+)))))))

(defun register (epfd fd mask)
  "Watch FD for MASK on EPFD, whether it is registered already or not."
  (handler-case (modify-event epfd fd mask)
    (epoll-error (e)
      (if (eq (epsilon-error-name e) :enoent)
          (add-event epfd fd mask)
          (error e)))))

(defun try-complete (op)
  "One non-blocking attempt at OP; true when it is complete."
  (let ((fd (async-operation-fd op))
        (buffer (async-operation-buffer op)))
    (ecase (async-operation-type op)
      (:read
       (let ((n (socket-recv-into fd buffer :flags +msg-dontwait+)))
         (when n
           (setf (async-operation-done op) n)
           t)))
      (:write
       (let ((n (socket-send fd buffer +msg-dontwait+ :start (async-operation-done op))))
         (when n (incf (async-operation-done op) n))
         (= (async-operation-done op) (length buffer)))))))

(defun process-async-operations (epfd &optional (timeout 0))
  "Register the fds of the queued operations with EPFD, wait up to TIMEOUT
milliseconds (0: just look) for readiness, complete what is ready and call
each completed operation's callback (outside the queue's lock).  Returns
the number of operations completed."
  (let ((ops (pending-async-operations))
        (completed '()))
    (let ((fds (remove-duplicates (mapcar #'async-operation-fd ops))))
      (dolist (fd fds)
        (register epfd fd (wanted-events ops fd))))
    (dolist (event (wait-for-events epfd 100 timeout))
      (let ((fd (epoll-event-data event))
            (mask (epoll-event-events event)))
        (dolist (op ops)
          (when (and (= fd (async-operation-fd op))
                     (not (member op completed))
                     ;; An error or hang-up completes reads (with EOF) and
                     ;; lets writes report their error.
                     (logtest mask (logior (if (eq (async-operation-type op) :read)
                                               +epollin+ +epollout+)
                                           +epollerr+ +epollhup+))
                     (try-complete op))
            (push op completed)))))
    (setf completed (nreverse completed))
    (sb-thread:with-mutex (*async-lock*)
      (setf *async-queue* (remove-if (lambda (op) (member op completed)) *async-queue*)))
    ;; Stop watching fds with nothing left to do.
    (let ((left (pending-async-operations)))
      (dolist (fd (remove-duplicates (mapcar #'async-operation-fd completed)))
        (if (find fd left :key #'async-operation-fd)
            (register epfd fd (wanted-events left fd))
            (delete-event epfd fd))))
    (dolist (op completed)
      (let ((callback (async-operation-callback op)))
        (when callback
          (funcall callback op
                   (if (eq (async-operation-type op) :read)
                       (subseq (async-operation-buffer op) 0 (async-operation-done op))
                       (async-operation-done op))))))
    (length completed)))
