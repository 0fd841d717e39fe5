;;;; version.lisp - version and error-code text from the C library.

(in-package #:epsilon.linux)

(declaim (inline %version-string %abi-version %strerror %errname))
(sb-alien:define-alien-routine ("eps_version_string" %version-string) sb-alien:c-string)
(sb-alien:define-alien-routine ("eps_abi_version" %abi-version) sb-alien:int)
(sb-alien:define-alien-routine ("eps_strerror" %strerror) sb-alien:c-string
  (code sb-alien:int))
(sb-alien:define-alien-routine ("eps_errname" %errname) sb-alien:c-string
  (code sb-alien:int))

(defun library-version ()
  "Return the release version of the loaded libepsilon-linux, as a string."
  (%version-string))

(defun abi-version ()
  "Return the loaded library's ABI version as two values: major and minor."
  (let ((v (%abi-version)))
    (values (ash v -16) (logand v #xffff))))

(defun check-code (code)
  (check-type code (signed-byte 32))
  code)

(defun error-name (code)
  "Return the symbolic name of error CODE (either sign) as a keyword, such as
:ECONNREFUSED; :EUNKNOWN for a code the library does not define."
  (intern (%errname (check-code code)) :keyword))

(defun error-message (code)
  "Return the English message of error CODE (either sign), such as
\"connection refused\"."
  (%strerror (check-code code)))
