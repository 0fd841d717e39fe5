;;;; SPDX-License-Identifier: MIT
;;;; suite-core.lisp - the library loads and answers for its version and codes.

(in-package #:epsilon.linux.tests)

(def-suite core :in epsilon-linux :description "Library loading, version, error codes.")
(in-suite core)

(test library-version-is-a-dotted-triple
  (let ((v (epsilon.linux:library-version)))
    (is (stringp v))
    (is (= 2 (count #\. v)))
    (is (every (lambda (c) (or (digit-char-p c) (char= c #\.))) v))))

(test abi-major-matches-bindings
  (is (= epsilon.foreign:+abi-major+ (nth-value 0 (epsilon.linux:abi-version)))))

(test error-names-and-messages
  (is (eq :econnrefused (epsilon.linux:error-name 111)))
  (is (eq :econnrefused (epsilon.linux:error-name -111)))
  (is (string= "connection refused" (epsilon.linux:error-message -111)))
  (is (eq :ebadhandle (epsilon.linux:error-name 4097)))
  (is (eq :eunknown (epsilon.linux:error-name 99999)))
  (is (string= "unknown error" (epsilon.linux:error-message 99999))))

(test error-code-type-checked
  (signals type-error (epsilon.linux:error-name (expt 2 40)))
  (signals type-error (epsilon.linux:error-name "111")))

(test missing-library-is-one-clear-error
  ;; A child SBCL pointed at a library that does not exist must fail the
  ;; load with one error that names the place it tried.
  (let* ((asd (namestring (asdf:system-source-file "epsilon.foreign")))
         (out (with-output-to-string (s)
                (sb-ext:run-program
                 "/usr/bin/env"
                 (list "EPSILON_LINUX_LIBRARY=/nonexistent/libepsilon-linux.so.1"
                       "sbcl" "--noinform" "--non-interactive" "--no-userinit"
                       "--eval" "(require :asdf)"
                       "--eval" (format nil "(asdf:load-asd ~S)" asd)
                       "--eval" "(handler-case (asdf:load-system \"epsilon.foreign\")
                                   (error (e) (format t \"CAUGHT ~S: ~A\" (type-of e) e)))")
                 :output s :error s))))
    (is (search "CAUGHT EPSILON.FOREIGN:LIBRARY-NOT-FOUND" out))
    (is (search "/nonexistent/libepsilon-linux.so.1" out))))

;;; The error model (lisp/core/): conditions made from C codes.

(test every-error-code-constant-is-exported
  ;; Each constant of errors.h (named like its code) is external in
  ;; epsilon.linux.errors, with the kernel's value.
  (let ((missing '()) (count 0))
    (do-external-symbols (s :epsilon.linux.bindings)
      (when (and (boundp s) (integerp (symbol-value s))
                 (< 0 (symbol-value s) 65536)
                 (string= (symbol-name s)
                          (format nil "+~A+" (epsilon.linux:error-name (symbol-value s)))))
        (incf count)
        (unless (eq :external (nth-value 1 (find-symbol (symbol-name s) :epsilon.linux.errors)))
          (push s missing))))
    (is (> count 80))
    (is (null missing) "not exported from epsilon.linux.errors: ~S" missing)
    (is (= 111 epsilon.linux.errors:+econnrefused+))
    (is (= epsilon.linux.errors:+eagain+ epsilon.linux.errors:+ewouldblock+))))

(test codes-map-to-condition-classes
  (flet ((class-of-code (code class)
           (epsilon.linux.errors:class-for-code code class)))
    (is (eq 'epsilon.linux.errors:socket-timeout
            (class-of-code epsilon.linux.errors:+etimedout+ 'epsilon.linux.errors:socket-error)))
    (is (eq 'epsilon.linux.errors:tls-verification-error
            (class-of-code epsilon.linux.errors:+ecertverify+ 'epsilon.linux.errors:tls-error)))
    (is (eq 'epsilon.linux.errors:tls-hostname-mismatch
            (class-of-code epsilon.linux.errors:+ehostmismatch+ 'epsilon.linux.errors:tls-error)))
    (is (eq 'epsilon.linux.errors:resolve-error
            (class-of-code epsilon.linux.errors:+eainoname+ 'epsilon.linux.errors:socket-error)))
    (is (eq 'epsilon.linux.errors:epoll-error
            (class-of-code epsilon.linux.errors:+ebadf+ 'epsilon.linux.errors:epoll-error)))
    (is (subtypep 'epsilon.linux.errors:tls-hostname-mismatch 'epsilon.linux.errors:tls-error))
    (is (subtypep 'epsilon.linux.errors:socket-timeout 'epsilon.linux.errors:timeout-error))))

(test check-result-signals-with-code-name-operation-and-detail
  ;; eps_close of stdin is refused with -EBADF: a real failure from C.
  (let ((c (handler-case
               (epsilon.linux.runtime:check-result
                (epsilon.linux.bindings:%eps-close 0) 'close-stdin
                'epsilon.linux.errors:socket-error)
             (epsilon.linux.errors:socket-error (e) e))))
    (is (typep c 'epsilon.linux.errors:socket-error))
    (is (= epsilon.linux.errors:+ebadf+ (epsilon.linux.errors:socket-error-code c)))
    (is (eq :ebadf (epsilon.linux.errors:epsilon-error-name c)))
    (is (eq 'close-stdin (epsilon.linux.errors:epsilon-error-operation c)))
    (is (search "bad file descriptor" (princ-to-string c))))
  (is (= 7 (epsilon.linux.runtime:check-result 7 'anything))))

;; Issue 15: a failure that sets no detail showed the detail of an older one
;; ("socket-connect: connection refused ...: cannot read /nonexistent/ca.pem").
(test a-failure-without-detail-shows-none-of-an-earlier-one
  (let ((tls (handler-case
                 (progn (epsilon.crypto:make-tls-context :ca-file "/nonexistent/ca.pem")
                        nil)
               (epsilon.crypto:tls-error (e) e))))
    (is (typep tls 'epsilon.crypto:tls-error))
    (is (search "/nonexistent/ca.pem" (or (epsilon.crypto:epsilon-error-detail tls) ""))
        "~A" tls))
  ;; A port bound but not listening refuses connections at once on loopback.
  (epsilon.net.core:with-socket (quiet epsilon.net.core:+af-inet+ epsilon.net.core:+sock-stream+)
    (epsilon.net.core:socket-bind quiet (epsilon.net.core:make-inet-address "127.0.0.1" 0))
    (let ((address (epsilon.net.core:socket-local-address quiet)))
      (epsilon.net.core:with-socket (fd epsilon.net.core:+af-inet+ epsilon.net.core:+sock-stream+)
        (let ((refused (handler-case
                           (progn (epsilon.net.core:socket-connect fd address :timeout 5) nil)
                         (epsilon.net.core:socket-error (e) e))))
          (is (typep refused 'epsilon.net.core:socket-error))
          (is (= epsilon.net.core:+econnrefused+ (epsilon.net.core:socket-error-code refused)))
          (is (null (epsilon.net.core:epsilon-error-detail refused)) "~A" refused)
          (is (not (search "ca.pem" (princ-to-string refused))) "~A" refused)))))
  ;; stdin was not made by epsilon.sys.epoll: EBADF, with nothing to add.
  (let ((bad (handler-case (progn (epsilon.sys.epoll:epoll-close 0) nil)
               (epsilon.sys.epoll:epoll-error (e) e))))
    (is (typep bad 'epsilon.sys.epoll:epoll-error))
    (is (= epsilon.sys.epoll:+ebadf+ (epsilon.sys.epoll:epoll-error-code bad)))
    (is (null (epsilon.sys.epoll:epsilon-error-detail bad)) "~A" bad)
    (is (not (search "ca.pem" (princ-to-string bad))) "~A" bad)))

;;; The same corner with one code twice: the second failure's code matches
;;; the first's stamp, and still it is not the first's text.
(test a-failure-without-detail-shows-none-of-an-earlier-one-of-the-same-code
  (flet ((address-failure (thunk)
           (handler-case (progn (funcall thunk) nil)
             (epsilon.net.core:address-error (e) e))))
    (let ((first (address-failure
                  (lambda () (epsilon.net.core:make-inet-address "not-an-address" 80))))
          (second (address-failure
                   (lambda () (epsilon.net.core:make-inet6-address "fe80::1%" 80)))))
      (is (typep first 'epsilon.net.core:address-error))
      (is (typep second 'epsilon.net.core:address-error))
      (is (= (epsilon.net.core:socket-error-code first)
             (epsilon.net.core:socket-error-code second)
             epsilon.net.core:+ebadaddress+))
      (is (search "IPv4" (or (epsilon.net.core:epsilon-error-detail first) "")) "~A" first)
      (is (null (epsilon.net.core:epsilon-error-detail second)) "~A" second)
      (is (not (search "IPv4" (princ-to-string second))) "~A" second))))

(test wait-until-ready-times-out-and-reports-readiness
  ;; A socketpair made by the library: one end is writable at once, the
  ;; other not readable until something is sent.
  (let ((fds (make-array 2 :element-type '(signed-byte 32))))
    (epsilon.linux.runtime:check-result
     (epsilon.linux.bindings:%eps-socketpair epsilon.linux.bindings:+af-unix+
                                            epsilon.linux.bindings:+sock-stream+ 0 fds)
     'socketpair)
    (unwind-protect
         (progn
           (is (logtest epsilon.linux.runtime:+pollout+
                        (epsilon.linux.runtime:wait-until-ready
                         (aref fds 0) epsilon.linux.runtime:+pollout+
                         (epsilon.linux.runtime:deadline 1) 'wait)))
           (let ((start (epsilon.linux.runtime:monotonic-us)))
             (signals epsilon.linux.errors:socket-timeout
               (epsilon.linux.runtime:wait-until-ready
                (aref fds 1) epsilon.linux.runtime:+pollin+
                (epsilon.linux.runtime:deadline 0.05) 'wait))
             ;; No earlier than asked (no upper bound asserted).
             (is (>= (- (epsilon.linux.runtime:monotonic-us) start) 50000))))
      (epsilon.linux.bindings:%eps-close (aref fds 0))
      (epsilon.linux.bindings:%eps-close (aref fds 1)))))

(test deadline-rejects-negative-timeouts
  (signals type-error (epsilon.linux.runtime:deadline -1))
  (signals type-error (epsilon.linux.runtime:deadline "5"))
  (is (null (epsilon.linux.runtime:deadline nil)))
  (is (= -1 (epsilon.linux.runtime:remaining-ms nil))))
