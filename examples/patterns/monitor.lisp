;;;; SPDX-License-Identifier: MIT
;;;; monitor.lisp - monitor-epoll-performance, bounded so it can end.
;;;;
;;;; Errata fixed: the documentation's loop never ends, and it reports only
;;;; when the running count is an exact multiple of 1000, which a count that
;;;; grows by several events at a time can skip for ever; here a report is
;;;; due each time the count passes the next multiple of REPORT-EVERY.

(in-package #:epsilon.examples.patterns)

(defun monitor-epoll-performance (epfd &key max-events (duration 10)
                                         (report-every 1000) (stream *standard-output*)
                                         (on-event nil))
  "Wait for events on EPFD in a loop and report the rate of events per second
on STREAM every REPORT-EVERY events.  Stops after MAX-EVENTS events (NIL: no
limit) or DURATION seconds (NIL: no limit; at least one of the two must be
given).  ON-EVENT, when given, is called with each event's fd and mask (to
consume what is ready, as a server would).  Returns the number of events
and the seconds elapsed."
  (assert (or max-events duration) () "give MAX-EVENTS or DURATION")
  (let* ((start (get-internal-real-time))
         (end (and duration (+ start (round (* duration internal-time-units-per-second)))))
         (event-count 0)
         (next-report report-every))
    (flet ((elapsed ()
             (/ (- (get-internal-real-time) start) internal-time-units-per-second)))
      (loop
        (when (and max-events (>= event-count max-events)) (return))
        (let ((wait-ms (if end
                           (max 0 (min 1000 (round (* 1000 (- end (get-internal-real-time)))
                                                   internal-time-units-per-second)))
                           1000)))
          (when (and end (zerop wait-ms) (>= (get-internal-real-time) end))
            (return))
          (let ((events (wait-for-events epfd 100 wait-ms)))
            (incf event-count (length events))
            (when on-event
              (dolist (event events)
                (funcall on-event (epoll-event-data event) (epoll-event-events event))))
            (when (>= event-count next-report)
              (setf next-report (* report-every (1+ (floor event-count report-every))))
              (let ((seconds (elapsed)))
                (format stream "Events per second: ~,2F~%"
                        (if (plusp seconds) (/ event-count seconds) 0)))))))
      (values event-count (float (elapsed) 1d0)))))
