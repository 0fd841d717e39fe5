;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - epsilon.sys.epoll, the public epoll package.

(epsilon.linux.runtime:define-public-package #:epsilon.sys.epoll
  (:import-from #:epsilon.linux.bindings
                #:%eps-epoll-create #:%eps-epoll-ctl #:%eps-epoll-wait #:%eps-close
                #:%eps-eventfd-create #:%eps-eventfd-write #:%eps-eventfd-read
                #:%eps-timerfd-create #:%eps-timerfd-arm #:%eps-timerfd-read
                #:+efd-nonblock+ #:+efd-semaphore+ #:+tfd-nonblock+
                #:+clock-monotonic+ #:+clock-realtime+ #:+clock-boottime+
                #:+epollin+ #:+epollout+ #:+epollrdhup+ #:+epollpri+
                #:+epollerr+ #:+epollhup+ #:+epollet+ #:+epolloneshot+
                #:+epollwakeup+ #:+epollexclusive+
                #:+epollrdnorm+ #:+epollrdband+ #:+epollwrnorm+ #:+epollwrband+
                #:+epollmsg+
                #:+epoll-ctl-add+ #:+epoll-ctl-mod+ #:+epoll-ctl-del+
                #:+epoll-cloexec+ #:+epoll-max-events+)
  (:import-from #:epsilon.linux.runtime
                #:check-result #:signal-epsilon-error
                #:deadline #:remaining-ms #:wait-until-ready #:+pollin+
                #:monotonic-us #:with-retry)
  (:documentation
   "Linux epoll(7) for SBCL: scalable readiness notification for sockets,
pipes, eventfds and timerfds, over libepsilon-linux.

Descriptors are plain integers, compared with =.  An epoll instance comes
from EPOLL-CREATE1 or WITH-EPOLL; descriptors are registered with ADD-EVENT
(or EPOLL-CTL), each with an event mask (+EPOLLIN+, +EPOLLOUT+, +EPOLLET+,
+EPOLLONESHOT+, ...) and a 64-bit data word handed back with every event
(the descriptor itself by default).  WAIT-FOR-EVENTS returns a fresh list
of EPOLL-EVENTs; EPOLL-WAIT fills a caller's vector of events in place and
DO-EVENTS iterates over a reusable EVENT-BUFFER: these two cons nothing per
wait.  Test a mask with LOGTEST or the EPOLL-EVENT-...-P predicates.

Waits block in epoll_wait(2) itself, which holds no lock or handle: an
interrupt (INTERRUPT-THREAD, WITH-TIMEOUT, a GC stop) may run there, and
the EINTR it leaves behind is retried with the time that is left.
Timeouts are integers of milliseconds (-1 or NIL: no limit, 0: just look).

Eventfds (MAKE-EVENTFD) wake a loop from another thread; timerfds
(MAKE-TIMERFD, TIMERFD-ARM with seconds as reals) give it timers.  Close
every descriptor made here with EPOLL-CLOSE.  Failures signal EPOLL-ERROR,
whose EPOLL-ERROR-CODE is = to the +E...+ constants.")
  ;; Epoll instances
  (:export #:epoll-create1
           #:epoll-create
           #:epoll-close
           #:with-epoll)
  ;; Registrations
  (:export #:epoll-ctl
           #:add-event
           #:modify-event
           #:delete-event)
  ;; Waiting
  (:export #:epoll-wait
           #:wait-for-events)
  ;; Zero-consing loops
  (:export #:make-event-buffer
           #:event-buffer
           #:event-buffer-p
           #:event-buffer-size
           #:do-events)
  ;; Events and data words
  (:export #:epoll-event
           #:make-epoll-event
           #:epoll-event-p
           #:epoll-event-events
           #:epoll-event-data
           #:epoll-data
           #:make-epoll-data
           #:epoll-data-p
           #:epoll-data-fd
           #:epoll-data-u32
           #:epoll-data-u64
           #:epoll-data-ptr
           #:epoll-event-readable-p
           #:epoll-event-writable-p
           #:epoll-event-error-p
           #:epoll-event-hangup-p)
  ;; Wakeups and timers
  (:export #:make-eventfd
           #:eventfd-signal
           #:eventfd-drain
           #:with-eventfd
           #:make-timerfd
           #:timerfd-arm
           #:timerfd-read
           #:with-timerfd)
  ;; Constants: event bits, modes, operations, flags
  (:export #:+epollin+ #:+epollout+ #:+epollrdhup+ #:+epollpri+
           #:+epollerr+ #:+epollhup+
           #:+epollrdnorm+ #:+epollrdband+ #:+epollwrnorm+ #:+epollwrband+
           #:+epollmsg+
           #:+epollet+ #:+epolloneshot+ #:+epollwakeup+ #:+epollexclusive+
           #:+epoll-ctl-add+ #:+epoll-ctl-mod+ #:+epoll-ctl-del+
           #:+epoll-cloexec+ #:+epoll-max-events+))
