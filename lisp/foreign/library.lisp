;;;; library.lisp - find and load libepsilon-linux once, checking its ABI.

(in-package #:epsilon.foreign)

(defconstant +abi-major+ 1
  "The ABI major version these bindings were generated for.  A library with
another major version is refused at load time.")

(defvar *library-path* nil
  "The path or soname libepsilon-linux was loaded from, once loaded.")

(defun library-path ()
  "Return the path (or soname) libepsilon-linux was loaded from, loading it
first if needed."
  (ensure-library-loaded)
  *library-path*)

(define-condition library-not-found (error)
  ((attempts :initarg :attempts :reader library-not-found-attempts
             :documentation "A list of (place . reason) for every place tried."))
  (:report (lambda (c s)
             (format s "libepsilon-linux could not be loaded. Places tried:~
                        ~{~%  ~A: ~A~}~%Build it with `make`, or set ~
                        EPSILON_LINUX_LIBRARY to the library's path."
                     (loop for (place . reason) in (library-not-found-attempts c)
                           collect place collect reason))))
  (:documentation "Signalled when libepsilon-linux is in none of the places
searched: $EPSILON_LINUX_LIBRARY, the build tree, the system loader path."))

(define-condition abi-mismatch (error)
  ((path :initarg :path :reader abi-mismatch-path)
   (found :initarg :found :reader abi-mismatch-found))
  (:report (lambda (c s)
             (format s "~A has ABI major version ~D; these bindings need ~D. ~
                        Rebuild the library and the bindings together."
                     (abi-mismatch-path c) (abi-mismatch-found c) +abi-major+)))
  (:documentation "Signalled when the loaded library's ABI major version
differs from the one the bindings were generated for."))

(defparameter *soname* (format nil "libepsilon-linux.so.~D" +abi-major+))

(defun build-tree-candidates ()
  "Library paths in the build tree beside the source tree ASDF loaded us from."
  (let ((dir (ignore-errors (asdf:system-source-directory "epsilon.foreign"))))
    (when dir
      ;; The system lives in <root>/lisp/; meson builds into <root>/build/.
      (list (namestring (merge-pathnames
                         (concatenate 'string "../build/csrc/" *soname*)
                         dir))))))

(defun try-load (place)
  "Load PLACE as a shared object; return NIL on success or a reason string."
  (handler-case (progn (sb-alien:load-shared-object place :dont-save t) nil)
    (error (e) (remove #\Newline (princ-to-string e)))))

(defun check-abi (place)
  (let ((found (ash (sb-alien:alien-funcall
                     (sb-alien:extern-alien "eps_abi_version"
                                            (function sb-alien:int)))
                    -16)))
    (unless (= found +abi-major+)
      (error 'abi-mismatch :path place :found found))))

(defun ensure-library-loaded ()
  "Load libepsilon-linux if it is not loaded yet, trying in order
$EPSILON_LINUX_LIBRARY, the build tree, and the system loader path.  Signals
LIBRARY-NOT-FOUND naming every place tried, or ABI-MISMATCH."
  (or *library-path*
      (let ((attempts '())
            (env (sb-ext:posix-getenv "EPSILON_LINUX_LIBRARY")))
        (flet ((attempt (place label)
                 (let ((reason (cond ((and (find #\/ place) (not (probe-file place)))
                                      "no such file")
                                     (t (try-load place)))))
                   (cond ((null reason) (check-abi place)
                                        (setf *library-path* place)
                                        t)
                         (t (push (cons (format nil "~A ~A" label place) reason)
                                  attempts)
                            nil)))))
          (cond ((and env (plusp (length env)))
                 ;; An explicit choice is never silently replaced by another.
                 (attempt env "EPSILON_LINUX_LIBRARY="))
                (t
                 (push (cons "EPSILON_LINUX_LIBRARY" "not set") attempts)
                 (or (some (lambda (p) (attempt p "build tree")) (build-tree-candidates))
                     (attempt *soname* "system loader path"))))
          (or *library-path*
              (error 'library-not-found :attempts (reverse attempts)))))))

;; Load at system load time, so a missing library fails the load with one
;; clear error rather than a later undefined-alien warning.
(ensure-library-loaded)
