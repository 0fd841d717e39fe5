;;;; epsilon.examples.asd - the examples of epsilon-linux, as a library the
;;;; example programs (examples/*.lisp) load and reuse.

(defsystem "epsilon.examples"
  :description "Example programs over epsilon.linux: the epoll HTTP/HTTPS server of `make run`."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.linux")
  :serial t
  :components ((:module "server"
                :serial t
                :components ((:file "package")
                             (:file "http")
                             (:file "loop")
                             (:file "main")))))
