;;;; SPDX-License-Identifier: MIT
;;;; context.lisp - TLS contexts: role, versions, certificate, trust.

(in-package #:epsilon.crypto)

(deftype size ()
  "A byte count or offset the C library accepts."
  '(integer 0 #.(1- (expt 2 31))))

(defmacro with-shim (&body body)
  "Run BODY, a call into the C library that touches a handle, a lock or
OpenSSL, with interrupts deferred: with-timeout or interrupt-thread must not
unwind out of it (DESIGN section 4)."
  `(sb-sys:without-interrupts ,@body))

(defmacro shim-call (operation form)
  "Evaluate FORM (a library call) with interrupts deferred; return its value
when not negative, else signal the TLS-ERROR for OPERATION, outside the
deferred section."
  (let ((r (gensym "R")))
    `(let ((,r (with-shim ,form)))
       (if (minusp ,r)
           (signal-epsilon-error ,r ,operation 'tls-error)
           ,r))))

(defun freed-error (what operation)
  "Signal the TLS-ERROR (+EBADHANDLE+) for using a freed WHAT."
  (error 'tls-error :code +ebadhandle+ :operation operation
                    :detail (format nil "the TLS ~A was freed" what)))

(defun saved-error (what operation)
  "Signal the TLS-ERROR (+EBADHANDLE+) for using a WHAT made before the
image was saved: its C object does not exist in this process."
  (error 'tls-error :code +ebadhandle+ :operation operation
                    :detail (format nil "the TLS ~A was made before this image was saved; ~
                                         it does not exist in this process: make a new one" what)))

(defun file-argument (path)
  "PATH (a string or pathname) as the native file name the C library takes."
  (check-type path (or string pathname))
  (sb-ext:native-namestring (translate-logical-pathname path)))

;;; The object

(defstruct (tls-context (:constructor %make-tls-context
                            (handle role verify &aux (epoch (epsilon.foreign:image-epoch))))
                        (:copier nil))
  "A TLS context: the settings shared by the connections made from it.  Make
it with MAKE-TLS-CONTEXT or WITH-TLS-CONTEXT; free it with
TLS-CONTEXT-FREE (idempotent; a finalizer frees a forgotten one).
Connections made from it keep working after it is freed."
  (handle 0 :type sb-ext:word)
  (role :client :type (member :client :server) :read-only t)
  (verify t :read-only t)
  ;; The image epoch it was made in: its handle means nothing in another.
  (epoch 0 :type fixnum :read-only t))

(setf (documentation 'tls-context-p 'function)
      "True when OBJECT is a TLS-CONTEXT (freed or not).")

(defmethod print-object ((ctx tls-context) stream)
  (print-unreadable-object (ctx stream :type t :identity t)
    (format stream "~(~A~)~:[ no-verify~;~]~:[ freed~;~]"
            (tls-context-role ctx) (tls-context-verify ctx)
            (plusp (tls-context-handle ctx)))))

(defmacro free-handle-once ((handle place epoch object) &body free)
  "The one way a TLS object is freed: take its handle from PLACE (leaving
0) with compare-and-swap, so that only one caller frees it; when it was
made in this image (EPOCH current), cancel OBJECT's finalizer and run FREE
with HANDLE bound.  All of it with interrupts deferred: a throw from an
interrupt between the swap and the free (one pending runs as
CANCEL-FINALIZATION releases its lock) would leave a handle that neither
this nor the finalizer frees.  PLACE is read twice; returns NIL."
  `(progn
     (sb-sys:without-interrupts
       (let ((,handle ,place))
         (when (and (plusp ,handle)
                    (eql ,handle (sb-ext:compare-and-swap ,place ,handle 0))
                    ;; One made before the image was saved has nothing to free.
                    (epsilon.foreign:current-epoch-p ,epoch))
           (sb-ext:cancel-finalization ,object)
           ,@free)))
     nil))

(defun context-handle (ctx operation)
  "CTX's handle, or a TLS-ERROR for OPERATION when CTX was freed (or made
before the image was saved)."
  (let ((h (tls-context-handle ctx)))
    (cond ((not (epsilon.foreign:current-epoch-p (tls-context-epoch ctx)))
           (saved-error "context" operation))
          ((plusp h) h)
          (t (freed-error "context" operation)))))

(defun tls-context-free (ctx)
  "Free the TLS context CTX.  Idempotent: later calls do nothing.  Connections
made from CTX keep working; using CTX itself afterwards signals a TLS-ERROR
(+EBADHANDLE+).  Returns NIL."
  (check-type ctx tls-context)
  (free-handle-once (h (tls-context-handle ctx) (tls-context-epoch ctx) ctx)
    (%eps-tls-context-free h)))

;;; Making one

(defun wrap-context (h role verify)
  "A TLS-CONTEXT owning the context handle H, with its finalizer.  Call it
with interrupts deferred, in the section that made H."
  (let ((ctx (%make-tls-context h role verify)))
    (sb-ext:finalize ctx (lambda () (with-shim (%eps-tls-context-free h))) :dont-save t)
    ctx))

(defun version-code (version)
  (ecase version
    ((nil :tls) +tls-version-default+)
    (:tls-v1.2 +tls-version-1-2+)
    (:tls-v1.3 +tls-version-1-3+)))

(defun policy-code (policy)
  "The C cipher policy for the :POLICY option POLICY."
  (ecase policy
    (:intermediate +tls-policy-intermediate+)
    (:compatible +tls-policy-compatible+)))

(defun verify-mode (role verify)
  "The C verification mode for ROLE and the :VERIFY option VERIFY."
  (if (eq role :client)
      (if verify +tls-verify-peer+ +tls-verify-none+)
      (ecase verify
        ((nil) +tls-verify-none+)
        (:request +tls-verify-peer+)
        ((t :require) (logior +tls-verify-peer+ +tls-verify-fail-if-no-peer-cert+)))))

(defun make-tls-context (&key (method :tls) (role :client) (verify (eq role :client))
                              ca-file ca-path cert-file key-file chain-file ciphers
                              ciphersuites (policy :intermediate) ocsp-response-file
                              max-version alpn alpn-mismatch sni-certificates
                              (session-cache nil session-cache-p)
                              (session-tickets nil session-tickets-p)
                              keylog-file)
  "Make a TLS context for ROLE, :CLIENT (the default) or :SERVER.
METHOD sets the lowest protocol version accepted: :TLS (TLS 1.2 or newer,
the default), :TLS-V1.2 or :TLS-V1.3; MAX-VERSION (NIL, :TLS-V1.2 or
:TLS-V1.3) caps the highest.
VERIFY on a client (true by default) makes it refuse a server whose
certificate does not lead to a trusted CA or does not name the host given to
the connection; VERIFY NIL turns all checking off: anyone can then
impersonate the server.  VERIFY on a server (NIL by default: no client
certificate is asked for) is :REQUEST (ask for a client certificate; a
client may send none, but one it sends must verify) or :REQUIRE (or T:
mutual TLS, a client without a valid certificate fails the handshake); read
the client's certificate with TLS-PEER-CERTIFICATE.  The trust is CA-FILE (a
PEM file of CA certificates; on a server also the CA names sent to the
client in the certificate request), CA-PATH (a directory hashed by `openssl
rehash`), or the system's default CAs when neither is given.
CERT-FILE and KEY-FILE load the certificate chain and the unencrypted
private key (PEM), checked to match; a server needs both (here, with
TLS-LOAD-CERT-FILE and TLS-LOAD-KEY-FILE, or as SNI-CERTIFICATES).  A client
context with both presents them to servers that ask (mutual TLS).
CHAIN-FILE (a PEM file of intermediate CA certificates, the issuer of the
leaf first) replaces the intermediates of CERT-FILE in what the server
sends.
POLICY is the TLS 1.2 cipher policy: :INTERMEDIATE (the default, Mozilla's
\"intermediate\" profile: forward-secret AEAD suites only, no CBC) or
:COMPATIBLE (OpenSSL's default list, CBC suites included, for peers that
know no AEAD suite).  CIPHERS (the TLS 1.2 cipher list) replaces the
policy's list; CIPHERSUITES sets the TLS 1.3 suites; both in OpenSSL's
syntax.
OCSP-RESPONSE-FILE (servers only) is a DER OCSP response file (as `openssl
ocsp -respout` writes it) stapled to the handshakes of clients that ask for
the certificate status; the file is read again when it changes (replace it
with a rename), and a bad new file keeps the last good response.
ALPN is a list of protocol names (strings of 1 to 255 bytes without a
comma: (\"h2\" \"http/1.1\")) in order of preference: a client offers them,
a server selects the first of its own list that the client offered.
ALPN-MISMATCH (servers only) is what happens when a client offers protocols
and none is in the list: :FAIL (the default; the handshake fails on both
sides) or :PROCEED (no protocol is selected).
SNI-CERTIFICATES (servers only) is a list of (CERT-FILE KEY-FILE &KEY NAME)
entries, each passed to TLS-CONTEXT-ADD-CERTIFICATE.
SESSION-CACHE (servers only) and SESSION-TICKETS turn the server's session
cache and session tickets on or off (both on by default); see TLS-SESSION.
KEYLOG-FILE (a path, or :ENV for the value of the SSLKEYLOGFILE environment
variable when it is set and not empty) appends the handshake secrets to
that file (mode 0600) in the format Wireshark reads: for debugging only,
whoever reads the file can decrypt the captured traffic.  Off unless asked.
Returns a TLS-CONTEXT; free it with TLS-CONTEXT-FREE, or use
WITH-TLS-CONTEXT.  Signals a TLS-ERROR on failure (+EBADPEM+ for a missing
or malformed file, a chain that does not continue the certificate or a file
that is not an OCSP response, +EKEYMISMATCH+ for a key that does not match, +EINVAL+
for an option the role does not take)."
  (check-type method (member :tls :tls-v1.2 :tls-v1.3))
  (check-type max-version (member nil :tls :tls-v1.2 :tls-v1.3))
  (check-type role (member :client :server))
  (when (eq role :server)
    (check-type verify (member nil t :request :require)))
  (check-type ca-file (or null string pathname))
  (check-type ca-path (or null string pathname))
  (check-type cert-file (or null string pathname))
  (check-type key-file (or null string pathname))
  (check-type chain-file (or null string pathname))
  (check-type ocsp-response-file (or null string pathname))
  (check-type policy (member :intermediate :compatible))
  (check-type ciphers (or null string))
  (check-type ciphersuites (or null string))
  (let ((alpn-text (and alpn (alpn-list-string alpn)))
        (keylog (keylog-path keylog-file)))
    (check-type alpn-mismatch (member nil :fail :proceed))
    (check-sni-certificates sni-certificates)
    (let ((verify (if (eq role :client) (and verify t) (if (eq verify t) :require verify)))
          (ctx nil)
          (code 0)
          (ok nil))
      (unwind-protect
           (progn
             ;; The handle, its wrapper and its finalizer in one deferred
             ;; section, stored in CTX before it ends: an interrupt that
             ;; arrived during the C call runs as the section ends, and its
             ;; throw then finds CTX for the cleanup below to free.  The
             ;; configuration after it stays interruptible.
             (sb-sys:without-interrupts
               (let ((h (%eps-tls-context-new (if (eq role :client)
                                                  +tls-role-client+
                                                  +tls-role-server+)
                                              (version-code method)
                                              (version-code max-version))))
                 (if (minusp h)
                     (setf code h)
                     (setf ctx (wrap-context h role verify)))))
             (when (minusp code)
               (signal-epsilon-error code 'make-tls-context 'tls-error))
             (let ((h (tls-context-handle ctx)))
               (when (or verify (eq role :client))
                 (shim-call 'make-tls-context
                            (%eps-tls-context-set-verify h (verify-mode role verify))))
               (when ca-file
                 (shim-call 'make-tls-context
                            (%eps-tls-context-load-ca-file h (file-argument ca-file))))
               (when ca-path
                 (shim-call 'make-tls-context
                            (%eps-tls-context-load-ca-dir h (file-argument ca-path))))
               (when (and verify (not ca-file) (not ca-path))
                 (shim-call 'make-tls-context (%eps-tls-context-use-default-verify-paths h)))
               (unless (eq policy :intermediate)
                 (shim-call 'make-tls-context
                            (%eps-tls-context-set-policy h (policy-code policy))))
               (when ciphers
                 (shim-call 'make-tls-context (%eps-tls-context-set-cipher-list h ciphers)))
               (when ciphersuites
                 (shim-call 'make-tls-context (%eps-tls-context-set-ciphersuites h ciphersuites)))
               (when cert-file (tls-load-cert-file ctx cert-file))
               (when key-file (tls-load-key-file ctx key-file))
               (when chain-file (tls-load-chain-file ctx chain-file))
               (when ocsp-response-file
                 (shim-call 'make-tls-context
                            (%eps-tls-context-set-ocsp-response-file
                             h (file-argument ocsp-response-file))))
               (when alpn-text
                 (shim-call 'make-tls-context (%eps-tls-context-set-alpn-protocols h alpn-text)))
               (when alpn-mismatch
                 (shim-call 'make-tls-context
                            (%eps-tls-context-set-alpn-mismatch
                             h (if (eq alpn-mismatch :fail)
                                   +tls-alpn-mismatch-fail+
                                   +tls-alpn-mismatch-proceed+))))
               (dolist (entry sni-certificates)
                 (apply #'tls-context-add-certificate ctx entry))
               (when session-cache-p
                 (shim-call 'make-tls-context
                            (%eps-tls-context-set-session-cache h (if session-cache 1 0))))
               (when session-tickets-p
                 (shim-call 'make-tls-context
                            (%eps-tls-context-set-session-tickets h (if session-tickets 1 0))))
               (when keylog
                 (shim-call 'make-tls-context (%eps-tls-context-set-keylog-file h keylog)))
               (setf ok t)
               ctx))
        ;; Eagerly, on an error or a throw: not left to the finalizer.
        (when (and (not ok) (tls-context-p ctx))
          (tls-context-free ctx))))))

(defmacro with-tls-context ((ctx &rest options
                             &key method role verify ca-file ca-path cert-file key-file
                               chain-file policy ocsp-response-file
                               ciphers ciphersuites max-version alpn alpn-mismatch
                               sni-certificates session-cache session-tickets keylog-file)
                            &body body)
  "Bind CTX to a new TLS context made by MAKE-TLS-CONTEXT with OPTIONS, run
BODY, and free the context on every exit.  Returns BODY's values.

  (with-tls-context (ctx :role :server :cert-file \"server.pem\" :key-file \"server.key\")
    ...)"
  (declare (ignore method role verify ca-file ca-path cert-file key-file
                   chain-file policy ocsp-response-file ciphers ciphersuites max-version alpn alpn-mismatch
                   sni-certificates session-cache session-tickets keylog-file))
  `(let ((,ctx (make-tls-context ,@options)))
     (unwind-protect (progn ,@body)
       (tls-context-free ,ctx))))

(defun tls-load-cert-file (ctx path)
  "Load the certificate chain (the leaf first, then intermediates) from the
PEM file PATH into the TLS context CTX.  If a key is loaded already, it must
match.  Returns CTX.  Signals a TLS-ERROR: +EBADPEM+ when the file is
missing or holds no certificate, +EKEYMISMATCH+ when the loaded key does not
match (CTX is then unchanged)."
  (check-type ctx tls-context)
  (let ((file (file-argument path)))
    (shim-call 'tls-load-cert-file
               (%eps-tls-context-use-certificate-file
                (context-handle ctx 'tls-load-cert-file) file)))
  ctx)

(defun tls-load-key-file (ctx path)
  "Load the unencrypted private key from the PEM file PATH into the TLS
context CTX.  If a certificate is loaded already, the key must match it.
Returns CTX.  Signals a TLS-ERROR: +EBADPEM+ when the file is missing,
encrypted or holds no key, +EKEYMISMATCH+ when it does not match the
certificate (CTX is then unchanged)."
  (check-type ctx tls-context)
  (let ((file (file-argument path)))
    (shim-call 'tls-load-key-file
               (%eps-tls-context-use-private-key-file
                (context-handle ctx 'tls-load-key-file) file)))
  ctx)

(defun tls-load-chain-file (ctx path)
  "Load the intermediate CA certificates sent after the leaf from the PEM
file PATH (the issuer of the leaf first) into the TLS context CTX, replacing
those that came with the certificate file; load the certificate first.
Returns CTX.  Signals a TLS-ERROR: +EBADPEM+ when the file is missing, holds
no certificate or its first one did not issue the leaf, +EINVAL+ when no
certificate is loaded yet."
  (check-type ctx tls-context)
  (let ((file (file-argument path)))
    (shim-call 'tls-load-chain-file
               (%eps-tls-context-use-chain-file
                (context-handle ctx 'tls-load-chain-file) file)))
  ctx)
