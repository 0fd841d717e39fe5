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

;;; The failures of every ```lisp block of FILES, as "file:line: condition"
;;; strings, LINE being the block's first line.
(defun illustration-blocks (path)
  "The ```lisp illustration blocks of PATH: (line first-line-of-block
preceding-text), the preceding text being the 4 lines before the fence."
  (let ((lines (with-open-file (in path :external-format :utf-8)
                 (loop for line = (read-line in nil) while line collect line))))
    (loop for (line . rest) on lines
          for n from 1
          when (string= (string-trim " " line) "```lisp illustration")
            collect (list n (or (first rest) "")
                          (format nil "~{~A~^ ~}"
                                  (subseq lines (max 0 (- n 5)) (1- n)))))))

(defun docs-failures (files)
  (loop for file in files
        nconc (loop for (line . text) in (lisp-blocks file)
                    for failure = (run-lisp-block text)
                    when failure
                      collect (format nil "~A:~D: ~A" (file-namestring file) line failure))))

(defun docs-block-count (files)
  (loop for file in files sum (length (lisp-blocks file))))

(test docs-lisp-blocks-run
  (let ((files (directory (merge-pathnames "*.md" (docs-directory)))))
    (is (plusp (length files)))
    (is (plusp (docs-block-count files)))
    (dolist (failure (docs-failures files))
      (fail "~A" failure))))

(test docs-illustrations-say-why
  "A block that is not run says so, and why: in its first comment line or in
the text just before it (\"not run\", \"cannot run\")."
  (dolist (file (directory (merge-pathnames "*.md" (docs-directory))))
    (loop for (line first before) in (illustration-blocks file)
          do (is (or (and (search ";;" first) (search "run" first))
                     (search "not run" before) (search "cannot run" before))
                 "~A:~D: an illustration block that does not say why it is not run"
                 (file-namestring file) line))))

(test docs-broken-block-is-reported-at-its-line
  "A broken block in a Markdown file is reported with the file and the line
of the block, and illustration blocks are not run."
  (let ((path (merge-pathnames (format nil "eps-docs-selftest-~D.md" (sb-unix:unix-getpid))
                               (uiop:temporary-directory))))
    (unwind-protect
         (progn
           (with-open-file (out path :direction :output :if-exists :supersede)
             (format out "# Self-test~%~%```lisp~%(assert (= 2 (+ 1 1)))~%```~%~%~
                          Not run:~%~%```lisp illustration~%(error \"never\")~%```~%~%~
                          ```lisp~%(assert (= 3 (+ 1 1)))~%```~%"))
           (is (= 2 (docs-block-count (list path))))
           (let ((failures (docs-failures (list path))))
             (is (= 1 (length failures)))
             (is (eql 0 (search (format nil "~A:14: " (file-namestring path))
                                (first failures)))
                 "~S" failures)))
      (delete-file path))))

;;; docs/error-codes.md is generated from errors.h by bindings-gen; the
;;; library must agree with every row: the constant's value, the keyword of
;;; ERROR-NAME and the message of ERROR-MESSAGE; and every +E...+ constant
;;; of epsilon.linux.errors has its row.
(defun error-code-rows ()
  "The rows of docs/error-codes.md's code tables:
(c-name value constant keyword condition message)."
  (with-open-file (in (merge-pathnames "error-codes.md" (docs-directory)))
    (loop for line = (read-line in nil)
          while line
          for cells = (and (> (length line) 2) (string= "| `EPS_" line :end2 7)
                           (mapcar (lambda (c) (string-trim " `" c))
                                   (rest (butlast (uiop:split-string line :separator "|")))))
          when (= 6 (length cells))
            collect (destructuring-bind (c value constant keyword condition message) cells
                      (list c (parse-integer value) constant keyword condition message)))))

(test docs-error-codes-match-the-library
  (let ((rows (error-code-rows))
        (package (find-package '#:epsilon.linux.errors)))
    (is (< 80 (length rows)))
    (loop for (c value constant keyword condition message) in rows
          for symbol = (find-symbol (string-upcase constant) package)
          do (is (not (null symbol)) "~A: no ~A in epsilon.linux.errors" c constant)
             (when symbol
               (is (= value (symbol-value symbol)) "~A: ~A is ~D, not ~D"
                   c constant (symbol-value symbol) value))
             (is (string= keyword (format nil ":~(~A~)" (epsilon.linux.errors:error-name value))) "~A" c)
             (is (string= message (epsilon.linux.errors:error-message value)) "~A: ~S" c (epsilon.linux.errors:error-message value))
             ;; The condition column, as a socket call signals the code.
             (is (string-equal (cond ((string= condition "subsystem") "socket-error")
                                     ((string= condition "timeout") "socket-timeout")
                                     (t condition))
                               (epsilon.linux.errors:class-for-code
                                value 'epsilon.linux.errors:socket-error))
                 "~A: the table says ~A" c condition))
    ;; Every code constant is in the table (EWOULDBLOCK is a second name).
    (do-external-symbols (symbol package)
      (let ((name (symbol-name symbol)))
        (when (and (> (length name) 3) (string= "+E" name :end2 2)
                   (not (string= name "+EWOULDBLOCK+")))
          (is (find (string-downcase name) rows :key #'third :test #'string=)
              "~A has no row in docs/error-codes.md" name))))))

;;; errors.md's "Condition classes" table lists every code that is not
;;; signalled as its subsystem's root class (epoll-error, socket-error,
;;; tls-error); CLASS-FOR-CODE must agree with it for every code.
(defun condition-class-rows ()
  "The rows of errors.md's condition class table: (keyword epoll net crypto)."
  (with-open-file (in (merge-pathnames "errors.md" (docs-directory)))
    (loop for line = (read-line in nil)
          while line
          for cells = (and (> (length line) 3) (string= "| `:" line :end2 4)
                           (mapcar (lambda (c) (string-trim " `" c))
                                   (rest (butlast (uiop:split-string line :separator "|")))))
          when (= 4 (length cells))
            collect cells)))

(test docs-condition-classes-match-class-for-code
  (let ((rows (condition-class-rows))
        (roots '(epsilon.linux.errors:epoll-error epsilon.linux.errors:socket-error
                 epsilon.linux.errors:tls-error)))
    (is (plusp (length rows)))
    (loop for (c value) in (error-code-rows)
          for keyword = (format nil ":~(~A~)" (epsilon.linux.errors:error-name value))
          for row = (find keyword rows :key #'first :test #'string=)
          do (loop for root in roots
                   for documented in (if row (rest row) (mapcar #'string-downcase roots))
                   for actual = (epsilon.linux.errors:class-for-code value root)
                   do (is (string-equal documented (symbol-name actual))
                          "~A raised as ~(~A~): errors.md says ~A, class-for-code says ~(~A~)"
                          c root documented actual)))))
