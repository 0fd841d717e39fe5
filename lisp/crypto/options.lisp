;;;; SPDX-License-Identifier: MIT
;;;; options.lisp - the context options of part 2: ALPN, SNI certificates,
;;;; the key log.  Checked here, in Lisp, before anything reaches C.

(in-package #:epsilon.crypto)

(defun alpn-list-string (protocols)
  "PROTOCOLS, a non-empty list of ALPN protocol names, as the
comma-separated text the C library takes.  Signals a TYPE-ERROR for
anything but a list of strings of 1 to 255 UTF-8 bytes without a comma."
  (check-type protocols cons)
  (unless (<= (length protocols) 1000)
    (error 'type-error :datum protocols :expected-type '(satisfies alpn-list-p)))
  (dolist (p protocols)
    (unless (and (stringp p)
                 (<= 1 (length (sb-ext:string-to-octets p :external-format :utf-8)) 255)
                 (not (find #\, p))
                 (not (find (code-char 0) p)))
      (error 'type-error :datum p
                         :expected-type '(and string (satisfies alpn-name-p)))))
  (format nil "~{~A~^,~}" protocols))

(defun keylog-path (keylog-file)
  "The file name the :KEYLOG-FILE option KEYLOG-FILE asks for, or NIL."
  (check-type keylog-file (or null (eql :env) string pathname))
  (cond ((null keylog-file) nil)
        ((eq keylog-file :env)
         (let ((env (sb-ext:posix-getenv "SSLKEYLOGFILE")))
           (and env (plusp (length env)) env)))
        (t (file-argument keylog-file))))

(defun check-sni-certificates (entries)
  "Check that ENTRIES is a list of (CERT-FILE KEY-FILE &KEY NAME) lists."
  (check-type entries list)
  (dolist (entry entries)
    (unless (and (consp entry)
                 (typep (first entry) '(or string pathname))
                 (consp (rest entry))
                 (typep (second entry) '(or string pathname))
                 (let ((keys (cddr entry)))
                   (or (null keys)
                       (and (eq (first keys) :name) (consp (rest keys))
                            (typep (second keys) '(or null string))
                            (null (cddr keys))))))
      (error 'type-error :datum entry
                         :expected-type '(cons (or string pathname)
                                          (cons (or string pathname) list))))))

(defun tls-context-add-certificate (ctx cert-file key-file &key name)
  "Add to the server context CTX a certificate chain (the leaf first) and
its unencrypted private key, from the PEM files CERT-FILE and KEY-FILE, for
the clients that ask for NAME with SNI (server name indication).  NAME is a
DNS name (\"alt.localhost\") or a one-label wildcard (\"*.example.com\");
NIL (the default) means the DNS names the certificate itself holds.  The
first pair added whose name matches wins; a client that sends no name, or
one nothing matches, gets the certificate loaded with :CERT-FILE, or the
first pair added when there is none.  ALPN, verification and key-log
settings stay those of CTX.  Returns CTX.  Signals a TLS-ERROR: +EBADPEM+
for a missing or malformed file, +EKEYMISMATCH+ when the key does not match,
+EINVAL+ on a client context or for a NAME over 253 bytes."
  (check-type ctx tls-context)
  (check-type name (or null string))
  (let ((cert (file-argument cert-file))
        (key (file-argument key-file)))
    (shim-call 'tls-context-add-certificate
               (%eps-tls-context-add-server-certificate-file
                (context-handle ctx 'tls-context-add-certificate) (or name "") cert key)))
  ctx)
