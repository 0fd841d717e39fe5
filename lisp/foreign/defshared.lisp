;;;; SPDX-License-Identifier: MIT
;;;; defshared.lisp - the type keywords and DEFSHARED, a compiled, typed
;;;; sb-alien call resolved once at load time.

(in-package #:epsilon.foreign)

;;; Types

(defparameter *type-aliases*
  '((:char . :int8) (:unsigned-char . :uint8)
    (:short . :int16) (:unsigned-short . :uint16)
    (:int . :int32) (:unsigned-int . :uint32)
    (:long . :int64) (:unsigned-long . :uint64)
    (:long-long . :int64) (:unsigned-long-long . :uint64)
    (:size . :uint64) (:size-t . :uint64) (:ssize . :int64)))

;; canonical  lisp type               alien type                       ffi code size
(defparameter *types*
  '((:int8   (signed-byte 8)    (sb-alien:signed 8)              1  1)
    (:uint8  (unsigned-byte 8)  (sb-alien:unsigned 8)            2  1)
    (:int16  (signed-byte 16)   (sb-alien:signed 16)             3  2)
    (:uint16 (unsigned-byte 16) (sb-alien:unsigned 16)           4  2)
    (:int32  (signed-byte 32)   (sb-alien:signed 32)             5  4)
    (:uint32 (unsigned-byte 32) (sb-alien:unsigned 32)           6  4)
    (:int64  (signed-byte 64)   (sb-alien:signed 64)             7  8)
    (:uint64 (unsigned-byte 64) (sb-alien:unsigned 64)           8  8)
    (:float  real               sb-alien:single-float            9  4)
    (:double real               sb-alien:double-float           10  8)
    (:pointer t                 sb-sys:system-area-pointer      11  8)
    (:string (or string null)   sb-sys:system-area-pointer      11  8)
    (:void   nil                sb-alien:void                    0  0))
  "For every canonical type keyword: the Lisp type an argument must have,
the sb-alien type, the EPS_FFI_TYPE_ code and the size in bytes.")

(defun canonical-type (type)
  "Return the canonical keyword for the type keyword TYPE, or signal an error."
  (let ((type (or (cdr (assoc type *type-aliases*)) type)))
    (if (assoc type *types*)
        type
        (error "~S is not a foreign type keyword of epsilon.foreign." type))))

(defun type-info (type) (cdr (assoc (canonical-type type) *types*)))
(defun type-lisp-type (type) (first (type-info type)))
(defun type-alien-type (type) (second (type-info type)))
(defun type-ffi-code (type) (third (type-info type)))

(defun foreign-type-size (type)
  "Return the size in bytes of a value of foreign type TYPE (a type keyword)."
  (fourth (type-info type)))

