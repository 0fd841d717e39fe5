;;;; SPDX-License-Identifier: MIT
;;;; epsilon.foreign.asd - the FFI layer the generated bindings are written for.

(defsystem "epsilon.foreign"
  :description "The FFI layer of epsilon: libraries, DEFSHARED, SHARED-CALL,
callbacks and foreign memory, plus the bindings generated from the
libepsilon-linux headers."
  :license "MIT"
  :version "0.1.0"
  :depends-on ()
  :serial t
  ;; Bottom up: each module uses only the ones above it in this list.
  :components (;; The FFI itself; it knows no particular library.
               (:module "foreign"
                :serial t
                :components ((:file "package")
                             (:file "image")
                             (:file "library")
                             (:file "defshared")
                             (:file "memory")))
               ;; One file per public header, written by bindings-gen.
               ;; A new header adds one line here.
               (:module "generated"
                :serial t
                :components ((:file "package")
                             (:file "errors")
                             (:file "fd")
                             (:file "handles")
                             (:file "version")
                             (:file "ffi")
                             (:file "epoll")
                             (:file "net")
                             (:file "tls")
                             (:file "digest")))
               ;; What runs on libepsilon-linux: its loader (which takes the
               ;; ABI number from the generated version.lisp), and run-time
               ;; calls and callbacks through its libffi wrapper.
               (:module "ffi"
                :serial t
                :components ((:file "library")
                             (:file "shared-call")
                             (:file "callbacks"))))
  :in-order-to ((test-op (load-op "epsilon.linux/tests")))
  :perform (test-op (o c) (uiop:symbol-call :epsilon.linux.tests :run-package-suites
                                            :foreign)))
