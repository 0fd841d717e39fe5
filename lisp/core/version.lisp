;;;; version.lisp - version and error-code text from the C library.

(in-package #:epsilon.linux)

(defun library-version ()
  "Return the release version of the loaded libepsilon-linux, as a string."
  (epsilon.linux.bindings:%eps-version-string))

(defun abi-version ()
  "Return the loaded library's ABI version as two values: major and minor."
  (let ((v (epsilon.linux.bindings:%eps-abi-version)))
    (values (ash v -16) (logand v #xffff))))

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
