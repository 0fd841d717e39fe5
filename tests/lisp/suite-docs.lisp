;;;; SPDX-License-Identifier: MIT
;;;; suite-docs.lisp - every ```lisp block in docs/ runs.
;;;;
;;;; A block fenced as ```lisp must run on its own, from a fresh package that
;;;; uses every public package, and signal nothing; it checks its own
;;;; results with ASSERT.  A block that cannot run alone (a server loop
;;;; that never returns) is fenced as ```lisp illustration, and the line
;;;; before the fence says why.  A block fenced as ```lisp setup holds the
;;;; helpers of the blocks below it on its page: it is evaluated, in each of
;;;; their fresh packages, before each of them (as a reader pastes it once
;;;; before any recipe), and runs on its own too.

(in-package #:epsilon.linux.tests)

(def-suite docs :in epsilon-linux :description "The examples in docs/*.md run.")
(in-suite docs)

(defun docs-directory ()
  (merge-pathnames "../docs/" (asdf:system-source-directory "epsilon.linux")))

(defun fenced-blocks (path)
  "The ```lisp and ```lisp setup blocks of the Markdown file PATH, as
(line setup-p text) lists, LINE being the block's first line."
  (with-open-file (in path :external-format :utf-8)
    (loop with blocks = '() and current = nil and start = 0 and setup = nil
          for line = (read-line in nil)
          for n from 1
          while line
          do (let ((trimmed (string-trim " " line)))
               (cond ((and (null current) (member trimmed '("```lisp" "```lisp setup")
                                                  :test #'string=))
                      (setf current (make-string-output-stream) start (1+ n)
                            setup (string/= trimmed "```lisp")))
                     ((and current (string= trimmed "```"))
                      (push (list start setup (get-output-stream-string current)) blocks)
                      (setf current nil))
                     (current (write-line line current))))
          finally (return (nreverse blocks)))))

(defun lisp-blocks (path)
  "The runnable blocks of the Markdown file PATH, as (line . text) pairs:
every ```lisp and ```lisp setup block."
  (loop for (line nil text) in (fenced-blocks path) collect (cons line text)))

(defun setup-blocks-before (path line)
  "The ```lisp setup blocks of PATH above LINE, as (line . text) pairs."
  (loop for (start setup text) in (fenced-blocks path)
        when (and setup (< start line)) collect (cons start text)))

(defvar *docs-package-counter* 0)

(defun eval-text (text)
  "Read and evaluate every form of TEXT in *PACKAGE*."
  (with-input-from-string (in text)
    (loop for form = (read in nil in)
          until (eq form in)
          do (eval form))))

(defun run-lisp-block (text &optional setups)
  "Read and evaluate every form of TEXT in a fresh package using all public
packages, after the text of each of SETUPS ((line . text) pairs); return
NIL, or the condition that was signalled and, when a setup signalled it,
that setup's line."
  (let* ((name (format nil "EPSILON.DOCS.~D" (incf *docs-package-counter*)))
         (uses (remove-if-not #'find-package
                              '(:cl :epsilon.sys.epoll :epsilon.net.core :epsilon.crypto
                                :epsilon.linux)))
         (package (make-package name :use uses))
         (setup-line nil))
    (unwind-protect
         (handler-case
             (let ((*package* package))
               (loop for (line . setup) in setups
                     do (setf setup-line line)
                        (eval-text setup))
               (setf setup-line nil)
               (eval-text text)
               nil)
           (error (e) (values e setup-line)))
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
                    for (failure setup-line)
                      = (multiple-value-list
                         (run-lisp-block text (setup-blocks-before file line)))
                    when failure
                      collect (if setup-line
                                  (format nil "~A:~D: (the setup of the block at line ~D) ~A"
                                          (file-namestring file) setup-line line failure)
                                  (format nil "~A:~D: ~A" (file-namestring file) line failure)))))

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

(test docs-setup-block-runs-before-the-blocks-below-it
  "A ```lisp setup block is evaluated before every block below it on its
page (each still in a fresh package), not before the blocks above it; it
runs on its own too, and a broken setup is reported at its own line."
  (let ((path (merge-pathnames (format nil "eps-docs-setup-~D.md" (sb-unix:unix-getpid))
                               (uiop:temporary-directory))))
    (unwind-protect
         (progn
           (with-open-file (out path :direction :output :if-exists :supersede)
             ;; Line 4: a block above the setup, which cannot see its helper;
             ;; line 8: the setup; lines 12, 16, 21: blocks below it.
             (format out "# Self-test~%~%```lisp~%(assert (= 4 (twice 2)))~%```~%~%~
                          ```lisp setup~%(defun twice (x) (* 2 x))~%```~%~%~
                          ```lisp~%(assert (= 6 (twice 3)))~%```~%~%~
                          ```lisp~%(assert (not (fboundp 'thrice)))~%(defun thrice (x) (* 3 x))~%```~%~%~
                          ```lisp~%(assert (not (fboundp 'thrice)))~%(assert (= 8 (twice 4)))~%```~%"))
           (is (= 5 (docs-block-count (list path))))
           (let ((failures (docs-failures (list path))))
             (is (= 1 (length failures)) "~S" failures)
             (is (eql 0 (search (format nil "~A:4: " (file-namestring path)) (first failures)))
                 "~S" failures)))
      (delete-file path))
    (unwind-protect
         (progn
           (with-open-file (out path :direction :output :if-exists :supersede)
             (format out "# Self-test~%~%```lisp setup~%(error \"broken setup\")~%```~%~%~
                          ```lisp~%(assert t)~%```~%"))
           (let ((failures (docs-failures (list path))))
             ;; Once run alone, once before the block at line 8.
             (is (= 2 (length failures)) "~S" failures)
             (is (search (format nil "~A:4: (the setup of the block at line 8) broken setup"
                                 (file-namestring path))
                         (second failures))
                 "~S" failures)))
      (delete-file path))))

;;; docs/tls.md opens with five lines that fetch https://example.com/; its
;;; "Fetching a page" recipe runs the same five lines on loopback, with only
;;; the host, the port and the CA changed.  A change to the opening lines
;;; that the recipe does not follow fails here.
(defun tls-page-lines ()
  "The lines of docs/tls.md."
  (with-open-file (in (merge-pathnames "tls.md" (docs-directory)) :external-format :utf-8)
    (loop for line = (read-line in nil) while line collect line)))

(defun block-after (lines start fence)
  "The lines of the first block fenced as FENCE after line index START."
  (let* ((open (position fence lines :start start :test #'string=))
         (close (and open (position "```" lines :start (1+ open) :test #'string=))))
    (and close (subseq lines (1+ open) close))))

(defun read-forms (text package)
  "The forms of TEXT, read in PACKAGE."
  (let ((*package* package))
    (with-input-from-string (in text)
      (loop for form = (read in nil in) until (eq form in) collect form))))

(defun subform-p (form tree)
  "True when FORM is TREE or, compared with EQUAL, one of its subforms."
  (or (equal form tree)
      (and (consp tree) (or (subform-p form (car tree)) (subform-p form (cdr tree))))))

(defun replace-all (string old new)
  "STRING with every OLD replaced by NEW."
  (with-output-to-string (out)
    (loop with start = 0
          for hit = (search old string :start2 start)
          do (write-string string out :start start :end (or hit (length string)))
          while hit
          do (write-string new out)
             (setf start (+ hit (length old))))))

(defun loopback-form-of (text)
  "The opening lines TEXT as the loopback recipe has them: localhost, the
server's port, the test CA."
  (reduce (lambda (text pair) (replace-all text (car pair) (cdr pair)))
          '(("example.com" . "localhost") (":port 443" . ":port port")
            ("(with-tls-context (ctx)" . "(with-tls-context (ctx :ca-file ca)"))
          :initial-value text))

(test docs-tls-opens-with-a-five-line-fetch
  (let* ((lines (tls-page-lines))
         (first-block (position-if (lambda (l) (eql 0 (search "```" l))) lines))
         (opening (block-after lines 0 "```lisp illustration"))
         (recipe (block-after lines (or (position "### Fetching a page" lines :test #'string=) 0)
                              "```lisp")))
    ;; The page's first code block is the example, before any section.
    (is (string= "```lisp illustration" (nth first-block lines)))
    (is (< first-block (position-if (lambda (l) (eql 0 (search "## " l))) lines)))
    (is (= 5 (length opening)) "~{~A~%~}" opening)
    (is (search "example.com" (format nil "~{~A~%~}" opening)))
    (is (search ":port 443" (format nil "~{~A~%~}" opening)))
    (is (search "(with-tls-context (ctx)" (format nil "~{~A~%~}" opening)))
    (is (search "tls-send" (format nil "~{~A~%~}" opening)))
    (is (not (null recipe)))
    ;; The recipe runs the form of the five lines, with only the loopback
    ;; changes (read, so indentation and comments do not count).
    (let ((package (make-package (format nil "EPSILON.DOCS.OPENING.~D" (incf *docs-package-counter*))
                                 :use '(:cl))))
      (unwind-protect
           (let ((wanted (read-forms (loopback-form-of (format nil "~{~A~%~}" opening)) package))
                 (have (read-forms (format nil "~{~A~%~}" recipe) package)))
             (is (= 1 (length wanted)))
             (is (subform-p (first wanted) have)
                 "\"Fetching a page\" does not run the opening lines; it should hold:~%~S"
                 (first wanted)))
        (delete-package package)))))

(test docs-tls-recipes-share-one-setup
  "docs/tls.md's recipes take their certificates and loopback connections
from the page's one setup block: no other block makes certificates or
defines the helpers again."
  (let* ((path (merge-pathnames "tls.md" (docs-directory)))
         (blocks (fenced-blocks path))
         (setups (remove-if-not #'second blocks)))
    (is (= 1 (length setups)))
    (is (< 8 (count-if-not #'second blocks)))
    (loop for (line setup text) in blocks
          do (if setup
                 (is (and (search "make-certs.sh" text) (search "(defun over-loopback" text)
                          (search "(defun on-loopback" text)))
                 (progn
                   (is (not (search "make-certs.sh" text))
                       "tls.md:~D: a recipe makes its own certificates" line)
                   (is (not (search "(defun over-loopback" text))
                       "tls.md:~D: a recipe defines over-loopback again" line)
                   (is (search "with-demo-certificates" text)
                       "tls.md:~D: a recipe without the setup's certificates" line))))))

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
