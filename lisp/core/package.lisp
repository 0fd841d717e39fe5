;;;; package.lisp - the epsilon.linux package: library-wide information.

(defpackage #:epsilon.linux
  (:use #:cl)
  (:documentation
   "Library-wide information about libepsilon-linux: its version and the
names and messages of its error codes.")
  ;; Version
  (:export #:library-version
           #:abi-version)
  ;; Error codes
  (:export #:error-name
           #:error-message))
