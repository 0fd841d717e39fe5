;;;; suite-docs.lisp - every ```lisp block in docs/ runs.
;;;;
;;;; A block fenced as ```lisp must run on its own, from a fresh package that
;;;; uses every public package, and signal nothing; it checks its own
;;;; results with ASSERT.  A block that cannot run alone (a server loop
;;;; that never returns) is fenced as ```lisp illustration, and the line
;;;; before the fence says why.

(in-package #:epsilon.linux.tests)

(def-suite docs :in epsilon-linux :description "The examples in docs/*.md run.")
(in-suite docs)

(defun docs-directory ()
  (merge-pathnames "../docs/" (asdf:system-source-directory "epsilon.linux")))

(defun lisp-blocks (path)
  "The ```lisp blocks of the Markdown file PATH, as (line . text) pairs."
  (with-open-file (in path :external-format :utf-8)
    (loop with blocks = '() and current = nil and start = 0
          for line = (read-line in nil)
          for n from 1
          while line
          do (let ((trimmed (string-trim " " line)))
               (cond ((and (null current) (string= trimmed "```lisp"))
                      (setf current (make-string-output-stream) start (1+ n)))
                     ((and current (string= trimmed "```"))
                      (push (cons start (get-output-stream-string current)) blocks)
                      (setf current nil))
                     (current (write-line line current))))
          finally (return (nreverse blocks)))))

(defvar *docs-package-counter* 0)

(defun run-lisp-block (text)
  "Read and evaluate every form of TEXT in a fresh package using all public
packages; return NIL or the condition that was signalled."
  (let* ((name (format nil "EPSILON.DOCS.~D" (incf *docs-package-counter*)))
         (uses (remove-if-not #'find-package
                              '(:cl :epsilon.sys.epoll :epsilon.net.core :epsilon.crypto
                                :epsilon.linux)))
         (package (make-package name :use uses)))
    (unwind-protect
         (handler-case
             (let ((*package* package))
               (with-input-from-string (in text)
                 (loop for form = (read in nil in)
                       until (eq form in)
                       do (eval form)))
               nil)
           (error (e) e))
      (delete-package package))))

(test docs-lisp-blocks-run
  (let ((files (directory (merge-pathnames "*.md" (docs-directory))))
        (count 0))
    (is (plusp (length files)))
    (dolist (file files)
      (loop for (line . text) in (lisp-blocks file)
            do (incf count)
               (let ((failure (run-lisp-block text)))
                 (is (null failure) "~A:~D: ~A" (file-namestring file) line failure))))
    (is (plusp count))))
