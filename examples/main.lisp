;;;; main.lisp - the main job of `make run`.
;;;; For now: load the library from SBCL and show that it answers.

(require :asdf)
(let ((root (merge-pathnames "../" (make-pathname :name nil :type nil
                                                  :defaults *load-truename*))))
  (asdf:initialize-source-registry
   `(:source-registry (:tree ,(merge-pathnames "lisp/" root)) :inherit-configuration)))
(asdf:load-system "epsilon.linux")

(format t "libepsilon-linux ~A (ABI ~{~D.~D~}) loaded from ~A~%"
        (epsilon.linux:library-version)
        (multiple-value-list (epsilon.linux:abi-version))
        (epsilon.foreign:library-path))
(format t "error ~D is ~A: ~A~%" 111
        (epsilon.linux:error-name 111) (epsilon.linux:error-message 111))
