;;;; SPDX-License-Identifier: MIT
;;;; session.lisp - TLS sessions: taken from a client connection, offered to
;;;; a later one to resume without a full handshake; serialized to octets.

(in-package #:epsilon.crypto)

(defstruct (tls-session (:constructor %make-tls-session
                            (handle &aux (epoch (epsilon.foreign:image-epoch))))
                        (:copier nil))
  "A resumable TLS session (its secrets included), taken from a client
connection with TLS-SESSION and offered to a later connection to the same
server with the :SESSION option of MAKE-TLS-CONNECTION.  One session can be
offered many times.  Free it with TLS-SESSION-FREE (idempotent; a finalizer
frees a forgotten one).  Keep it as secret as a private key."
  (handle 0 :type sb-ext:word)
  ;; The image epoch it was made in: its handle means nothing in another.
  (epoch 0 :type fixnum :read-only t))

(setf (documentation 'tls-session-p 'function)
      "True when OBJECT is a TLS-SESSION (freed or not).")

(defmethod print-object ((session tls-session) stream)
  (print-unreadable-object (session stream :type t :identity t)
    (format stream "~:[freed~;live~]" (plusp (tls-session-handle session)))))

(defun wrap-session (h)
  "A TLS-SESSION owning the session handle H, with its finalizer.  Call it
with interrupts deferred, in the section that made H: an interrupt pending
from the C call runs as that section ends, and a throw from it before the
finalizer existed would lose H for good."
  (let ((session (%make-tls-session h)))
    (sb-ext:finalize session (lambda () (with-shim (%eps-tls-session-free h))) :dont-save t)
    session))

(defun session-handle (session operation)
  "SESSION's handle, or a TLS-ERROR for OPERATION when it was freed (or
made before the image was saved)."
  (let ((h (tls-session-handle session)))
    (cond ((not (epsilon.foreign:current-epoch-p (tls-session-epoch session)))
           (saved-error "session" operation))
          ((plusp h) h)
          (t (freed-error "session" operation)))))

(defun check-session-argument (session)
  "Check the :SESSION option of MAKE-TLS-CONNECTION (before anything is made)."
  (check-type session (or null tls-session))
  (when session (session-handle session 'make-tls-connection))
  session)

(defun offer-session (conn session)
  "Offer SESSION on the new client connection CONN, before its handshake."
  (unless (eq (tls-connection-role conn) :client)
    (tls-usage-error 'make-tls-connection "only a client connection takes a :session"))
  (let ((r (with-shim (%eps-tls-connection-set-session
                       (tls-connection-handle conn)
                       (session-handle session 'make-tls-connection)))))
    (when (minusp r)
      (tls-fail conn r 'make-tls-connection))))

(defun tls-session (conn)
  "The resumable session of the client connection CONN, as a new
TLS-SESSION (free it with TLS-SESSION-FREE), or NIL when there is none yet.
Under TLS 1.2 it exists once the handshake has completed.  Under TLS 1.3 the
server sends it (a ticket) after the handshake, and it exists only after a
read on CONN processed that ticket: take it after the first TLS-RECV (or
stream read) that returned data from the server, or after a read that
returned NIL on a non-blocking fd.  NIL also when the server issues no
session (tickets and cache off).  Each call returns the newest session.
Signals a TLS-ERROR: +EINVAL+ on a server connection, +ETLSCLOSED+ after a
failed connection, +EBADHANDLE+ when CONN was freed."
  (check-type conn tls-connection)
  (let* ((h (tls-connection-handle conn))
         (r (with-shim (let ((r (%eps-tls-connection-get-session h)))
                         (if (plusp r) (wrap-session r) r)))))
    (cond ((tls-session-p r) r)
          ((= r (- +eagain+)) nil)
          (t (tls-fail conn r 'tls-session)))))

(defun tls-session-reused-p (conn)
  "True when the completed handshake of CONN resumed a session (offered with
the :SESSION option of MAKE-TLS-CONNECTION); NIL after a full handshake or
before the handshake completed.  A session the server no longer knows is
not an error: the handshake is then a full one, and this says so.  Signals
a TLS-ERROR (+EBADHANDLE+) when CONN was freed."
  (check-type conn tls-connection)
  (let ((r (with-shim (%eps-tls-connection-session-reused (tls-connection-handle conn)))))
    (if (minusp r)
        (tls-fail conn r 'tls-session-reused-p)
        (= r 1))))

(defun tls-session-free (session)
  "Free the TLS session SESSION.  Connections it was offered to are not
affected.  Idempotent: later calls do nothing.  Returns NIL."
  (check-type session tls-session)
  (free-handle-once (h (tls-session-handle session) (tls-session-epoch session) session)
    (%eps-tls-session-free h)))

(defun tls-session-to-octets (session)
  "SESSION serialized (DER, OpenSSL's format) as a fresh octet vector, to
resume from another process later with OCTETS-TO-TLS-SESSION.  The octets
hold the session's secret keys: store them as secretly as a private key.
Signals a TLS-ERROR (+EBADHANDLE+ when SESSION was freed)."
  (check-type session tls-session)
  (loop repeat 4
        do (let* ((h (session-handle session 'tls-session-to-octets))
                  (n (shim-call 'tls-session-to-octets (%eps-tls-session-to-bytes h nil 0)))
                  (buf (make-array n :element-type '(unsigned-byte 8)))
                  (r (with-shim (%eps-tls-session-to-bytes h buf n))))
             (cond ((= r n) (return-from tls-session-to-octets buf))
                   ((>= r 0) (return-from tls-session-to-octets (subseq buf 0 r)))
                   ((/= r (- +ebuftoosmall+))
                    (signal-epsilon-error r 'tls-session-to-octets 'tls-error)))))
  (error 'tls-error :code +ebuftoosmall+ :operation 'tls-session-to-octets))

(defun octets-to-tls-session (octets)
  "A new TLS-SESSION from OCTETS, a vector of octets written by
TLS-SESSION-TO-OCTETS (free it with TLS-SESSION-FREE).  Signals a TYPE-ERROR
for anything but an octet vector of 1 byte to 1 MiB, a TLS-ERROR (+EINVAL+)
when the octets are not exactly one session."
  (check-type octets (vector (unsigned-byte 8)))
  (unless (<= 1 (length octets) (* 1024 1024))
    (error 'type-error :datum (length octets) :expected-type `(integer 1 ,(* 1024 1024))))
  (let ((octets (coerce octets '(simple-array (unsigned-byte 8) (*)))))
    (let ((r (with-shim (let ((r (%eps-tls-session-from-bytes octets (length octets))))
                          (if (minusp r) r (wrap-session r))))))
      (if (integerp r)
          (signal-epsilon-error r 'octets-to-tls-session 'tls-error)
          r))))
