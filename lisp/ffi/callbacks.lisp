;;;; SPDX-License-Identifier: MIT
;;;; callbacks.lisp - Lisp functions as C function pointers, through libffi
;;;; closures that all dispatch to one Lisp callable.

(in-package #:epsilon.foreign)

(defstruct (callback (:constructor %make-callback (id function return-type arg-types
                                                   &aux (epoch (image-epoch))))
                     (:copier nil))
  "A Lisp function callable from C through a libffi closure."
  (id 0 :type (unsigned-byte 62) :read-only t)
  (function #'identity :type function :read-only t)
  (return-type :void :type keyword :read-only t)
  (arg-types #() :type simple-vector :read-only t)
  ;; The image epoch it was made in: its closure exists only in that one.
  (epoch 0 :type fixnum :read-only t)
  ;; The closure handle and its code address; NIL once freed.
  (handle nil)
  (%pointer nil))

(defmethod print-object ((callback callback) stream)
  (print-unreadable-object (callback stream :type t :identity t)
    (format stream "~(~A ~A~)~:[ freed~;~]" (callback-return-type callback)
            (coerce (callback-arg-types callback) 'list) (callback-handle callback))))

(defvar *callbacks* (make-hash-table :test 'eql :synchronized t)
  "Live callbacks by id: the one dispatcher finds the Lisp function here.")

(defvar *callback-counter* (list 0))
(declaim (type (cons sb-ext:word t) *callback-counter*))

(defun read-callback-arg (address type)
  "The value of argument TYPE stored at ADDRESS (a SAP)."
  (ecase type
    (:int8 (sb-sys:signed-sap-ref-8 address 0))
    (:uint8 (sb-sys:sap-ref-8 address 0))
    (:int16 (sb-sys:signed-sap-ref-16 address 0))
    (:uint16 (sb-sys:sap-ref-16 address 0))
    (:int32 (sb-sys:signed-sap-ref-32 address 0))
    (:uint32 (sb-sys:sap-ref-32 address 0))
    (:int64 (sb-sys:signed-sap-ref-64 address 0))
    (:uint64 (sb-sys:sap-ref-64 address 0))
    (:float (sb-sys:sap-ref-single address 0))
    (:double (sb-sys:sap-ref-double address 0))
    (:pointer (sb-sys:sap-ref-sap address 0))
    (:string (foreign-string-to-lisp (sb-sys:sap-ref-sap address 0)))))

(defun store-callback-result (result type value)
  "Store VALUE of TYPE into the 8-byte result slot RESULT (a SAP), integers
widened to 64 bits as libffi requires."
  (flet ((bad (expected) (error 'type-error :datum value :expected-type expected)))
    (case type
      (:void nil)
      ((:int8 :int16 :int32 :int64)
       (let ((lisp-type (type-lisp-type type)))
         (if (typep value lisp-type)
             (setf (sb-sys:signed-sap-ref-64 result 0) value)
             (bad lisp-type))))
      ((:uint8 :uint16 :uint32 :uint64)
       (let ((lisp-type (type-lisp-type type)))
         (if (typep value lisp-type)
             (setf (sb-sys:sap-ref-64 result 0) value)
             (bad lisp-type))))
      (:float (if (realp value)
                  (setf (sb-sys:sap-ref-single result 0) (coerce value 'single-float))
                  (bad 'real)))
      (:double (if (realp value)
                   (setf (sb-sys:sap-ref-double result 0) (coerce value 'double-float))
                   (bad 'real)))
      (:pointer (if (typep value '(or sb-sys:system-area-pointer null))
                    (setf (sb-sys:sap-ref-sap result 0) (or value (null-pointer)))
                    (bad '(or sb-sys:system-area-pointer null))))
      (:string (error "A callback cannot return :STRING; return a :POINTER.")))))

(defun dispatch-callback (id args result)
  (let ((callback (gethash id *callbacks*)))
    (if (null callback)
        ;; Only reachable through a freed closure that libffi has not
        ;; reused yet: undefined behaviour, answered with zero.
        (setf (sb-sys:sap-ref-64 result 0) 0)
        (let* ((types (callback-arg-types callback))
               (values (loop for type across types for i of-type fixnum from 0
                             collect (read-callback-arg (sb-sys:sap-ref-sap args (* 8 i))
                                                        type))))
          (store-callback-result result (callback-return-type callback)
                                 (apply (callback-function callback) values))))))

;; The one Lisp function C ever calls back: every closure passes its id.
(sb-alien:define-alien-callable eps-callback-dispatcher sb-alien:void
    ((id (sb-alien:signed 64))
     (args sb-sys:system-area-pointer)
     (result sb-sys:system-area-pointer))
  (dispatch-callback id args result))

(defun dispatcher-address ()
  (sb-alien:alien-sap (sb-alien:alien-callable-function 'eps-callback-dispatcher)))

(defun make-callback (function return-type arg-types)
  "Return a CALLBACK: C code with the signature RETURN-TYPE (ARG-TYPES...),
type keywords as for SHARED-CALL (:STRING arguments arrive as Lisp strings;
a callback cannot return :STRING), that calls FUNCTION with the converted
arguments and returns its converted value.  Pass (CALLBACK-POINTER
callback) to C.  The callback lives until FREE-CALLBACK; calling its
pointer after that is undefined behaviour, as for any freed C function.
Call it from Lisp threads only (SBCL does not run Lisp on foreign
threads).  An error in FUNCTION unwinds through the C frames that called
it: fine for qsort, not for C code holding locks."
  (check-type function (or function symbol))
  (let* ((ret (check-signature return-type arg-types))
         (function (coerce function 'function))
         (id (sb-ext:atomic-incf (car *callback-counter*)))
         (callback (%make-callback id function ret
                                   (map 'simple-vector #'canonical-type arg-types))))
    (when (eq ret :string)
      (error "A callback cannot return :STRING; return a :POINTER."))
    (setf (gethash id *callbacks*) callback)
    (let ((h (epsilon.linux.bindings:%eps-ffi-closure-new
              (type-ffi-code ret) (type-codes arg-types) (length arg-types)
              (dispatcher-address) id)))
      (when (minusp h)
        (remhash id *callbacks*)
        (error 'foreign-call-error :code h :operation "eps_ffi_closure_new"))
      (let ((out (make-array 1 :element-type '(unsigned-byte 64))))
        (let ((r (epsilon.linux.bindings:%eps-ffi-closure-address h out)))
          (unless (zerop r)
            (epsilon.linux.bindings:%eps-ffi-closure-free h)
            (remhash id *callbacks*)
            (error 'foreign-call-error :code r :operation "eps_ffi_closure_address")))
        (setf (callback-handle callback) h
              (callback-%pointer callback) (sb-sys:int-sap (aref out 0)))))
    callback))

(defun callback-live-p (callback)
  "True until CALLBACK is freed (or the image it was made in was saved)."
  (check-type callback callback)
  (and (callback-handle callback) (current-epoch-p (callback-epoch callback))))

(defun callback-pointer (callback)
  "The C function pointer of a live CALLBACK, as a SAP (NIL once freed).
A callback made before the image was saved signals SAVED-OBJECT-ERROR: its
closure is not in this process."
  (check-type callback callback)
  (if (current-epoch-p (callback-epoch callback))
      (callback-%pointer callback)
      (error 'saved-object-error :object callback)))

(defun free-callback (callback)
  "Free CALLBACK's closure.  Returns T, or NIL when it was already freed
(a second free is harmless) or made before the image was saved (nothing of
it is left to free).  Calling its pointer afterwards is undefined
behaviour."
  (check-type callback callback)
  (let ((h (callback-handle callback)))
    (when h
      (setf (callback-handle callback) nil
            (callback-%pointer callback) nil)
      (when (current-epoch-p (callback-epoch callback))
        (epsilon.linux.bindings:%eps-ffi-closure-free h)
        (remhash (callback-id callback) *callbacks*)
        t))))

;; No closure of a saved image's past survives its start.
(on-image-start 'callbacks (lambda () (clrhash *callbacks*)))

(defmacro with-callback ((var function return-type arg-types) &body body)
  "Bind VAR to the C function pointer (a SAP) of a callback made by
MAKE-CALLBACK from FUNCTION, RETURN-TYPE and ARG-TYPES for BODY, and free
the callback on every exit."
  (let ((cb (gensym "CALLBACK")))
    `(let ((,cb (make-callback ,function ,return-type ,arg-types)))
       (unwind-protect (let ((,var (callback-pointer ,cb))) ,@body)
         (free-callback ,cb)))))
