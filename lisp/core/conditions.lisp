;;;; SPDX-License-Identifier: MIT
;;;; conditions.lisp - the one condition hierarchy, made from the C codes.

(in-package #:epsilon.linux.errors)

(defun check-code (code)
  (check-type code (signed-byte 32))
  code)

(defun error-name (code)
  "Return the symbolic name of error CODE (either sign) as a keyword, such as
:ECONNREFUSED; :EUNKNOWN for a code the library does not define."
  (intern (epsilon.linux.bindings:%eps-errname (check-code code)) :keyword))

(defun error-message (code)
  "Return the English message of error CODE (either sign), such as
\"connection refused\"."
  (epsilon.linux.bindings:%eps-strerror (check-code code)))

(define-condition epsilon-error (error)
  ((code :initarg :code :reader epsilon-error-code
         :documentation "The positive error code: an errno number, or one of
the library's own codes above 4096.")
   (operation :initarg :operation :initform nil :reader epsilon-error-operation
              :documentation "The operation that failed, a symbol such as
SOCKET-CONNECT, or NIL.")
   (detail :initarg :detail :initform nil :reader epsilon-error-detail
           :documentation "Further text from the library (OpenSSL's error
queue, a verification reason), or NIL."))
  (:report (lambda (c s)
             (format s "~@[~(~A~): ~]~A (~A, code ~D)~@[: ~A~]"
                     (epsilon-error-operation c)
                     (error-message (epsilon-error-code c))
                     (epsilon-error-name c)
                     (epsilon-error-code c)
                     (epsilon-error-detail c))))
  (:documentation "The root of every error signalled by epsilon-linux.  Its
code is positive and equal to the kernel's errno where there is one: compare
it with the +E...+ constants using =, or dispatch on EPSILON-ERROR-NAME's
keyword with CASE."))

(defun epsilon-error-name (condition)
  "Return the keyword naming CONDITION's code, such as :ECONNREFUSED, for use
with CASE."
  (error-name (epsilon-error-code condition)))

(define-condition epoll-error (epsilon-error) ()
  (:documentation "An epoll operation failed."))

(define-condition socket-error (epsilon-error) ()
  (:documentation "A socket operation failed."))

(define-condition timeout-error (epsilon-error) ()
  (:default-initargs :code +etimedout+)
  (:documentation "An operation did not complete within its :TIMEOUT.  Its
code is +ETIMEDOUT+."))

(define-condition socket-timeout (socket-error timeout-error) ()
  (:documentation "A socket operation did not complete within its :TIMEOUT.
Its code is +ETIMEDOUT+."))

(define-condition resolve-error (socket-error) ()
  (:documentation "Name resolution failed (a host name that does not
resolve, or a resolver failure)."))

(define-condition address-error (socket-error) ()
  (:documentation "An address could not be built: a malformed literal, a
port out of range, an over-long Unix path."))

(define-condition tls-error (epsilon-error) ()
  (:documentation "A TLS operation failed."))

(define-condition tls-handshake-error (tls-error) ()
  (:documentation "The TLS handshake failed for a reason other than the
peer's certificate (no common protocol or cipher, garbage from the peer)."))

(define-condition tls-verification-error (tls-handshake-error) ()
  (:documentation "The peer's certificate did not verify: expired,
self-signed, signed by an unknown CA.  The reason is in the detail."))

(define-condition tls-hostname-mismatch (tls-verification-error) ()
  (:documentation "The peer's certificate is valid but not for the host name
(or IP address) the client asked for."))

(define-condition tls-timeout (tls-error timeout-error) ()
  (:documentation "A TLS operation did not complete within its :TIMEOUT.
Its code is +ETIMEDOUT+."))

(define-condition tls-unexpected-eof (tls-error) ()
  (:documentation "The peer closed the connection without sending
close_notify: the data may have been truncated."))

(defun epoll-error-code (condition)
  "Return the positive error code of CONDITION, an EPOLL-ERROR; it is = to
the +E...+ constants (+EBADF+, +EEXIST+, ...)."
  (epsilon-error-code condition))

(defun socket-error-code (condition)
  "Return the positive error code of CONDITION, a SOCKET-ERROR; it is = to
the +E...+ constants (+ECONNREFUSED+, +ETIMEDOUT+, ...)."
  (epsilon-error-code condition))

(defun tls-error-code (condition)
  "Return the positive error code of CONDITION, a TLS-ERROR."
  (epsilon-error-code condition))

(defun epsilon-error-class-p (symbol)
  (and (find-class symbol nil) (subtypep symbol 'epsilon-error)))

(defun code-class-symbol (code keyword)
  "The condition class KEYWORD names for CODE in the generated table: a
class of this package, or :SUBSYSTEM / :TIMEOUT as they are."
  (if (member keyword '(:subsystem :timeout))
      keyword
      (let ((symbol (find-symbol (symbol-name keyword) '#:epsilon.linux.errors)))
        (unless (and symbol (epsilon-error-class-p symbol))
          (error "errors.h maps code ~D to ~S, which names no condition class of ~
                  epsilon.linux.errors." code keyword))
        symbol)))

(defparameter *code-classes*
  (let ((table (make-hash-table)))
    (loop for (code . keyword) in epsilon.linux.bindings:*error-code-classes*
          do (setf (gethash code table) (code-class-symbol code keyword)))
    table)
  "Each code's condition class, from the CLASS column of errors.h's tables
(generated as EPSILON.LINUX.BINDINGS:*ERROR-CODE-CLASSES*).")

(defun timeout-class (class)
  "The timeout condition of the subsystem whose root is CLASS, or CLASS."
  (cond ((subtypep class 'socket-error) 'socket-timeout)
        ((subtypep class 'tls-error) 'tls-timeout)
        (t class)))

(defun class-for-code (code class)
  "The most specific condition class for positive CODE raised in the
subsystem whose root is CLASS."
  (check-type code integer)
  (check-type class (and symbol (satisfies epsilon-error-class-p)))
  (let ((mapped (gethash code *code-classes* :subsystem)))
    (case mapped
      (:subsystem class)
      (:timeout (timeout-class class))
      (t mapped))))
