;;;; docs-block.lisp - run by tests/deb/check-deb.sh in a fresh SBCL with
;;;; epsilon.linux loaded from the unpacked packages: the "Fetching a page"
;;;; example of the installed docs/tls.md, as it stands there, in a package
;;;; that uses the public packages (as the docs suite runs it). It makes its
;;;; certificates with the installed make-certs.sh and talks TLS on loopback.

(defpackage #:deb-docs-block
  (:use #:cl #:epsilon.sys.epoll #:epsilon.net.core #:epsilon.crypto #:epsilon.linux))

(let* ((page (sb-ext:posix-getenv "EPS_DEB_TLS_PAGE"))
       (lines (with-open-file (in page :external-format :utf-8)
                (loop for line = (read-line in nil) while line collect line)))
       (start (or (position "### Fetching a page" lines :test #'string=)
                  (error "~a has no \"Fetching a page\" recipe" page)))
       (open (position "```lisp" lines :start start :test #'string=))
       (close (position "```" lines :start (1+ open) :test #'string=))
       (text (format nil "~{~a~%~}" (subseq lines (1+ open) close)))
       (*package* (find-package '#:deb-docs-block)))
  (with-input-from-string (in text)
    (loop for form = (read in nil in) until (eq form in) do (eval form)))
  (format t "docs-block: ~a, \"Fetching a page\" (~d lines) ran~%" page (- close open 1)))
