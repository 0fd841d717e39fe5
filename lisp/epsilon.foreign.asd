;;;; epsilon.foreign.asd - the FFI layer the generated bindings are written for.

(defsystem "epsilon.foreign"
  :description "The FFI layer of epsilon: libraries, DEFSHARED, SHARED-CALL,
callbacks and foreign memory, plus the bindings generated from the
libepsilon-linux headers."
  :license "MIT"
  :version "0.1.0"
  :depends-on ()
  :serial t
  :components ((:module "foreign"
                :serial t
                :components ((:file "package")
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
               ;; These call the generated %eps-ffi- functions.
               (:module "foreign-runtime"
                :pathname "foreign/"
                :serial t
                :components ((:file "shared-call")
                             (:file "callbacks")))))
