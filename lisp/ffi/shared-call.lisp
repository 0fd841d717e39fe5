;;;; SPDX-License-Identifier: MIT
;;;; shared-call.lisp - calling any C function with a signature known only
;;;; at run time, through libffi (csrc/ffi.c).

(in-package #:epsilon.foreign)

(define-condition foreign-call-error (error)
  ((code :initarg :code :reader foreign-call-error-code)
   (operation :initarg :operation :reader foreign-call-error-operation))
  (:report (lambda (c s)
             (format s "~A failed: ~A (~A)"
                     (foreign-call-error-operation c)
                     (epsilon.linux.bindings:%eps-strerror (foreign-call-error-code c))
                     (epsilon.linux.bindings:%eps-errname (foreign-call-error-code c)))))
  (:documentation "Signalled when libffi cannot prepare or make a call."))

(defstruct (cif (:constructor make-cif
                    (handle return-type arg-types
                     &aux (strings-p (find :string arg-types))
                          (pointers-p (find :pointer arg-types))))
                (:copier nil) (:predicate nil))
  (handle 0 :type (unsigned-byte 62) :read-only t)
  (return-type :void :type keyword :read-only t)
  (arg-types #() :type simple-vector :read-only t)
  ;; Whether some argument is a :STRING (copied to foreign memory) or a
  ;; :POINTER (a vector to pin): the other calls skip that work.
  (strings-p nil :read-only t)
  (pointers-p nil :read-only t))

;;; Caches.  Each is an EQUAL hash table that is never modified once
;;; published: readers use it without a lock (the keys hash by content, so
;;; a read never rehashes), a writer copies it under *CACHE-LOCK*, adds
;;; and publishes the copy.  Entries are added once per signature or name,
;;; so the copying is rare.

(defvar *cache-lock* (sb-thread:make-mutex :name "epsilon.foreign call caches"))

(defvar *cifs* (make-hash-table :test 'equal)
  "Prepared call interfaces: (return-type . arg-types) as given -> CIF.
They are never freed: there is one per distinct signature.")

(defvar *call-targets* (make-hash-table :test 'equal)
  "(function return-type . arg-types) as given -> TARGET, for SHARED-CALL.")

(defmacro cache-add (place key value)
  "Publish a copy of the table in PLACE with KEY -> VALUE; return VALUE.
Call with *CACHE-LOCK* held."
  (let ((table (gensym "TABLE")) (v (gensym "VALUE")))
    `(let ((,table (make-hash-table :test 'equal :size (1+ (hash-table-count ,place))))
           (,v ,value))
       (maphash (lambda (k v) (setf (gethash k ,table) v)) ,place)
       (setf (gethash ,key ,table) ,v)
       (setf ,place ,table)
       ,v)))

(defun type-codes (types)
  (let ((codes (make-array (length types) :element-type '(unsigned-byte 8))))
    (loop for ty in types for i from 0
          do (setf (aref codes i) (type-ffi-code ty)))
    codes))

(defun check-signature (return-type arg-types)
  (unless (and (listp arg-types) (null (cdr (last arg-types))))
    (error 'type-error :datum arg-types :expected-type 'list))
  (let ((n (length arg-types)))
    (when (> n epsilon.linux.bindings:+ffi-max-args+)
      (error "A foreign call takes at most ~D arguments, not ~D."
             epsilon.linux.bindings:+ffi-max-args+ n)))
  (dolist (ty arg-types)
    (when (eq (canonical-type ty) :void)
      (error ":VOID is not an argument type.")))
  (canonical-type return-type))

(defun find-cif (return-type arg-types)
  "Return the CIF for the signature, preparing and caching it on first use.
Thread-safe: one CIF per signature."
  (let ((key (cons return-type arg-types)))
    (declare (dynamic-extent key))
    (or (gethash key *cifs*)
        (let ((ret (check-signature return-type arg-types)))
          (sb-thread:with-mutex (*cache-lock*)
            (or (gethash key *cifs*)
                (let ((h (epsilon.linux.bindings:%eps-ffi-cif-new
                          (type-ffi-code ret) (type-codes arg-types) (length arg-types))))
                  (when (minusp h)
                    (error 'foreign-call-error :code h :operation "eps_ffi_cif_new"))
                  (cache-add *cifs* (cons return-type (copy-list arg-types))
                             (make-cif h ret (map 'simple-vector #'canonical-type
                                                  arg-types))))))))))

(defstruct (target (:constructor make-target (generation address cif))
                   (:copier nil) (:predicate nil))
  "A resolved call: the function's address and call interface, valid while
no library has been closed since GENERATION."
  (generation 0 :type sb-ext:word :read-only t)
  (address (sb-sys:int-sap 0) :type sb-sys:system-area-pointer :read-only t)
  (cif nil :type cif :read-only t))

(defun resolve-target (function return-type arg-types)
  (make-target (car *library-generation*)
               (find-function function)
               (find-cif return-type arg-types)))

(defun find-target-slow (function return-type arg-types)
  (let* ((key (list* function return-type arg-types))
         (target (gethash key *call-targets*)))
    (declare (dynamic-extent key))
    (if (and target (= (target-generation target) (car *library-generation*)))
        target
        (let ((new (resolve-target function return-type arg-types)))
          (sb-thread:with-mutex (*cache-lock*)
            (cache-add *call-targets* (copy-tree key) new))))))

;;; In front of *CALL-TARGETS*, a small direct-mapped cache indexed by a
;;; cheap hash of the signature (symbol hashes and lengths), so that the
;;; usual call -- the same signature again -- costs a few comparisons
;;; instead of hashing the name.  Each entry is an immutable list
;;; (function return-type arg-types . target) replaced as a whole.

(defconstant +recent-size+ 64)
(declaim (type simple-vector *recent-targets*))
(sb-ext:defglobal *recent-targets* (make-array +recent-size+ :initial-element nil))

(declaim (inline recent-index))
(defun recent-index (function return-type arg-types)
  (logand (+ (sxhash return-type)
             (if (consp arg-types) (+ (sxhash (car arg-types)) (length arg-types)) 0)
             (if (stringp function) (length function) 7))
          (1- +recent-size+)))

(declaim (inline same-name-p))
(defun same-name-p (a b)
  (declare (simple-string a b))
  (and (= (length a) (length b))
       (dotimes (i (length a) t)
         (unless (char= (schar a i) (schar b i)) (return nil)))))

(declaim (inline find-target))
(defun find-target (function return-type arg-types)
  "The TARGET of a call: from the caches, or resolved and cached."
  (declare (optimize speed (sb-ext:inhibit-warnings 3)))
  (let* ((i (recent-index function return-type arg-types))
         (entry (svref *recent-targets* i)))
    (if (and entry
             (eq return-type (second entry))
             (let ((f (first entry)))
               (if (and (simple-string-p function) (simple-string-p f))
                   (same-name-p f function)
                   (equal f function)))
             (let ((types (third entry)))
               (or (eq types arg-types) (equal types arg-types)))
             (= (target-generation (cdddr entry)) (car *library-generation*)))
        (cdddr entry)
        (let ((target (find-target-slow function return-type arg-types)))
          (setf (svref *recent-targets* i)
                (list* (if (stringp function) (copy-seq function) (copy-tree function))
                       return-type (copy-list arg-types) target))
          target))))

;;; Marshalling: each argument goes into an 8-byte slot.

(declaim (inline store-arg))
(defun store-arg (slots i type value function)
  "Check VALUE against TYPE and store it in slot I of SLOTS (a SAP).  A
:STRING is not handled here."
  (declare (type sb-sys:system-area-pointer slots) (type (integer 0 32) i))
  (let ((offset (* 8 i)))
    (macrolet ((int (lisp-type setter)
                 `(if (typep value ',lisp-type)
                      (setf (,setter slots offset) value)
                      (arg-type-error value ',lisp-type function i))))
      (ecase type
        (:int8 (int (signed-byte 8) sb-sys:signed-sap-ref-64))
        (:uint8 (int (unsigned-byte 8) sb-sys:sap-ref-64))
        (:int16 (int (signed-byte 16) sb-sys:signed-sap-ref-64))
        (:uint16 (int (unsigned-byte 16) sb-sys:sap-ref-64))
        (:int32 (int (signed-byte 32) sb-sys:signed-sap-ref-64))
        (:uint32 (int (unsigned-byte 32) sb-sys:sap-ref-64))
        (:int64 (int (signed-byte 64) sb-sys:signed-sap-ref-64))
        (:uint64 (int (unsigned-byte 64) sb-sys:sap-ref-64))
        (:float (if (realp value)
                    (progn (setf (sb-sys:sap-ref-64 slots offset) 0)
                           (setf (sb-sys:sap-ref-single slots offset) (coerce value 'single-float)))
                    (arg-type-error value 'real function i)))
        (:double (if (realp value)
                     (setf (sb-sys:sap-ref-double slots offset) (coerce value 'double-float))
                     (arg-type-error value 'real function i)))
        (:pointer (if (typep value 'pointer-designator)
                      (setf (sb-sys:sap-ref-sap slots offset) (pointer-sap value))
                      (arg-type-error value 'pointer-designator function i)))))))

(declaim (inline load-result))
(defun load-result (slot type)
  (declare (type sb-sys:system-area-pointer slot))
  (ecase type
    (:int8 (sb-sys:signed-sap-ref-8 slot 0))
    (:uint8 (sb-sys:sap-ref-8 slot 0))
    (:int16 (sb-sys:signed-sap-ref-16 slot 0))
    (:uint16 (sb-sys:sap-ref-16 slot 0))
    (:int32 (sb-sys:signed-sap-ref-32 slot 0))
    (:uint32 (sb-sys:sap-ref-32 slot 0))
    (:int64 (sb-sys:signed-sap-ref-64 slot 0))
    (:uint64 (sb-sys:sap-ref-64 slot 0))
    (:float (sb-sys:sap-ref-single slot 0))
    (:double (sb-sys:sap-ref-double slot 0))
    (:pointer (sb-sys:sap-ref-sap slot 0))
    (:string (foreign-string-to-lisp (sb-sys:sap-ref-sap slot 0)))
    (:void (values))))

;;; The general path

(declaim (inline ffi-call))
(defun ffi-call (cif address slots result)
  "Call through libffi: the hot path, so eps_ffi_call is called directly
with SAPs rather than through %EPS-FFI-CALL, whose :POINTER arguments
would each be dispatched on Lisp type."
  (declare (type sb-sys:system-area-pointer address slots result)
           (type (unsigned-byte 62) cif))
  (let ((r (sb-alien:alien-funcall
            (sb-alien:extern-alien "eps_ffi_call"
                                   (function (sb-alien:signed 32) (sb-alien:signed 64)
                                             sb-sys:system-area-pointer
                                             sb-sys:system-area-pointer
                                             sb-sys:system-area-pointer))
            cif address slots result)))
    (unless (zerop r)
      (error 'foreign-call-error :code r :operation "eps_ffi_call"))))

(declaim (inline call-marshalled))
(defun call-marshalled (cif address args)
  (let* ((types (cif-arg-types cif))
         ;; Argument slots 0-31 and the result slot 32, on the stack.
         (slots (make-array 33 :element-type '(unsigned-byte 64))))
    (declare (dynamic-extent slots))
    (sb-sys:with-pinned-objects (slots)
      (let* ((slots-sap (sb-sys:vector-sap slots))
             (result-sap (sb-sys:sap+ slots-sap (* 8 32))))
        (flet ((call ()
                 (ffi-call (cif-handle cif) address slots-sap result-sap)
                 (load-result result-sap (cif-return-type cif))))
          (declare (inline call))
          (if (not (cif-strings-p cif))
              (progn
                (loop for value in args for i of-type (integer 0 32) from 0
                      do (store-arg slots-sap i (svref types i) value 'shared-call))
                (call))
              (let ((strings '()))
                (unwind-protect
                     (progn
                       (loop for value in args for i of-type (integer 0 32) from 0
                             for type = (svref types i)
                             do (if (eq type :string)
                                    (if (typep value '(or string-without-nul null))
                                        (let ((copy (and value (lisp-string-to-foreign value))))
                                          (when copy (push copy strings))
                                          (setf (sb-sys:sap-ref-sap slots-sap (* 8 i))
                                                (or copy (null-pointer))))
                                        (arg-type-error value '(or string-without-nul null) 'shared-call i))
                                    (store-arg slots-sap i type value 'shared-call)))
                       (call))
                  (dolist (s strings) (foreign-free s))))))))))

(defun call-pinned (cif address args pinned)
  "Pin the vectors among ARGS one by one (their number is known only now),
then marshal and call."
  (if pinned
      (let ((v (car pinned)))
        (sb-sys:with-pinned-objects (v)
          (call-pinned cif address args (cdr pinned))))
      (call-marshalled cif address args)))

(defun shared-call (function return-type arg-types &rest args)
  "Call the C function FUNCTION with ARGS and return its result.

  (shared-call \"strlen\" :unsigned-long '(:string) \"hello\")  => 5
  (shared-call '(\"cos\" \"libm\") :double '(:double) 0d0)     => 1.0d0

FUNCTION is a name searched in every loaded library, a list (name
library) where LIBRARY is a LIB-OPEN designator (\"libc\", \"libm\",
\"libssl\", a path), or a SAP holding a function's address (LIB-FUNCTION,
CALLBACK-POINTER).  RETURN-TYPE and ARG-TYPES are type keywords (see the
package documentation), known only at run time: the call goes through
libffi, with one prepared call interface per signature cached for the life
of the image.  Every argument is checked against its type before anything
reaches C (TYPE-ERROR); a wrong argument count is an ERROR; an unknown
function signals FOREIGN-SYMBOL-NOT-FOUND.  Addresses are cached by name
and looked up again after a LIB-CLOSE.  When FUNCTION, RETURN-TYPE and
ARG-TYPES are constant at a call site, the compiler caches the address and
call interface at that site and marshals the arguments inline."
  (declare (dynamic-extent args)
           (optimize speed (sb-ext:inhibit-warnings 3)))
  (multiple-value-bind (address cif)
      (if (typep function 'sb-sys:system-area-pointer)
          (values function (find-cif return-type arg-types))
          (let ((target (find-target function return-type arg-types)))
            (values (target-address target) (target-cif target))))
    (let ((n (length (cif-arg-types cif))))
      (unless (and (= (length args) n))
        (error "~S takes ~D argument~:P, not ~D." function n (length args))))
    (if (and (cif-pointers-p cif) (some (lambda (a) (typep a 'pointer-vector)) args))
        (call-pinned cif address args
                     (loop for a in args when (typep a 'pointer-vector) collect a))
        (call-marshalled cif address args))))

;;; Constant call sites

(defstruct (call-site (:constructor make-call-site ()) (:copier nil) (:predicate nil))
  ;; The site's TARGET, replaced as a whole.
  (target nil))

(defun resolve-call-site (site function return-type arg-types)
  (setf (call-site-target site) (resolve-target function return-type arg-types)))

(declaim (inline call-site-target-for))
(defun call-site-target-for (site function return-type arg-types)
  (let ((target (call-site-target site)))
    (if (and target (= (target-generation target) (car *library-generation*)))
        target
        (resolve-call-site site function return-type arg-types))))

(defun constant-form-value (form)
  (cond ((and (consp form) (eq (first form) 'quote)) (values (second form) t))
        ((or (stringp form) (keywordp form) (null form)) (values form t))
        (t (values nil nil))))

(define-compiler-macro shared-call (&whole whole function return-type arg-types &rest args)
  (multiple-value-bind (fn fn-constant) (constant-form-value function)
    (multiple-value-bind (ret ret-constant) (constant-form-value return-type)
      (multiple-value-bind (types types-constant) (constant-form-value arg-types)
        (if (not (and fn-constant ret-constant types-constant
                      (or (stringp fn) (and (consp fn) (stringp (first fn))
                                            (stringp (second fn))
                                            (null (cddr fn))))
                      (ignore-errors (check-signature ret types) t)
                      (= (length types) (length args))))
            whole
            (let* ((vars (loop for nil in args collect (gensym "ARG")))
                   (ctypes (mapcar #'canonical-type types))
                   (pinned (loop for v in vars for ty in ctypes
                                 when (member ty '(:pointer :string)) collect v))
                   (state (gensym "STATE")) (slots (gensym "SLOTS"))
                   (result (gensym "RESULT")) (slots-sap (gensym)) (result-sap (gensym))
                   (stores
                     (loop for v in vars for ty in ctypes for i from 0
                           collect (if (eq ty :string)
                                       `(setf (sb-sys:sap-ref-sap ,slots-sap ,(* 8 i))
                                              (octets-sap ,v))
                                       `(store-arg ,slots-sap ,i ,ty ,v 'shared-call)))))
              `(let* (,@(loop for v in vars for a in args for ty in ctypes
                              collect `(,v ,(if (eq ty :string)
                                                `(let ((s ,a))
                                                   (if (typep s '(or string-without-nul null))
                                                       (string-octets s)
                                                       (arg-type-error s '(or string-without-nul null)
                                                                       'shared-call ',v)))
                                                a)))
                      (,state (call-site-target-for (load-time-value (make-call-site))
                                                    ',fn ',ret ',types))
                      (,slots (make-array ,(max 1 (length vars))
                                          :element-type '(unsigned-byte 64)))
                      (,result (make-array 1 :element-type '(unsigned-byte 64))))
                 (declare (dynamic-extent ,slots ,result))
                 (sb-sys:with-pinned-objects (,slots ,result ,@pinned)
                   (let ((,slots-sap (sb-sys:vector-sap ,slots))
                         (,result-sap (sb-sys:vector-sap ,result)))
                     ,@stores
                     (ffi-call (cif-handle (target-cif ,state)) (target-address ,state)
                               ,slots-sap ,result-sap)
                     (load-result ,result-sap ,(canonical-type ret)))))))))))

;; The call interfaces were handles of the process that saved the image:
;; prepare them again.  Cached addresses are looked up again (REOPEN-LIBRARIES
;; moved the library generation on).
(on-image-start 'call-caches
                (lambda ()
                  (setf *cifs* (make-hash-table :test 'equal)
                        *call-targets* (make-hash-table :test 'equal))
                  (fill *recent-targets* nil)))
