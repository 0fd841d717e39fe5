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
  "Close CLAIM's fd unless another owner has closed it already.  Taking the
claim and closing are one deferred step: an interrupt between them would
leave the fd open and claimed by nobody."
  (sb-sys:without-interrupts
    (when (take-fd-claim claim)
      (socket-close (fd-claim-fd claim)))))

(defmacro with-claimed-fd ((fd cell form) &body body)
  "Bind FD to the descriptor FORM opens, claimed, for BODY; close it on
every exit unless a stream over it closed it already.  FORM opens into
CELL, a fresh cons whose car it sets to each descriptor it opens (with
interrupts deferred from the open to the store) and back to -1 when it
closes one itself; so an interrupt that unwinds anywhere, even as FORM
returns, leaves no descriptor that neither FORM nor this macro closes."
  (let ((claim (gensym "CLAIM")))
    ;; The cleanup runs with interrupts deferred (the whole form is inside
    ;; WITHOUT-INTERRUPTS; FORM and BODY get them back): an interrupt at
    ;; the start of an unwind-protect's cleanup would unwind out of it.
    `(let ((,cell (list -1))
           (,claim nil))
       (sb-sys:without-interrupts
         (unwind-protect
              (progn
                (sb-sys:with-local-interrupts ,form)
                (setf ,claim (claim-fd (car ,cell)))
                (sb-sys:with-local-interrupts
                  (let ((,fd (car ,cell)))
                    ,@body)))
           (cond (,claim (close-claimed ,claim))
                 ((>= (the fixnum (car ,cell)) 0)
                  (let ((fd (car ,cell)))
                    (setf (car ,cell) -1)
                    (socket-close fd)))))))))

(defun create-into (cell domain type protocol)
  "SOCKET-CREATE into CELL (see WITH-CLAIMED-FD): the new descriptor is in
CELL before any interrupt can run."
  (sb-sys:without-interrupts
    (setf (car cell) (socket-create domain type protocol))))

(defun close-from (cell)
  "Close the descriptor in CELL and forget it there, as one deferred step."
  (sb-sys:without-interrupts
    (let ((fd (car cell)))
      (setf (car cell) -1)
      (socket-close fd))))
