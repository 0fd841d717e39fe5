;;;; SPDX-License-Identifier: MIT
;;;; main.lisp - the main job of `make run`: the epoll HTTP/HTTPS server of
;;;; examples/server/ (system epsilon.examples).  See the head of
;;;; examples/server/main.lisp for the environment and the options.

(require :asdf)
(let ((root (merge-pathnames "../" (make-pathname :name nil :type nil
                                                  :defaults *load-truename*))))
  (asdf:initialize-source-registry
   `(:source-registry (:tree ,(merge-pathnames "lisp/" root))
                      (:tree ,(merge-pathnames "examples/" root))
                      :inherit-configuration))
  ;; Compiling (the first run) says nothing on stdout, which carries the
  ;; PORT lines for the benchmark harness and the tests.
  (let ((*standard-output* (make-broadcast-stream)))
    (handler-bind ((warning #'muffle-warning))
      (asdf:load-system "epsilon.examples")))
  (sb-ext:exit :code (uiop:symbol-call :epsilon.examples.server :main
                                       :root (truename root))
               :abort nil))
