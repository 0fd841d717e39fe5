;;;; SPDX-License-Identifier: MIT
;;;; docs-block.lisp - run by tests/deb/check-deb.sh in a fresh SBCL with
;;;; epsilon.linux loaded from the unpacked packages: the "Fetching a page"
;;;; example of the installed docs/tls.md, as it stands there, after the
;;;; page's "```lisp setup" blocks above it (as a reader pastes them first),
;;;; in a package that uses the public packages (as the docs suite runs it).
;;;; It makes its certificates with the installed make-certs.sh and talks
;;;; TLS on loopback.

(defpackage #:deb-docs-block
  (:use #:cl #:epsilon.sys.epoll #:epsilon.net.core #:epsilon.crypto #:epsilon.linux))

(defun block-text (lines open)
  "The text of the fenced block whose fence is at index OPEN of LINES."
  (let ((close (position "```" lines :start (1+ open) :test #'string=)))
    (format nil "~{~a~%~}" (subseq lines (1+ open) close))))

(let* ((page (sb-ext:posix-getenv "EPS_DEB_TLS_PAGE"))
       (lines (with-open-file (in page :external-format :utf-8)
                (loop for line = (read-line in nil) while line collect line)))
       (start (or (position "### Fetching a page" lines :test #'string=)
                  (error "~a has no \"Fetching a page\" recipe" page)))
       (setups (loop for line in lines for n from 0
                     while (< n start)
                     when (string= line "```lisp setup") collect (block-text lines n)))
       (open (position "```lisp" lines :start start :test #'string=))
       (text (block-text lines open))
       (*package* (find-package '#:deb-docs-block)))
  (dolist (form-text (append setups (list text)))
    (with-input-from-string (in form-text)
      (loop for form = (read in nil in) until (eq form in) do (eval form))))
  (format t "docs-block: ~a, \"Fetching a page\" (~d lines, after ~d setup block~:p) ran~%"
          page (count #\Newline text) (length setups)))
