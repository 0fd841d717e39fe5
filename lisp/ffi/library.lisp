;;;; SPDX-License-Identifier: MIT
;;;; library.lisp - find and load libepsilon-linux, check that it is the
;;;; library and the ABI its bindings (lisp/generated/, loaded before this
;;;; file) were generated for, and load it again when a saved image starts.

(in-package #:epsilon.foreign)

(defconstant +abi-major+ epsilon.linux.bindings:+abi-major+
  "The ABI major version these bindings were generated for (from
EPS_ABI_MAJOR in csrc/include/epsilon/version.h).  A library with another
major version is refused at load time.")

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
searched: $EPSILON_LINUX_LIBRARY, the build tree, the system loader path;
or when the file found there is not libepsilon-linux."))

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

(defun find-build-tree-candidates ()
  (let ((dir (ignore-errors (asdf:system-source-directory "epsilon.foreign"))))
    (when dir
      ;; The system lives in <root>/lisp/; meson builds into <root>/build/.
      (list (namestring (merge-pathnames
                         (concatenate 'string "../build/csrc/" *soname*)
                         dir))))))

(defvar *build-tree-candidates* (find-build-tree-candidates)
  "Library paths in the build tree beside the source tree ASDF loaded us
from, found once at load time: a saved image tries them again without
asking ASDF, and uses them only if the file is still there.")

(defun library-symbol-address (place name)
  "The address of NAME in the shared object just loaded from PLACE (not in
any other loaded library), or NIL."
  (let ((handle (shared-object-handle place)))
    (if handle
        (let ((sap (sb-alien:alien-funcall
                    (sb-alien:extern-alien "dlsym" (function sb-sys:system-area-pointer
                                                             sb-sys:system-area-pointer
                                                             sb-alien:c-string))
                    handle name)))
          (and (/= 0 (sb-sys:sap-int sap)) sap))
        ;; SBCL keeps PLACE under another spelling: ask every library.
        (let ((address (sb-sys:find-dynamic-foreign-symbol-address name)))
          (and address (sb-sys:int-sap address))))))

(defun check-library (place)
  "NIL when the library loaded from PLACE is libepsilon-linux with the ABI
major of these bindings, a reason string when it is another library (it
is unloaded again); signals ABI-MISMATCH for another major version."
  (let ((abi (library-symbol-address place "eps_abi_version")))
    (if (null abi)
        (progn (sb-alien:unload-shared-object place)
               (format nil "~A is not libepsilon-linux: it has no eps_abi_version"
                       (file-namestring place)))
        (let ((found (ash (sb-alien:alien-funcall
                           (sb-alien:sap-alien abi (function sb-alien:int)))
                          -16)))
          (unless (= found +abi-major+)
            (error 'abi-mismatch :path place :found found))
          nil))))

(defun ensure-library-loaded ()
  "Load libepsilon-linux if it is not loaded yet, trying in order
$EPSILON_LINUX_LIBRARY, the build tree, and the system loader path.  Signals
LIBRARY-NOT-FOUND naming every place tried (and, for a file that is some
other library, what it lacks), or ABI-MISMATCH."
  (or *library-path*
      (let ((attempts '())
            (env (sb-ext:posix-getenv "EPSILON_LINUX_LIBRARY")))
        (flet ((attempt (place label)
                 (let ((reason (cond ((and (find #\/ place) (not (probe-file place)))
                                      "no such file")
                                     (t (or (try-load place) (check-library place))))))
                   (cond ((null reason) (setf *library-path* place)
                                        t)
                         (t (push (cons (format nil "~A ~A" label place) reason)
                                  attempts)
                            nil)))))
          (cond ((and env (plusp (length env)))
                 ;; An explicit choice is never silently replaced by another.
                 (attempt env "EPSILON_LINUX_LIBRARY="))
                (t
                 (push (cons "EPSILON_LINUX_LIBRARY" "not set") attempts)
                 (or (some (lambda (p) (attempt p "build tree")) *build-tree-candidates*)
                     (attempt *soname* "system loader path"))))
          (or *library-path*
              (error 'library-not-found :attempts (reverse attempts)))))))

(define-library-opener "libepsilon-linux" 'ensure-library-loaded)

;; Load now: the bindings loaded before this file link, and a missing
;; library fails the load with one clear error.
(ensure-library-loaded)

;; A saved image starts without it (it is loaded :DONT-SAVE, so nothing of
;; this machine's paths is needed where it is not): find it again by the
;; same rules, EPSILON_LINUX_LIBRARY first.
(on-image-start 'libepsilon-linux
                (lambda () (setf *library-path* nil) (ensure-library-loaded)))
