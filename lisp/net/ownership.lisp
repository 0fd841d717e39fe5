;;;; SPDX-License-Identifier: MIT
;;;; ownership.lisp - who closes a socket fd, exactly once.
;;;;
;;;; The rule: a socket stream made with :CLOSE-FD T (the default) owns its
;;;; fd; closing the stream closes the fd.  The WITH-... macros that open
;;;; a socket register a claim on its fd; a stream made over it shares the
;;;; claim, and whichever of the two closes first takes the claim and
;;;; closes the number; the other then does nothing.  Descriptor numbers
;;;; are reused by the kernel, so a second close could close another
;;;; thread's new socket: the claim is taken with compare-and-swap, so two
;;;; threads never both close.

(in-package #:epsilon.net.core.internal)

(defstruct (fd-claim (:constructor make-fd-claim (fd)) (:copier nil))
  (fd 0 :type fixnum :read-only t)
  ;; :OPEN until one owner takes it (then :CLOSED) to close the fd.
  (state :open))

(defvar *fd-claims* (make-hash-table :synchronized t)
  "fd -> the FD-CLAIM of the WITH-... macro that opened it, while open.")

(defun claim-fd (fd)
  "Register and return a claim on FD, a descriptor just opened by a macro."
  (setf (gethash fd *fd-claims*) (make-fd-claim fd)))

(defun fd-claim (fd)
  "The claim a stream over FD shares: the registered one, else its own."
  (or (gethash fd *fd-claims*) (make-fd-claim fd)))

(defun take-fd-claim (claim)
  "True for the one caller that is to close CLAIM's fd (and no later one)."
  (when (eq :open (sb-ext:compare-and-swap (fd-claim-state claim) :open :closed))
    (let ((fd (fd-claim-fd claim)))
      ;; Forgotten before the number is closed, so it is free for reuse.
      (sb-ext:with-locked-hash-table (*fd-claims*)
        (when (eq claim (gethash fd *fd-claims*))
          (remhash fd *fd-claims*))))
    t))

(defun close-claimed (claim)
  "Close CLAIM's fd unless another owner has closed it already."
  (when (take-fd-claim claim)
    (socket-close (fd-claim-fd claim))))

(defmacro with-claimed-fd ((fd form) &body body)
  "Bind FD to the descriptor FORM opens, claimed, for BODY; close it on
every exit unless a stream over it closed it already."
  (let ((claim (gensym "CLAIM")))
    `(let* ((,fd ,form)
            (,claim (claim-fd ,fd)))
       (unwind-protect (progn ,@body)
         (close-claimed ,claim)))))
