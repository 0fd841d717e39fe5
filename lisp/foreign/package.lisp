;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - the epsilon.foreign package.

(defpackage #:epsilon.foreign
  (:use #:cl)
  (:documentation
   "The FFI layer of epsilon: locating and opening shared libraries, the
DEFSHARED form the generated bindings are written in, run-time calls
(SHARED-CALL) and callbacks through libffi, and foreign memory.

Type keywords, for DEFSHARED, SHARED-CALL and callbacks:
  :char :unsigned-char :short :unsigned-short :int :unsigned-int
  :long :unsigned-long :size (and the aliases :int8 :uint8 :int16 :uint16
  :int32 :uint32 :int64 :uint64 :long-long :unsigned-long-long :size-t)
  -- integers of that C width, range-checked (TYPE-ERROR) before the call;
  :float :double -- any REAL, converted;
  :pointer -- a SAP, NIL (NULL), or a specialized vector of unboxed
  elements (octets, (un)signed 8/16/32/64-bit integers, single or double
  floats), pinned for the call and passed by address; returned as a SAP;
  :string -- a Lisp string passed as UTF-8 with a terminating NUL, or NIL
  (NULL); returned as a fresh Lisp string decoded from UTF-8, NIL for NULL;
  :void -- return type only: the function returns no values.")
  ;; Library discovery
  (:export #:library-not-found
           #:library-not-found-attempts
           #:abi-mismatch
           #:ensure-library-loaded
           #:library-path
           #:+abi-major+)
  ;; Libraries and symbols
  (:export #:lib-open
           #:lib-close
           #:lib-function
           #:foreign-library
           #:foreign-library-name
           #:foreign-library-path
           #:foreign-symbol-not-found
           #:foreign-symbol-not-found-name
           #:foreign-symbol-not-found-library)
  ;; Declarations
  (:export #:defshared)
  ;; Run-time calls
  (:export #:shared-call
           #:foreign-call-error
           #:foreign-call-error-code
           #:foreign-call-error-operation)
  ;; Callbacks
  (:export #:callback
           #:make-callback
           #:free-callback
           #:callback-pointer
           #:callback-live-p
           #:with-callback)
  ;; Saved images
  (:export #:image-epoch
           #:current-epoch-p
           #:saved-object-error
           #:saved-object-error-object)
  ;; Memory
  (:export #:foreign-alloc
           #:foreign-free
           #:with-foreign-memory
           #:mem-ref
           #:foreign-type-size
           #:null-pointer
           #:null-pointer-p
           #:pointer-address
           #:make-pointer
           #:foreign-string-to-lisp
           #:lisp-string-to-foreign))