(defun integer-type-p (type)
  (member (canonical-type type) '(:int8 :uint8 :int16 :uint16 :int32 :uint32 :int64 :uint64)))

;;; Argument conversion shared by DEFSHARED and SHARED-CALL

(deftype pointer-vector ()
  "The vectors a :POINTER argument accepts: unboxed elements that can be
pinned and passed by address."
  '(or (simple-array (unsigned-byte 8) (*)) (simple-array (signed-byte 8) (*))
       (simple-array (unsigned-byte 16) (*)) (simple-array (signed-byte 16) (*))
       (simple-array (unsigned-byte 32) (*)) (simple-array (signed-byte 32) (*))
       (simple-array (unsigned-byte 64) (*)) (simple-array (signed-byte 64) (*))
       (simple-array single-float (*)) (simple-array double-float (*))))

(deftype pointer-designator ()
  '(or sb-sys:system-area-pointer null pointer-vector))

(declaim (inline pointer-sap))
(defun pointer-sap (x)
  "The address a :POINTER argument X passes.  A vector must be pinned by
the caller for as long as the address is used."
  (etypecase x
    (sb-sys:system-area-pointer x)
    (null (sb-sys:int-sap 0))
    (pointer-vector (sb-sys:vector-sap x))))

(defun nul-free-p (string)
  (not (find (code-char 0) string)))

(deftype string-without-nul ()
  "A string C can receive whole: a NUL inside it would end it early there
(\"127.0.0.1<NUL>junk\" would pass as \"127.0.0.1\", a host name checked
against a certificate would be cut short), so it holds none."
  '(and string (satisfies nul-free-p)))

(defun string-octets (string)
  "STRING as a fresh NUL-terminated UTF-8 octet vector; NIL for NIL.  A
string holding a NUL is a TYPE-ERROR: C would see only its start."
  (etypecase string
    (null nil)
    (string-without-nul
     (sb-ext:string-to-octets string :external-format :utf-8 :null-terminate t))))

(declaim (inline octets-sap))
(defun octets-sap (octets)
  (if octets (sb-sys:vector-sap octets) (sb-sys:int-sap 0)))

(declaim (ftype (function (t t t t) nil) arg-type-error))
(defun arg-type-error (value expected-type function argument)
  (error 'simple-type-error
         :datum value :expected-type expected-type
         :format-control "~S, argument ~S of ~S, is not of type ~S."
         :format-arguments (list value argument function expected-type)))

;;; DEFSHARED

(defun parse-defshared-body (body)
  "Split the body of a DEFSHARED into argument specs and an options plist."
  (let ((args '()) (options '()))
    (loop while body
          do (let ((x (pop body)))
               (cond ((consp x)
                      (destructuring-bind (name type) x
                        (check-type name (and symbol (not null) (not keyword)))
                        (push (list name (canonical-type type)) args)))
                     ((keywordp x)
                      (unless body (error "DEFSHARED option ~S has no value." x))
                      (unless (member x '(:documentation :inline))
                        (error "Unknown DEFSHARED option ~S." x))
                      (setf (getf options x) (pop body)))
                     (t (error "Bad DEFSHARED clause ~S." x)))))
    (values (nreverse args) options)))

(defun defshared-argument-forms (name args &optional explicit)
  "Return, for the arguments ARGS of function NAME: the checks to run
first, and a function wrapping a call form in the bindings and pinning
the arguments need, plus the forms passed to C.  EXPLICIT: check integers
with code rather than type declarations (an inline function's own
OPTIMIZE declaration does not survive into a caller compiled at safety 0)."
  (let ((checks '()) (wrappers '()) (passed '()))
    (dolist (arg args)
      (destructuring-bind (var type) arg
        (ecase type
          ((:int8 :uint8 :int16 :uint16 :int32 :uint32 :int64 :uint64)
           (let ((lisp-type (type-lisp-type type)))
             (cond (explicit
                    (push `(unless (typep ,var ',lisp-type)
                             (arg-type-error ,var ',lisp-type ',name ',var))
                          checks)
                    (push `(the ,lisp-type ,var) passed))
                   (t
                    ;; A type declaration checked at the function's own
                    ;; safety 1 (DEFSHARED declares it): the compiler's
                    ;; trap-based check is exactly what define-alien-routine
                    ;; does, and signals TYPE-ERROR.
                    (push `(type ,lisp-type ,var) checks)
                    (push var passed)))))
          ((:float :double)
           (let ((float-type (if (eq type :float) 'single-float 'double-float)))
             (push `(unless (realp ,var) (arg-type-error ,var 'real ',name ',var)) checks)
             (push `(coerce ,var ',float-type) passed)))
          (:pointer
           (push `(unless (typep ,var 'pointer-designator)
                    (arg-type-error ,var 'pointer-designator ',name ',var))
                 checks)
           (push (let ((var var))
                   (lambda (form) `(sb-sys:with-pinned-objects (,var) ,form)))
                 wrappers)
           (push `(pointer-sap ,var) passed))
          (:string
           (let ((octets (gensym (format nil "~A-OCTETS" var))))
             (push `(unless (typep ,var '(or string-without-nul null))
                      (arg-type-error ,var '(or string-without-nul null) ',name ',var))
                   checks)
             (push (let ((var var))
                     (lambda (form)
                       `(let ((,octets (string-octets ,var)))
                          (sb-sys:with-pinned-objects (,octets) ,form))))
                   wrappers)
             (push `(octets-sap ,octets) passed)))
          (:void (error "DEFSHARED ~S: argument ~S cannot be :VOID." name var)))))
    (values (nreverse checks) (nreverse wrappers) (nreverse passed))))

(defmacro defshared (name c-name library return-type &body args-and-options)
  "Define NAME as a Lisp function calling the C function C-NAME of LIBRARY.

  (defshared lisp-name \"c_name\" library-designator return-type
    {(argument type)}* {:documentation \"...\"} {:inline boolean})

LIBRARY is any designator LIB-OPEN accepts (\"libepsilon-linux\", \"libc\",
\"libm\", a soname, a path); it is opened when the form is compiled and
loaded (the bindings of libepsilon-linux, loaded before its loader, link
when it runs).  The function is a compiled, typed sb-alien call whose foreign
address is linked once, at load time: no lookup, EVAL or allocation per
call (except a :STRING argument's UTF-8 copy).  Each argument is checked
against its type keyword (see the package documentation) before anything
reaches C, whatever the caller's safety: a wrong type signals TYPE-ERROR.
:POINTER vectors are pinned for the call.  :DOCUMENTATION becomes the
function's documentation string.  :INLINE true declares the function
inline, so a caller's computed SAP (a buffer at an offset) or integer
result is not boxed; its checks are then code, which holds in callers
compiled at any safety."
  (check-type name (and symbol (not null)))
  (check-type c-name string)
  (check-type library string)
  (multiple-value-bind (args options) (parse-defshared-body args-and-options)
    (let* ((return-type (canonical-type return-type))
           (vars (mapcar #'first args))
           (alien-return (case return-type
                           (:string '(sb-alien:c-string :external-format :utf-8))
                           (t (type-alien-type return-type))))
           (alien-args (mapcar (lambda (a) (type-alien-type (second a))) args)))
      (multiple-value-bind (checks wrappers passed)
          (defshared-argument-forms name args (getf options :inline))
        (let ((call `(sb-alien:alien-funcall
                      (sb-alien:extern-alien ,c-name (function ,alien-return ,@alien-args))
                      ,@passed)))
          (when (eq return-type :void)
            (setf call `(progn ,call (values))))
          (dolist (wrap (reverse wrappers))
            (setf call (funcall wrap call)))
          `(progn
             (eval-when (:compile-toplevel :load-toplevel :execute)
               (open-library-for-declarations ,library))
             ,@(when (getf options :inline) `((declaim (inline ,name))))
             (defun ,name ,vars
               ,@(let ((doc (getf options :documentation)))
                   (when doc (list doc)))
               ;; Checked whatever the global policy or the caller's safety.
               (declare (optimize (safety 1))
                        ,@(remove 'type checks :key #'car :test-not #'eq))
               ,@(remove 'type checks :key #'car)
               ,call)))))))
