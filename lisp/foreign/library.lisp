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

;;; Other libraries: lib-open, lib-close, lib-function.

(defstruct (foreign-library (:constructor %make-foreign-library (name path handle))
                            (:copier nil) (:predicate nil))
  "A shared library opened by LIB-OPEN."
  (name "" :type string :read-only t)
  (path nil :read-only t)
  ;; The dlopen handle as a SAP; NIL for the process itself (\"libc\") and
  ;; once closed.
  (handle nil))

(setf (documentation 'foreign-library-name 'function)
      "The designator the library was opened with, such as \"libssl\"."
      (documentation 'foreign-library-path 'function)
      "The file name the library was loaded from (NIL for the process itself).")

(defvar *libraries* (make-hash-table :test 'equal :synchronized t)
  "Open libraries by the designator they were opened with.")

(defvar *function-cache* (make-hash-table :test 'equal :synchronized t)
  "Function addresses found by FIND-FUNCTION: (name . library name) -> SAP.")

;; A counter in a cons (for ATOMIC-INCF) that LIB-CLOSE increments, so
;; cached function addresses are looked up again.  Global: read on every
;; SHARED-CALL.
(sb-ext:defglobal *library-generation* (list 0))
(declaim (type (cons sb-ext:word t) *library-generation*))

(defvar *library-lock* (sb-thread:make-mutex :name "epsilon.foreign libraries"))

(define-condition foreign-symbol-not-found (error)
  ((name :initarg :name :reader foreign-symbol-not-found-name)
   (library :initarg :library :reader foreign-symbol-not-found-library))
  (:report (lambda (c s)
             (format s "The foreign symbol ~S is not defined in ~A."
                     (foreign-symbol-not-found-name c)
                     (let ((l (foreign-symbol-not-found-library c)))
                       (if l (foreign-library-name l) "any loaded library")))))
  (:documentation "Signalled by SHARED-CALL for a function name no loaded
library defines."))

(defparameter *library-sonames*
  '(("libc" . nil) ("c" . nil)
    ("libm" . "libm.so.6") ("libdl" . "libdl.so.2") ("libpthread" . "libpthread.so.0")
    ("libssl" . "libssl.so.3") ("libcrypto" . "libcrypto.so.3") ("libffi" . "libffi.so.8"))
  "Designators with a known soname.  NIL means the process itself: the C
library is always loaded, and its symbols are found without opening it.")

(defun library-candidates (name)
  (let ((known (assoc name *library-sonames* :test #'string=)))
    (cond (known (list (cdr known)))
          ((or (find #\/ name) (search ".so" name)) (list name))
          (t (list (concatenate 'string name ".so") name)))))

(defun lib-open (name)
  "Open the shared library designated by NAME and return a FOREIGN-LIBRARY.
NAME is \"libepsilon-linux\" (found as ENSURE-LIBRARY-LOADED does), a short
name such as \"libc\", \"libm\" or \"libssl\" (mapped to the installed
soname), a soname (\"libz.so.1\") or a path.  Opening the same NAME again
returns the same object.  Signals an error naming every file tried when the
library cannot be loaded."
  (check-type name string)
  (sb-thread:with-recursive-lock (*library-lock*)
    (let ((open (gethash name *libraries*)))
      (when (and open (or (foreign-library-handle open)
                          (null (foreign-library-path open))))
        (return-from lib-open open)))
    (when (string= name "libepsilon-linux")
      (let ((path (ensure-library-loaded)))
        (return-from lib-open
          (setf (gethash name *libraries*)
                (%make-foreign-library name path (shared-object-handle path))))))
    (let ((candidates (library-candidates name))
          (reasons '()))
      (when (equal candidates '(nil))
        (return-from lib-open
          (setf (gethash name *libraries*) (%make-foreign-library name nil nil))))
      (dolist (file candidates)
        (let ((reason (try-load file)))
          (if (null reason)
              (return-from lib-open
                (setf (gethash name *libraries*)
                      (%make-foreign-library name file (shared-object-handle file))))
              (push (format nil "~A: ~A" file reason) reasons))))
      (error "Cannot open the library ~S. Tried:~{~%  ~A~}" name (reverse reasons)))))

(defun shared-object-handle (path)
  (let ((object (find path sb-alien::*shared-objects*
                      :key #'sb-alien::shared-object-namestring :test #'equal)))
    (and object (sb-alien::shared-object-handle object))))

(defun lib-close (library)
  "Close LIBRARY (a FOREIGN-LIBRARY or the name it was opened with): SBCL
unloads it and its symbols become undefined.  Returns T when a library was
closed, NIL when there was nothing to close.  libepsilon-linux and the
process itself (\"libc\") are never closed: the bindings need them."
  (sb-thread:with-recursive-lock (*library-lock*)
    (let ((lib (if (stringp library) (gethash library *libraries*) library)))
      (check-type lib (or null foreign-library))
      (when (and lib (foreign-library-handle lib)
                 (foreign-library-path lib)
                 (not (equal (foreign-library-name lib) "libepsilon-linux")))
        (sb-alien:unload-shared-object (foreign-library-path lib))
        (clrhash *function-cache*)
        (sb-ext:atomic-incf (car *library-generation*))
        (setf (foreign-library-handle lib) nil)
        (remhash (foreign-library-name lib) *libraries*)
        t))))

(defun lib-function (library name)
  "Return the address of the function (or variable) NAME in LIBRARY as a
SAP (SB-SYS:SYSTEM-AREA-POINTER), or NIL when LIBRARY does not define it.
LIBRARY is a FOREIGN-LIBRARY, a designator string (opened with LIB-OPEN
if needed), or NIL for every library loaded into the process."
  (check-type name string)
  (let ((lib (if (stringp library) (lib-open library) library)))
    (check-type lib (or null foreign-library))
    (let ((handle (and lib (foreign-library-handle lib))))
      (if handle
          (let ((sap (sb-alien:alien-funcall
                      (sb-alien:extern-alien "dlsym" (function sb-sys:system-area-pointer
                                                               sb-sys:system-area-pointer
                                                               sb-alien:c-string))
                      handle name)))
            (if (zerop (sb-sys:sap-int sap)) nil sap))
          (let ((address (sb-sys:find-dynamic-foreign-symbol-address name)))
            (and address (sb-sys:int-sap address)))))))

(defun find-function (designator)
  "Return the address (a SAP) of the function DESIGNATOR names: a string
searched in every loaded library, a list (name library) where LIBRARY is a
FOREIGN-LIBRARY or a designator for LIB-OPEN, or a SAP (returned as is).
Signals FOREIGN-SYMBOL-NOT-FOUND when there is no such function."
  (etypecase designator
    (sb-sys:system-area-pointer designator)
    (string
     (or (gethash (cons designator nil) *function-cache*)
         (let ((sap (lib-function nil designator)))
           (unless sap
             (error 'foreign-symbol-not-found :name designator :library nil))
           (setf (gethash (cons designator nil) *function-cache*) sap))))
    (cons
     (destructuring-bind (name library) designator
       (check-type name string)
       (let ((key (cons name (if (stringp library) library (foreign-library-name library)))))
         (or (gethash key *function-cache*)
             (let* ((lib (if (stringp library) (lib-open library) library))
                    (sap (lib-function lib name)))
               (unless sap
                 (error 'foreign-symbol-not-found :name name :library lib))
               (setf (gethash key *function-cache*) sap))))))))
