;;;; epsilon.foreign.asd - the FFI layer the generated bindings are written for.

(defsystem "epsilon.foreign"
  :description "The FFI layer of epsilon: finds libepsilon-linux and calls into it."
  :license "MIT"
  :version "0.1.0"
  :depends-on ()
  :pathname "foreign/"
  :serial t
  :components ((:file "package")
               (:file "library")))
