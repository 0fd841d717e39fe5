;;;; SPDX-License-Identifier: MIT
;;;; image.lisp - what a saved image (save-lisp-and-die) redoes when it
;;;; starts: the image epoch, and the resets registered by each part of the
;;;; FFI layer.

(in-package #:epsilon.foreign)

;;; Nothing made in C before an image was saved exists when it starts:
;;; dlopen handles, malloc'd blocks, libffi closures and the C library's
;;; handles (whose numbers a new process hands out again, so an old one
;;; would name a new object).  The epoch tells those objects apart: it
;;; changes at every start, and every Lisp object wrapping a C object
;;; records the epoch it was made in.

(declaim (type fixnum *image-epoch*))
(sb-ext:defglobal *image-epoch* 0)

(declaim (inline image-epoch current-epoch-p))
(defun image-epoch ()
  "The epoch of this image: a number that changes each time a saved image
starts.  A Lisp object wrapping a C object records it when made; the object
is usable only while it is still the current epoch."
  *image-epoch*)

(defun current-epoch-p (epoch)
  "True when EPOCH (recorded by an object when it was made) is this image's:
the object's C part exists in this process."
  (= epoch *image-epoch*))

(defvar *image-start-functions* '()
  "(name . function) in the order they run when a saved image starts:
registered by each file that keeps C state, lowest layer first.")

(defun on-image-start (name function)
  "Run FUNCTION (no arguments) when a saved image starts, after the ones
registered before NAME was first registered.  Registering NAME again
replaces its function in place."
  (let ((entry (assoc name *image-start-functions*)))
    (if entry
        (setf (cdr entry) function)
        (setf *image-start-functions*
              (append *image-start-functions* (list (cons name function))))))
  name)

(defun start-image ()
  "The init hook: a new epoch, then every registered start function."
  (setf *image-epoch* (logand (1+ *image-epoch*) most-positive-fixnum))
  (loop for (nil . function) in *image-start-functions*
        do (funcall function)))

(defun prepare-save ()
  "The save hook: START-IMAGE goes first in SB-EXT:*INIT-HOOKS*, so init
hooks the program pushed later already find the library loaded."
  (setf sb-ext:*init-hooks* (cons 'start-image (remove 'start-image sb-ext:*init-hooks*))))

(pushnew 'prepare-save sb-ext:*save-hooks*)
(pushnew 'start-image sb-ext:*init-hooks*)

(define-condition saved-object-error (error)
  ((object :initarg :object :reader saved-object-error-object
           :documentation "The object made before the image was saved."))
  (:report (lambda (c s)
             (format s "~A was made before this image was saved: its C part ~
                        does not exist in this process. Make a new one."
                     (let ((*print-readably* nil))
                       (princ-to-string (saved-object-error-object c))))))
  (:documentation "Signalled when an object of epsilon.foreign wrapping a C
object (a callback) made before the image was saved is used after it
started."))
