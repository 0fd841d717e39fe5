;;;; SPDX-License-Identifier: MIT
;;;; gen-reference.lisp - write docs/reference.md, the reference of every
;;;; exported symbol of the public packages, from the docstrings.
;;;; usage: sbcl --script scripts/gen-reference.lisp [OUT]  (default docs/reference.md)
;;;; `make reference` runs it; scripts/check-reference.sh fails when the
;;;; checked-in page differs from a fresh one.

(require :asdf)
(require :sb-introspect)
(defvar *root* (merge-pathnames "../" (make-pathname :name nil :type nil
                                                     :defaults *load-truename*)))
(asdf:initialize-source-registry
 `(:source-registry (:tree ,(merge-pathnames "lisp/" *root*)) :ignore-inherited-configuration))
(let ((*standard-output* (make-broadcast-stream))
      (*error-output* (make-broadcast-stream)))
  (handler-bind ((warning #'muffle-warning))
    (asdf:load-system "epsilon.linux")))

(defparameter *shared* "EPSILON.LINUX.ERRORS"
  "The package whose symbols every public package exports.")
(defparameter *packages*
  '(("EPSILON.SYS.EPOLL" "epoll.md" "epoll instances, events, eventfd wakeups, timerfd timers.")
    ("EPSILON.NET.CORE" "net.md" "sockets, addresses, name resolution, streams.")
    ("EPSILON.CRYPTO" "tls.md" "TLS contexts, connections, sessions, streams.")
    ("EPSILON.LINUX" "index.md" "the library as a whole: versions, open descriptors and handles.")
    ("EPSILON.FOREIGN" "foreign.md" "the FFI layer: libraries, DEFSHARED, SHARED-CALL, callbacks, memory."))
  "Each public package, the page that explains it, and what it holds.")

(defun kinds (s)
  "The kinds of definition S has, as (kind . detail) pairs, in a fixed order."
  (let ((out '()))
    (cond ((macro-function s) (push (cons "macro" (macro-function s)) out))
          ((and (fboundp s) (typep (fdefinition s) 'generic-function))
           (push (cons "generic function" (fdefinition s)) out))
          ((fboundp s) (push (cons "function" (fdefinition s)) out)))
    (let ((class (find-class s nil)))
      (when class
        (push (cons (cond ((subtypep class 'condition) "condition")
                          ((typep class 'structure-class) "structure")
                          (t "class"))
                    class)
              out)))
    (cond ((constantp s) (push (cons "constant" (symbol-value s)) out))
          ((boundp s) (push (cons "variable" nil) out)))
    (when (and (null out) (sb-int:info :type :kind s))
      (push (cons "type" nil) out))
    (nreverse out)))

(defun doc (s kind)
  (cond ((member kind '("macro" "function" "generic function") :test #'string=)
         (documentation s 'function))
        ((member kind '("condition" "structure" "class" "type") :test #'string=)
         (documentation s 'type))
        (t (documentation s 'variable))))

(defun name (s) (string-downcase (symbol-name s)))

(defun render (form)
  "FORM (a lambda list) as text, every symbol by its name alone: the
reader wants the argument names, not the packages they were read in."
  (cond ((keywordp form) (format nil ":~A" (name form)))
        ((and form (symbolp form)) (name form))
        ((null form) "()")
        ((and (consp form) (eq (car form) 'quote) (consp (cdr form)) (null (cddr form)))
         (format nil "'~A" (render (second form))))
        ((consp form)
         (let ((parts '()) (tail form))
           (loop while (consp tail) do (push (render (pop tail)) parts))
           (when tail (push "." parts) (push (render tail) parts))
           (format nil "(~{~A~^ ~})" (nreverse parts))))
        (t (let ((*print-pretty* nil)) (prin1-to-string form)))))

(defun write-entry (out s package)
  (dolist (k (kinds s))
    (destructuring-bind (kind . detail) k
      (let ((*package* package) (*print-case* :downcase) (*print-pretty* nil))
        (if (member kind '("macro" "function" "generic function") :test #'string=)
            (format out "- **`~A`** `~A` (~A)~%" (name s)
                    (render (sb-introspect:function-lambda-list detail))
                    kind)
            (format out "- **`~A`** (~A~@[ = `~S`~])~%" (name s) kind
                    (and (string= kind "constant") detail))))
      (let ((text (doc s kind)))
        (if text
            (format out "~%  ```text~%~{~A~%~}  ```~%~%"
                    (mapcar (lambda (line)
                              (let ((line (string-right-trim '(#\Space #\Tab) line)))
                                (if (string= line "") "" (concatenate 'string "  " line))))
                            (uiop:split-string (string-right-trim '(#\Newline #\Space) text)
                                               :separator '(#\Newline))))
            (let ((readers-of (reader-classes s kind)))
              (if readers-of
                  (format out "~%  The slot reader of ~{`~(~A~)`~^, ~}.~%~%" readers-of)
                  (format out "~%  (no docstring)~%~%"))))))))

(defun reader-classes (s kind)
  "The names of the classes whose slot reader S (a generic function without
a docstring) is, or NIL."
  (when (string= kind "generic function")
    (let ((classes (loop for m in (sb-mop:generic-function-methods (fdefinition s))
                         for spec = (first (sb-mop:method-specializers m))
                         when (typep spec 'class) collect (class-name spec))))
      (sort (remove-duplicates classes) #'string< :key #'symbol-name))))

(defun externals (package-name &key (without *shared*))
  (let ((shared (and without (find-package without)))
        (out '()))
    (do-external-symbols (s package-name)
      (unless (and shared (eq (symbol-package s) shared))
        (push s out)))
    (sort out #'string< :key #'symbol-name)))

(defun error-constant-p (s)
  (let ((n (symbol-name s)))
    (and (> (length n) 3) (string= "+E" n :end2 2) (constantp s))))

(defun write-package (out package-name title page summary &key (without *shared*))
  (let* ((package (find-package package-name))
         (symbols (externals package-name :without without))
         (codes (remove-if-not #'error-constant-p symbols))
         (constants (remove-if-not (lambda (s) (and (constantp s) (not (error-constant-p s))
                                                    (= 1 (length (kinds s)))))
                                   symbols))
         (symbols (remove-if (lambda (s) (or (error-constant-p s) (member s constants)))
                             symbols)))
    (format out "## ~A~%~%" title)
    (format out "~A~@[ Explained, with examples, in [~A](~:*~A).~]~%~%" summary page)
    (let ((text (documentation package t)))
      (when text
        (format out "The package's documentation string:~%~%```text~%~A~%```~%~%"
                (string-right-trim '(#\Newline #\Space) text))))
    (when codes
      (format out "The ~D error-code constants (`~A` ... `~A`) are listed, with their ~
values, keywords and messages, in [error-codes.md](error-codes.md).~%~%"
              (length codes) (name (first codes)) (name (car (last codes)))))
    (dolist (s symbols) (write-entry out s package))
    (when constants
      (format out "Constants (the C library's values, from the generated bindings):~%~%~
| constant | value | |~%| --- | --- | --- |~%")
      (dolist (s constants)
        (let ((text (documentation s 'variable)))
          (format out "| `~A` | ~S | ~@[~A~] |~%" (name s) (symbol-value s)
                  (and text (substitute #\Space #\Newline text)))))
      (terpri out))))

(let ((path (or (second sb-ext:*posix-argv*) (merge-pathnames "docs/reference.md" *root*))))
  (with-open-file (out path :direction :output :if-exists :supersede :external-format :utf-8)
    (format out "# Reference~%~%<!-- Generated by scripts/gen-reference.lisp from the docstrings. ~
Do not edit: run make reference. -->~%~%")
    (format out "Every exported symbol of the public packages, with its lambda list and ~
docstring, package by package. A program may `:use` several of them together: the ~
error conditions, their readers and the `+e...+` code constants are the same symbols ~
in each (from `epsilon.linux.errors`, listed once, first).~%~%")
    (write-package out *shared* "Errors, in every package (epsilon.linux.errors)" "errors.md"
                   "The condition classes, their readers and the code constants."
                   :without nil)
    (loop for (package page summary) in *packages*
          do (write-package out package (string-downcase package) page
                            (format nil "`~(~A~)`: ~A" package summary))))
  (format t "gen-reference: wrote ~A~%" (enough-namestring path *root*)))
