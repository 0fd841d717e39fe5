;;;; SPDX-License-Identifier: MIT
;;;; info.lisp - what a connection negotiated, and the peer's certificate.

(in-package #:epsilon.crypto)

(defmacro connection-text (conn operation (function &rest args) &key latin-1)
  "Call the snprintf-like text accessor FUNCTION (with CONN's handle, ARGS,
a buffer and its length) and return the text, or NIL for -ENOENT; retry
with a bigger buffer when the text did not fit."
  (let ((h (gensym "H")) (buf (gensym "BUF")) (r (gensym "R")) (size (gensym "SIZE"))
        (c (gensym "CONN")))
    `(let ((,c ,conn)
           (,size 128))
       (check-type ,c tls-connection)
       (loop repeat 4
             do (let* ((,h (tls-connection-handle ,c))
                       (,buf (make-array ,size :element-type '(unsigned-byte 8)))
                       (,r (with-shim (,function ,h ,@args ,buf ,size))))
                  (cond ((= ,r (- +enoent+)) (return nil))
                        ((minusp ,r) (tls-fail ,c ,r ,operation))
                        ((< ,r ,size)
                         (return (sb-ext:octets-to-string
                                  ,buf :end ,r
                                       :external-format ',(if latin-1
                                                              :latin-1
                                                              '(:utf-8 :replacement #\?)))))
                        (t (setf ,size (1+ ,r)))))
             finally (tls-usage-error ,operation "the text kept growing")))))

(defun tls-version (conn)
  "The protocol version CONN negotiated: :TLS-V1.2 or :TLS-V1.3 (the
keywords of MAKE-TLS-CONTEXT's :METHOD), or NIL before the handshake
completed.  Signals a TLS-ERROR (+EBADHANDLE+) when CONN was freed."
  (check-type conn tls-connection)
  (let ((r (with-shim (%eps-tls-connection-version (tls-connection-handle conn)))))
    (cond ((minusp r) (tls-fail conn r 'tls-version))
          ((= r +tls-version-1-2+) :tls-v1.2)
          ((= r +tls-version-1-3+) :tls-v1.3)
          (t nil))))

(defun tls-cipher (conn)
  "The name of the cipher suite CONN negotiated, as OpenSSL names it
(\"TLS_AES_256_GCM_SHA384\", \"ECDHE-RSA-AES128-GCM-SHA256\"), or NIL before
the handshake completed.  Signals a TLS-ERROR when CONN was freed."
  (connection-text conn 'tls-cipher (%eps-tls-connection-cipher)))

(defun tls-alpn-protocol (conn)
  "The ALPN protocol CONN negotiated (\"h2\"), on either side, or NIL when
none was (no ALPN list on one side, a server that proceeds on a mismatch,
or before the handshake completed).  The name's bytes are read as
Latin-1.  Signals a TLS-ERROR when CONN was freed."
  (connection-text conn 'tls-alpn-protocol (%eps-tls-connection-alpn-protocol)
                   :latin-1 t))

(defun tls-server-name (conn)
  "The SNI server name of CONN: on a server, the name the client asked
for (once the handshake has read the client's hello); on a client, the
name it sends (its :HOSTNAME, when that is a DNS name).  NIL when there is
none (a client that connects by IP address sends no name).  Signals a
TLS-ERROR when CONN was freed."
  (connection-text conn 'tls-server-name (%eps-tls-connection-server-name)))

(defun tls-verify-result (conn)
  "The result of CONN's certificate verification, as two values: OpenSSL's
X509_V_ code (0 when the certificate verified or none was checked; 10
expired, 18 self-signed, 20 unknown issuer, 62 host name mismatch...) and
its text (\"ok\", \"certificate has expired\").  Readable after a failed
handshake too.  Signals a TLS-ERROR when CONN was freed."
  (check-type conn tls-connection)
  (let ((code (with-shim (%eps-tls-connection-verify-result (tls-connection-handle conn)))))
    (when (minusp code)
      (tls-fail conn code 'tls-verify-result))
    (values code
            (connection-text conn 'tls-verify-result
                             (%eps-tls-connection-verify-result-string)))))

;;; The peer's certificate

(defstruct (tls-certificate (:constructor %make-tls-certificate
                                (subject issuer alt-names fingerprint
                                 not-before not-after pem))
                            (:conc-name certificate-)
                            (:copier nil))
  "The leaf certificate a TLS peer presented, as TLS-PEER-CERTIFICATE read
it: plain Lisp data, no handle to free."
  (subject "" :type string :read-only t)
  (issuer "" :type string :read-only t)
  (alt-names '() :type list :read-only t)
  (fingerprint "" :type string :read-only t)
  (not-before 0 :type integer :read-only t)
  (not-after 0 :type integer :read-only t)
  (pem "" :type string :read-only t))

(setf (documentation 'tls-certificate-p 'function)
      "True when OBJECT is a TLS-CERTIFICATE."
      (documentation 'certificate-subject 'function)
      "The subject of the TLS-CERTIFICATE CERT, as `openssl x509 -noout -subject`
prints it after \"subject=\": \"O = Epsilon, CN = epsilon client\"."
      (documentation 'certificate-issuer 'function)
      "The issuer of the TLS-CERTIFICATE CERT, as `openssl x509 -noout -issuer`
prints it after \"issuer=\"."
      (documentation 'certificate-alt-names 'function)
      "The subject alternative names of the TLS-CERTIFICATE CERT, a list of
strings tagged with their kind: (\"DNS:localhost\" \"IP:127.0.0.1\" \"IP:::1\");
the kinds are DNS:, IP:, email: and URI:.  NIL when it has none."
      (documentation 'certificate-fingerprint 'function)
      "The SHA-256 fingerprint of the TLS-CERTIFICATE CERT, as `openssl x509
-noout -fingerprint -sha256` prints it: 32 bytes in upper-case hex separated
by colons (95 characters)."
      (documentation 'certificate-not-before 'function)
      "The start of the validity of the TLS-CERTIFICATE CERT, a universal time."
      (documentation 'certificate-not-after 'function)
      "The end of the validity of the TLS-CERTIFICATE CERT, a universal time."
      (documentation 'certificate-pem 'function)
      "The TLS-CERTIFICATE CERT as PEM text (\"-----BEGIN CERTIFICATE-----...\").")

(defmethod print-object ((cert tls-certificate) stream)
  (print-unreadable-object (cert stream :type t :identity t)
    (format stream "~S" (certificate-subject cert))))

(defconstant +unix-epoch+ (encode-universal-time 0 0 0 1 1 1970 0)
  "The universal time of 1970-01-01T00:00:00Z.")

(defun split-lines (text)
  (loop with start = 0
        for end = (position #\Newline text :start start)
        collect (subseq text start end)
        while end
        do (setf start (1+ end))))

(defun tls-peer-certificate (conn)
  "The certificate CONN's peer presented, as a TLS-CERTIFICATE (read
CERTIFICATE-SUBJECT, -ISSUER, -ALT-NAMES, -FINGERPRINT, -NOT-BEFORE,
-NOT-AFTER, -PEM), or NIL when it presented none (a client without a
certificate, or before the handshake completed).  On a server this is the
client's certificate (mutual TLS: make the server context with :VERIFY
:REQUIRE or :REQUEST).  When verification was off it proves nothing: check
TLS-VERIFY-RESULT then.  Signals a TLS-ERROR when CONN was freed."
  (check-type conn tls-connection)
  (let ((subject (connection-text conn 'tls-peer-certificate
                                  (%eps-tls-connection-peer-subject))))
    (when subject
      (let ((issuer (connection-text conn 'tls-peer-certificate
                                     (%eps-tls-connection-peer-issuer)))
            (alt (connection-text conn 'tls-peer-certificate
                                  (%eps-tls-connection-peer-alt-names)))
            (fingerprint (connection-text conn 'tls-peer-certificate
                                          (%eps-tls-connection-peer-fingerprint)))
            (pem (connection-text conn 'tls-peer-certificate
                                  (%eps-tls-connection-peer-certificate-pem)))
            (before (make-array 1 :element-type '(signed-byte 64)))
            (after (make-array 1 :element-type '(signed-byte 64))))
        (let ((r (with-shim (%eps-tls-connection-peer-validity
                             (tls-connection-handle conn) before after))))
          (when (minusp r)
            (tls-fail conn r 'tls-peer-certificate)))
        (%make-tls-certificate subject (or issuer "")
                               (and alt (split-lines alt))
                               (or fingerprint "")
                               (+ +unix-epoch+ (aref before 0))
                               (+ +unix-epoch+ (aref after 0))
                               (or pem ""))))))
