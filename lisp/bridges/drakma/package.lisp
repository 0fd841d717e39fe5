;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - epsilon.drakma: Drakma's HTTPS through epsilon.crypto.

(defpackage #:epsilon.drakma
  (:use #:cl)
  (:documentation
   "OPEN-TLS-STREAM: a verified TLS client stream through epsilon.crypto to
a URL's host and port, in the shape Drakma's HTTP-REQUEST takes as its
:STREAM argument, so that Drakma's https requests get epsilon's TLS
(verification and host name check on, TLS 1.2 at least) instead of
cl+ssl's.  See docs/bridges.md.")
  (:export #:open-tls-stream))
