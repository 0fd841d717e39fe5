;;;; SPDX-License-Identifier: MIT
;;;; memory.lisp - foreign memory: allocation, freeing and access.

(in-package #:epsilon.foreign)

(defconstant +max-allocation+ (1- (expt 2 31))
  "The largest block FOREIGN-ALLOC hands out, in bytes.")

(defvar *allocations* (make-hash-table :test 'eql :synchronized t)
  "Live blocks from FOREIGN-ALLOC: address -> size in bytes.  FOREIGN-FREE
frees only what is in here, so a second free of a pointer is harmless.")

(declaim (inline null-pointer null-pointer-p pointer-address make-pointer))
(defun null-pointer ()
  "Return the NULL pointer, as a SAP."
  (sb-sys:int-sap 0))

(defun null-pointer-p (pointer)
  "True when POINTER (a SAP) is NULL."
  (zerop (sb-sys:sap-int pointer)))

(defun pointer-address (pointer)
  "Return the address of POINTER (a SAP) as an integer."
  (sb-sys:sap-int pointer))

(defun make-pointer (address)
  "Return a SAP for the integer ADDRESS."
  (check-type address (unsigned-byte 64))
  (sb-sys:int-sap address))

(defun allocation-size (size-or-type count)
  (let ((unit (etypecase size-or-type
                (integer size-or-type)
                (keyword (foreign-type-size size-or-type)))))
    (check-type count (integer 0 #.(1- (expt 2 31))))
    (let ((bytes (* unit count)))
      (unless (typep bytes `(integer 0 ,+max-allocation+))
        (error 'type-error :datum bytes
                           :expected-type `(integer 0 ,+max-allocation+)))
      bytes)))

(defun foreign-alloc (size-or-type &key (count 1) zero)
  "Allocate foreign memory with malloc and return it as a SAP: SIZE-OR-TYPE
bytes when it is an integer, or COUNT values of the type keyword
SIZE-OR-TYPE.  ZERO true fills the block with zeros.  The block lives until
FOREIGN-FREE: it is not garbage-collected.  Sizes above 2^31-1 or below 0
signal TYPE-ERROR; exhaustion signals STORAGE-CONDITION."
  (let* ((bytes (allocation-size size-or-type count))
         (sap (sb-alien:alien-funcall
               (sb-alien:extern-alien "malloc" (function sb-sys:system-area-pointer
                                                         sb-alien:unsigned-long))
               (max 1 bytes))))
    (when (null-pointer-p sap)
      (error 'storage-condition))
    (when zero
      (sb-alien:alien-funcall
       (sb-alien:extern-alien "memset" (function sb-sys:system-area-pointer
                                                 sb-sys:system-area-pointer sb-alien:int
                                                 sb-alien:unsigned-long))
       sap 0 bytes))
    (setf (gethash (sb-sys:sap-int sap) *allocations*) bytes)
    sap))

(defun foreign-free (pointer)
  "Free POINTER, a block from FOREIGN-ALLOC.  Returns T when it was freed,
NIL when POINTER is NIL, NULL or not a live block of FOREIGN-ALLOC (already
freed, or memory from elsewhere): a second free is harmless."
  (when pointer
    (check-type pointer sb-sys:system-area-pointer)
    (let ((address (sb-sys:sap-int pointer)))
      (when (remhash address *allocations*)
        (sb-alien:alien-funcall
         (sb-alien:extern-alien "free" (function sb-alien:void sb-sys:system-area-pointer))
         pointer)
        t))))

(defmacro with-foreign-memory (bindings &body body)
  "Bind each VAR to fresh foreign memory for BODY and free it on every exit.
  (with-foreign-memory ((var size-or-type &key count zero) ...) body...)
The arguments are those of FOREIGN-ALLOC."
  (if (null bindings)
      `(progn ,@body)
      (destructuring-bind ((var size-or-type &rest options) &rest more) bindings
        `(let ((,var nil))
           (unwind-protect
                (progn (setf ,var (foreign-alloc ,size-or-type ,@options))
                       (with-foreign-memory ,more ,@body))
             (when ,var (foreign-free ,var)))))))

;;; Access

(defun mem-ref (pointer type &optional (offset 0))
  "Read the value of foreign type TYPE (a type keyword) at byte OFFSET from
POINTER, a SAP.  :POINTER reads a SAP; :STRING reads a char * and decodes
the UTF-8 string it points to (NIL for NULL).  SETF writes a value."
  (check-type pointer sb-sys:system-area-pointer)
  (check-type offset (signed-byte 62))
  (ecase (canonical-type type)
    (:int8 (sb-sys:signed-sap-ref-8 pointer offset))
    (:uint8 (sb-sys:sap-ref-8 pointer offset))
    (:int16 (sb-sys:signed-sap-ref-16 pointer offset))
    (:uint16 (sb-sys:sap-ref-16 pointer offset))
    (:int32 (sb-sys:signed-sap-ref-32 pointer offset))
    (:uint32 (sb-sys:sap-ref-32 pointer offset))
    (:int64 (sb-sys:signed-sap-ref-64 pointer offset))
    (:uint64 (sb-sys:sap-ref-64 pointer offset))
    (:float (sb-sys:sap-ref-single pointer offset))
    (:double (sb-sys:sap-ref-double pointer offset))
    (:pointer (sb-sys:sap-ref-sap pointer offset))
    (:string (foreign-string-to-lisp (sb-sys:sap-ref-sap pointer offset)))))

(defun (setf mem-ref) (value pointer type &optional (offset 0))
  (check-type pointer sb-sys:system-area-pointer)
  (check-type offset (signed-byte 62))
  (let ((type (canonical-type type)))
    (unless (typep value (type-lisp-type type))
      (error 'type-error :datum value :expected-type (type-lisp-type type)))
    (ecase type
      (:int8 (setf (sb-sys:signed-sap-ref-8 pointer offset) value))
      (:uint8 (setf (sb-sys:sap-ref-8 pointer offset) value))
      (:int16 (setf (sb-sys:signed-sap-ref-16 pointer offset) value))
      (:uint16 (setf (sb-sys:sap-ref-16 pointer offset) value))
      (:int32 (setf (sb-sys:signed-sap-ref-32 pointer offset) value))
      (:uint32 (setf (sb-sys:sap-ref-32 pointer offset) value))
      (:int64 (setf (sb-sys:signed-sap-ref-64 pointer offset) value))
      (:uint64 (setf (sb-sys:sap-ref-64 pointer offset) value))
      (:float (setf (sb-sys:sap-ref-single pointer offset) (coerce value 'single-float)))
      (:double (setf (sb-sys:sap-ref-double pointer offset) (coerce value 'double-float)))
      (:pointer
       (check-type value (or sb-sys:system-area-pointer null))
       (setf (sb-sys:sap-ref-sap pointer offset) (or value (null-pointer))))
      (:string (error "(SETF MEM-REF) cannot store a :STRING; use LISP-STRING-TO-FOREIGN.")))
    value))

(defun foreign-string-to-lisp (pointer &key count)
  "Decode the UTF-8 string at POINTER (a SAP) into a fresh Lisp string:
COUNT bytes, or up to the first NUL when COUNT is NIL.  NIL or NULL gives NIL."
  (when (and pointer (not (null-pointer-p pointer)))
    (let* ((n (or count
                  (loop for i of-type fixnum from 0
                        until (zerop (sb-sys:sap-ref-8 pointer i))
                        finally (return i))))
           (octets (make-array n :element-type '(unsigned-byte 8))))
      (dotimes (i n) (setf (aref octets i) (sb-sys:sap-ref-8 pointer i)))
      (sb-ext:octets-to-string octets :external-format :utf-8))))

(defun lisp-string-to-foreign (string)
  "Return a FOREIGN-ALLOC block holding STRING as UTF-8 with a terminating
NUL.  Free it with FOREIGN-FREE."
  (check-type string string)
  (let* ((octets (string-octets string))
         (sap (foreign-alloc (length octets))))
    (dotimes (i (length octets)) (setf (sb-sys:sap-ref-8 sap i) (aref octets i)))
    sap))

;; Blocks allocated before an image was saved are not in the process that
;; starts it: forget them, so FOREIGN-FREE never frees an address this
;; process did not allocate.
(on-image-start 'allocations (lambda () (clrhash *allocations*)))
