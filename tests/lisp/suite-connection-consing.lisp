;;;; SPDX-License-Identifier: MIT
;;;; suite-connection-consing.lisp - what one TLS connection object costs the
;;;; heap (issue 18: a server makes one per accepted connection).

(in-package #:epsilon.linux.tests)

(def-suite connection-consing :in epsilon-linux
  :description "Bytes consed by making and freeing a TLS connection.")

(in-suite connection-consing)

(defun bytes-per-connection (ctx fd n)
  "Bytes consed per MAKE-TLS-CONNECTION and TLS-CONNECTION-FREE on FD, over
N of them after a warm-up, pending finalizers run first."
  (dotimes (i 100) (epsilon.crypto:tls-connection-free (epsilon.crypto:make-tls-connection ctx fd)))
  (sb-ext:gc :full t)
  (sb-impl::run-pending-finalizers)
  (let ((before (sb-ext:get-bytes-consed)))
    (dotimes (i n) (epsilon.crypto:tls-connection-free (epsilon.crypto:make-tls-connection ctx fd)))
    (/ (- (sb-ext:get-bytes-consed) before) n)))

(test a-tls-connection-object-conses-at-most-200-bytes
  ;; The object (8 words), its two direction locks (4 words each) and its
  ;; finalizer (a closure and its entry in SBCL's store) come to 190 bytes
  ;; on SBCL 2.2.9; a role slot of its own made it 206.  The best of three
  ;; runs, so another thread's consing does not count.
  (epsilon.crypto:with-tls-context (ctx :role :server :cert-file (cert "server.pem") :key-file (cert "server.key"))
    (multiple-value-bind (a b) (epsilon.net.core:socket-pair)
      (unwind-protect
           (let ((bytes (loop repeat 3 minimize (bytes-per-connection ctx a 20000))))
             (is (<= bytes 200) "~,1F bytes consed per connection object" (float bytes)))
        (epsilon.net.core:socket-close a)
        (epsilon.net.core:socket-close b)))))
