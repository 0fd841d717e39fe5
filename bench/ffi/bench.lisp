;;;; SPDX-License-Identifier: MIT
;;;; bench.lisp - ns per call of one trivial shim function, eps_ffi_noop
;;;; (int32_t -> int32_t, returns its argument), through every FFI path.
;;;; Run with `make bench-ffi` (sbcl --script bench/ffi/bench.lisp).

(require :asdf)
(let ((root (merge-pathnames "../../" (make-pathname :name nil :type nil
                                                     :defaults *load-truename*))))
  (asdf:initialize-source-registry
   `(:source-registry (:tree ,(merge-pathnames "lisp/" root))
                      :inherit-configuration)))
(format t "~&loading epsilon.foreign and cffi...~%")
(finish-output)
(let ((*compile-verbose* nil) (*compile-print* nil))
  (handler-bind ((warning #'muffle-warning))
    (asdf:load-system "epsilon.foreign")
    (asdf:load-system "cffi")))

(defpackage #:epsilon.bench.ffi (:use #:cl))
(in-package #:epsilon.bench.ffi)

;;; The contenders, each a global function taking the argument.

;; Baseline: what a careful hand-written binding looks like.
(sb-alien:define-alien-routine ("eps_ffi_noop" baseline-noop) sb-alien:int
  (value sb-alien:int))

(defun shared-call-site-noop (x)
  ;; Constant signature: the call site caches address and call interface.
  (epsilon.foreign:shared-call "eps_ffi_noop" :int '(:int) x))

(defvar *name* "eps_ffi_noop")
(defvar *types* (list :int))
(defun shared-call-dynamic-noop (x)
  ;; Signature known only at run time: name and call interface from caches.
  (epsilon.foreign:shared-call *name* :int *types* x))

(cffi:defcfun ("eps_ffi_noop" cffi-noop) :int (value :int))

;;; Timing

(defun now-ns ()
  ;; This thread's CPU time: other processes on a shared machine do not
  ;; inflate it (they still share caches and memory bandwidth).
  (multiple-value-bind (sec nsec) (sb-unix::clock-gettime sb-unix:clock-thread-cputime-id)
    (+ (* sec 1000000000) nsec)))

(defun time-loop (fn n)
  "CPU ns per call of FN over N calls (the loop included)."
  (declare (type function fn) (type fixnum n))
  (let ((acc 0) (t0 (now-ns)))
    (declare (type fixnum acc))
    (dotimes (i n)
      (setf acc (logxor acc (the fixnum (funcall fn (logand i #xffff))))))
    (let ((t1 (now-ns)))
      (values (/ (- t1 t0) (float n 1d0)) acc))))

(defun median (xs)
  (let ((v (sort (copy-list xs) #'<)))
    (nth (floor (length v) 2) v)))

(defparameter *runs* 9)

(defparameter *contenders*
  (list (list "define-alien-routine (base)" #'baseline-noop)
        ;; The generated function itself, as a user calls it (a wrapper
        ;; would add a call the baseline does not make).
        (list "defshared" #'epsilon.linux.bindings:%eps-ffi-noop)
        (list "shared-call (constant site)" #'shared-call-site-noop)
        (list "shared-call (dynamic)" #'shared-call-dynamic-noop)
        (list "cffi defcfun" #'cffi-noop)))

(defun calibrate (fn)
  "Calls per run for about 0.15 s."
  (funcall fn 1)
  (let ((probe (time-loop fn 20000)))
    (max 20000 (min 50000000 (round 1.5d8 (max probe 0.1d0))))))

(defun main ()
  (assert (= 42 (baseline-noop 42) (epsilon.linux.bindings:%eps-ffi-noop 42) (shared-call-site-noop 42)
             (shared-call-dynamic-noop 42) (cffi-noop 42)))
  (format t "~&eps_ffi_noop(int32_t) through each path; ~A ~A~%~
             ~D runs, the contenders interleaved in each run (so load from other ~
             processes hits all of them alike), median per contender~%"
          (lisp-implementation-type) (lisp-implementation-version) *runs*)
  (let ((counts (mapcar (lambda (c) (calibrate (second c))) *contenders*))
        (times (make-list (length *contenders*) :initial-element '())))
    (loop for c in *contenders* for n in counts
          do (format t "  ~28A ~9D calls per run~%" (first c) n))
    (dotimes (r *runs*)
      (format t "run ~D/~D:" (1+ r) *runs*)
      (loop for c in *contenders* for n in counts for cell on times
            do (let ((ns (time-loop (second c) n)))
                 (push ns (car cell))
                 (format t " ~,1F" ns)
                 (finish-output)))
      (terpri))
    (let* ((medians (mapcar #'median times))
           (base (first medians)))
      (format t "~%~28A ~10@A ~8@A~%" "path" "ns/call" "ratio")
      (loop for c in *contenders* for m in medians
            do (format t "~28A ~10,2F ~7,2Fx~%" (first c) m (/ m base)))
      ;; Every run's figure, for the harness's median, min and max.
      (format t "~%samples~%")
      (loop for c in *contenders* for ts in times
            do (format t "~28A~{ ~,2F~}~%" (first c) (reverse ts)))
      (let ((ds (/ (second medians) base))
            (sc (/ (fourth medians) base)))
        (format t "~%targets: defshared <= 1.10x: ~:[MISSED~;met~] (~,2Fx); ~
                   shared-call <= 15x: ~:[MISSED~;met~] (~,2Fx dynamic, ~,2Fx constant site)~%"
                (<= ds 1.1) ds (<= sc 15) sc (/ (third medians) base))))))

(main)
