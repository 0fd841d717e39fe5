;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - the packages every part of epsilon.linux shares.

(defpackage #:epsilon.linux.errors
  (:use #:cl)
  ;; The code constants: the list bindings-gen made from errors.h's tables.
  (:import-from #:epsilon.linux.bindings
                . #.epsilon.linux.bindings:*error-code-constants*)
  (:documentation
   "The error model of epsilon-linux, defined once: the +E...+ code constants
(positive, equal to the kernel's errno where there is one), the condition
root EPSILON-ERROR with its readers and subclasses.  epsilon.sys.epoll,
epsilon.net.core and epsilon.crypto re-export these same symbols, so a
program can :USE all three.")
  ;; Conditions
  (:export #:epsilon-error
           #:epsilon-error-code
           #:epsilon-error-name
           #:epsilon-error-operation
           #:epsilon-error-detail
           #:epoll-error
           #:epoll-error-code
           #:socket-error
           #:socket-error-code
           #:timeout-error
           #:socket-timeout
           #:resolve-error
           #:address-error
           #:tls-error
           #:tls-error-code
           #:tls-handshake-error
           #:tls-verification-error
           #:tls-hostname-mismatch
           #:tls-timeout
           #:tls-unexpected-eof
           #:class-for-code)
  ;; Codes: names and messages
  (:export #:error-name
           #:error-message)
  ;; Code constants (errors.h), the same generated list
  (:export . #.epsilon.linux.bindings:*error-code-constants*))

(defpackage #:epsilon.linux.runtime
  (:use #:cl #:epsilon.linux.errors)
  (:import-from #:epsilon.linux.bindings
                #:%eps-last-error-detail #:%eps-fd-poll
                #:+pollin+ #:+pollout+ #:+pollerr+ #:+pollhup+ #:+clock-monotonic+)
  (:documentation
   "Internal machinery shared by the public packages: turning C return values
into conditions, and the blocking model (the one retry loop WITH-RETRY,
waiting for readiness with poll, deadlines, EINTR retried).  Not for users.")
  (:export #:check-result
           #:signal-epsilon-error
           #:last-error-detail
           #:deadline
           #:remaining-ms
           #:monotonic-us
           #:wait-until-ready
           #:wait-ready
           #:signal-timeout
           #:with-retry
           #:retry-failed-call
           #:define-public-package
           #:+pollin+ #:+pollout+))

(defpackage #:epsilon.linux
  (:use #:cl #:epsilon.linux.errors)
  (:documentation
   "Library-wide information about libepsilon-linux: its version, the names
and messages of its error codes, and leak accounting.")
  ;; Version
  (:export #:library-version
           #:abi-version)
  ;; Error codes
  (:export #:error-name
           #:error-message)
  ;; Accounting
  (:export #:open-handle-count
           #:open-fd-count))
