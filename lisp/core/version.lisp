;;;; SPDX-License-Identifier: MIT
;;;; version.lisp - version of the loaded library, and leak accounting.

(in-package #:epsilon.linux)

(defun library-version ()
  "Return the release version of the loaded libepsilon-linux, as a string."
  (epsilon.linux.bindings:%eps-version-string))

(defun abi-version ()
  "Return the loaded library's ABI version as two values: major and minor."
  (let ((v (epsilon.linux.bindings:%eps-abi-version)))
    (values (ash v -16) (logand v #xffff))))

(defun open-handle-count ()
  "Return how many library handles (TLS contexts and connections, address
lists, callbacks, ...) are live.  A leak test compares it before and after."
  (epsilon.linux.bindings:%eps-handles-live 0))

(defun open-fd-count ()
  "Return how many file descriptors the library created or accepted and has
not closed.  A leak test compares it before and after."
  (epsilon.linux.bindings:%eps-fds-open))
