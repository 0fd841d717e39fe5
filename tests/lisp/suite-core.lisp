;;;; suite-core.lisp - the library loads and answers for its version and codes.

(in-package #:epsilon.linux.tests)

(def-suite core :in epsilon-linux :description "Library loading, version, error codes.")
(in-suite core)

(test library-version-is-a-dotted-triple
  (let ((v (epsilon.linux:library-version)))
    (is (stringp v))
    (is (= 2 (count #\. v)))
    (is (every (lambda (c) (or (digit-char-p c) (char= c #\.))) v))))

(test abi-major-matches-bindings
  (is (= epsilon.foreign:+abi-major+ (nth-value 0 (epsilon.linux:abi-version)))))

(test error-names-and-messages
  (is (eq :econnrefused (epsilon.linux:error-name 111)))
  (is (eq :econnrefused (epsilon.linux:error-name -111)))
  (is (string= "connection refused" (epsilon.linux:error-message -111)))
  (is (eq :ebadhandle (epsilon.linux:error-name 4097)))
  (is (eq :eunknown (epsilon.linux:error-name 99999)))
  (is (string= "unknown error" (epsilon.linux:error-message 99999))))

(test error-code-type-checked
  (signals type-error (epsilon.linux:error-name (expt 2 40)))
  (signals type-error (epsilon.linux:error-name "111")))

(test missing-library-is-one-clear-error
  ;; A child SBCL pointed at a library that does not exist must fail the
  ;; load with one error that names the place it tried.
  (let* ((asd (namestring (asdf:system-source-file "epsilon.foreign")))
         (out (with-output-to-string (s)
                (sb-ext:run-program
                 "/usr/bin/env"
                 (list "EPSILON_LINUX_LIBRARY=/nonexistent/libepsilon-linux.so.1"
                       "sbcl" "--noinform" "--non-interactive" "--no-userinit"
                       "--eval" "(require :asdf)"
                       "--eval" (format nil "(asdf:load-asd ~S)" asd)
                       "--eval" "(handler-case (asdf:load-system \"epsilon.foreign\")
                                   (error (e) (format t \"CAUGHT ~S: ~A\" (type-of e) e)))")
                 :output s :error s))))
    (is (search "CAUGHT EPSILON.FOREIGN:LIBRARY-NOT-FOUND" out))
    (is (search "/nonexistent/libepsilon-linux.so.1" out))))
