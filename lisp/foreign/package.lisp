;;;; package.lisp - the epsilon.foreign package.

(defpackage #:epsilon.foreign
  (:use #:cl)
  (:documentation
   "The FFI layer of epsilon: locating and opening libepsilon-linux, and the
forms the generated bindings are written in.")
  ;; Library discovery
  (:export #:*library-search-result*
           #:library-not-found
           #:library-not-found-attempts
           #:abi-mismatch
           #:ensure-library-loaded
           #:library-path
           #:+abi-major+))
