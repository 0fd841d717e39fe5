;;;; SPDX-License-Identifier: MIT
;;;; library.lisp - shared libraries: opening them by designator, finding
;;;; their functions, closing them.  Knows no particular library: one whose
;;;; opening needs more than a file name (libepsilon-linux, with its search
;;;; order and ABI check) registers an opener.

(in-package #:epsilon.foreign)

(defun try-load (place)
  "Load PLACE as a shared object; return NIL on success or a reason string.
Not saved with the image: a saved image opens its libraries again when it
starts (ON-IMAGE-START below), from where they are then."
  (handler-case (progn (sb-alien:load-shared-object place :dont-save t) nil)
    (error (e) (remove #\Newline (princ-to-string e)))))

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
    ("libssl" . "libssl.so.3") ("libcrypto" . "libcrypto.so.3") ("libffi" . "libffi.so.8")
    ;; Found by the loader defined with its bindings (lisp/ffi/library.lisp),
    ;; which knows where to look and which ABI they need.
    ("libepsilon-linux" . :opener))
  "Designators with a known soname.  NIL means the process itself: the C
library is always loaded, and its symbols are found without opening it.
:OPENER means a function of its own opens it (DEFINE-LIBRARY-OPENER), once
the system that declares its functions has loaded.")

(defvar *openers* (make-hash-table :test 'equal :synchronized t)
  "Designator -> the function (no arguments) that loads that library and
returns the path it was loaded from, or signals why it cannot.")

(defun define-library-opener (name function)
  "Make FUNCTION open the library NAME (a designator marked :OPENER): LIB-OPEN
calls it instead of trying file names.  Such a library is never closed."
  (check-type name string)
  (setf (gethash name *openers*) function)
  name)

(defun opener-designator-p (name)
  (eq :opener (cdr (assoc name *library-sonames* :test #'string=))))

(defun open-library-for-declarations (name)
  "Open the library NAME when a DEFSHARED naming it loads, so its symbols
link at once -- unless it is opened by an opener not defined yet: the
functions declared before it link when it runs (SBCL links every symbol
left undefined when a shared object loads)."
  (unless (and (opener-designator-p name) (null (gethash name *openers*)))
    (lib-open name)))

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
    (when (opener-designator-p name)
      (let ((opener (or (gethash name *openers*)
                        (error "The library ~S is opened by the loader its bindings define, ~
                                which is not loaded yet." name))))
        (let ((path (funcall opener)))
          (return-from lib-open
            (setf (gethash name *libraries*)
                  (%make-foreign-library name path (shared-object-handle path)))))))
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
closed, NIL when there was nothing to close.  A library with an opener
(libepsilon-linux) and the process itself (\"libc\") are never closed: the
bindings need them."
  (sb-thread:with-recursive-lock (*library-lock*)
    (let ((lib (if (stringp library) (gethash library *libraries*) library)))
      (check-type lib (or null foreign-library))
      (when (and lib (foreign-library-handle lib)
                 (foreign-library-path lib)
                 (not (opener-designator-p (foreign-library-name lib))))
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

;;; A saved image starts without the libraries it had open: open again, from
;;; the same files, the ones LIB-OPEN opened by file name.  One that is gone
;;; is forgotten, so LIB-OPEN tries its name again and says what failed.  A
;;; library with an opener is opened again by its own start function.

(defun reopen-libraries ()
  (clrhash *function-cache*)
  (sb-ext:atomic-incf (car *library-generation*))
  (maphash (lambda (name lib)
             (setf (foreign-library-handle lib) nil)
             (let ((path (foreign-library-path lib)))
               (cond ((null path))
                     ((and (not (opener-designator-p name)) (null (try-load path)))
                      (setf (foreign-library-handle lib) (shared-object-handle path)))
                     (t (remhash name *libraries*)))))
           *libraries*))

(on-image-start 'libraries 'reopen-libraries)
