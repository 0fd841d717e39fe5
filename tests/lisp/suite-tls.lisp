;;;; SPDX-License-Identifier: MIT
;;;; suite-tls.lisp - epsilon.crypto against real peers on loopback: Lisp to
;;;; Lisp (blocking, and non-blocking in one edge-triggered epoll loop),
;;;; certificate refusals, versions, openssl and curl interop, concurrency,
;;;; volume, abrupt closes, bad input.  Every test checks that the handles
;;;; and descriptors it made are gone when it ends.

(in-package #:epsilon.linux.tests)

(def-suite tls :in epsilon-linux :description "epsilon.crypto: TLS over real sockets.")
(in-suite tls)

(defmacro tls-test (name &body body)
  "A test that also checks the library's handle and fd counts are back
where they were when it started."
  `(test ,name
     (let ((handles (epsilon.linux:open-handle-count))
           (fds (epsilon.linux:open-fd-count)))
       (cert-dir)
       ,@body
       (is (= handles (epsilon.linux:open-handle-count)) "handles leaked")
       (is (= fds (epsilon.linux:open-fd-count)) "descriptors leaked"))))

(defun server-ok (results)
  "True when every server result is not a condition."
  (notany (lambda (r) (typep r 'condition)) results))

;;; Lisp to Lisp, blocking

(tls-test handshake-and-echo-blocking
  (multiple-value-bind (reply results)
      (with-tls-server (port) #'echo-handler
        (with-tls-client (c port)
          (is (eq t (epsilon.crypto:tls-handshake c)))
          (is (eq t (epsilon.crypto:tls-handshake c)) "a second handshake is a no-op")
          (is (search "TLS-CONNECTION client" (prin1-to-string c)))
          (is (= 13 (epsilon.crypto:tls-send c "héllo wörld")))
          (is (= 3 (epsilon.crypto:tls-send c (octets "xyzw") :start 1)))
          (is (= 0 (epsilon.crypto:tls-send c "")))
          (let ((got (make-array 0 :element-type '(unsigned-byte 8) :adjustable t
                                   :fill-pointer 0)))
            (loop while (< (length got) 16)
                  do (loop for b across (epsilon.crypto:tls-recv c 100)
                           do (vector-push-extend b got)))
            (is (zerop (epsilon.crypto:tls-pending c)))
            (is (eq t (epsilon.crypto:tls-shutdown c)))
            (is (equalp #() (epsilon.crypto:tls-recv c 100)) "empty after close_notify")
            (is (equalp #() (epsilon.crypto:tls-recv c 100)) "and again")
            (text (coerce got '(simple-array (unsigned-byte 8) (*)))))))
    (is (string= "héllo wörldyzw" reply))
    (is (equal '(16) results))))

(tls-test handshake-over-ipv6-with-bracketed-literal
  (multiple-value-bind (version results)
      (with-tls-server (port :host "::1") #'echo-handler
        (with-tls-client (c port :host "::1" :hostname "[::1]")
          (epsilon.crypto:tls-handshake c)
          (connection-version c)))
    (is (plusp version))
    (is (server-ok results))))

(tls-test recv-into-with-bounds-and-no-consing
  (multiple-value-bind (consed results)
      (with-tls-server (port) #'echo-handler
        (with-tls-client (c port)
          (epsilon.crypto:tls-handshake c)
          (let ((out (make-array 100 :element-type '(unsigned-byte 8) :initial-element 7))
                (in (make-array 200 :element-type '(unsigned-byte 8)))
                (consed 0))
            ;; Warm up once, then count the bytes consed by 1000 round trips (the
            ;; count is global and moves by allocation regions: a bound, not 0).
            (epsilon.crypto:tls-send c out)
            (epsilon.crypto:tls-recv-into c in :start 100 :end 200)
            (setf consed
                  (least-consing
                   (lambda ()
                     (let ((before (sb-ext:get-bytes-consed)))
                       (loop repeat 1000
                             do (epsilon.crypto:tls-send c out :end 10)
                                (let ((got 0))
                                  (loop while (< got 10)
                                        do (incf got (epsilon.crypto:tls-recv-into
                                                      c in :end (- 10 got))))))
                       (values (- (sb-ext:get-bytes-consed) before) 0)))))
            (is (every (lambda (b) (= b 7)) (subseq in 0 10)))
            consed)))
    (is (< consed 70000) "~D bytes consed by 1000 send/receive round trips" consed)
    (is (server-ok results))))

;;; Lisp to Lisp, non-blocking, one edge-triggered epoll loop

(defconstant +et-message-size+ 40000)

(tls-test epoll-edge-triggered-both-sides-nonblocking
  (let ((invisible-pending 0) (received 0) (server-got nil) (rounds 0))
    (multiple-value-bind (listener port) (make-listener)
      (with-fd (listener listener)
        (with-fd (cfd (connect-to port :nonblocking t))
          (with-fd (sfd (accept-one listener :nonblocking t))
            (with-fd (epfd (ok (epsilon.linux.bindings:%eps-epoll-create 0)))
              (epsilon.crypto:with-tls-context (sctx :role :server :cert-file (cert "server.pem")
                                                     :key-file (cert "server.key"))
                (epsilon.crypto:with-tls-context (cctx :ca-file (cert "ca.pem"))
                  (epsilon.crypto:with-tls-connection (server sctx sfd)
                    (epsilon.crypto:with-tls-connection (client cctx cfd :hostname "localhost")
                      (let* ((mask (logior epsilon.linux.bindings:+epollin+
                                           epsilon.linux.bindings:+epollout+
                                           epsilon.linux.bindings:+epollet+))
                             (events (make-array 4 :element-type '(unsigned-byte 32)))
                             (data (make-array 4 :element-type '(unsigned-byte 64)))
                             (message (let ((m (make-array +et-message-size+
                                                           :element-type '(unsigned-byte 8))))
                                        (dotimes (i +et-message-size+ m)
                                          (setf (aref m i) (mod i 251)))))
                             (buf (make-array 1000 :element-type '(unsigned-byte 8)))
                             (sbuf (make-array 100 :element-type '(unsigned-byte 8)))
                             (client-hs nil) (server-hs nil) (sent 0) (ack-sent nil)
                             (bad-byte nil))
                        (ok (epsilon.linux.bindings:%eps-epoll-ctl
                             epfd epsilon.linux.bindings:+epoll-ctl-add+ cfd mask 0))
                        (ok (epsilon.linux.bindings:%eps-epoll-ctl
                             epfd epsilon.linux.bindings:+epoll-ctl-add+ sfd mask 1))
                        (labels ((client-step ()
                                   (unless client-hs
                                     (setf client-hs (epsilon.crypto:tls-handshake client)))
                                   (when client-hs
                                     (loop for n = (epsilon.crypto:tls-recv-into client buf)
                                           while (and n (plusp n))
                                           do (loop for i below n
                                                    unless (= (aref buf i)
                                                              (mod (+ received i) 251))
                                                      do (setf bad-byte (+ received i)))
                                              (incf received n)
                                              ;; Decrypted bytes left in OpenSSL that
                                              ;; epoll would never announce.
                                              (when (and (plusp (epsilon.crypto:tls-pending client))
                                                         (zerop (epsilon.linux.bindings:%eps-fd-poll
                                                                 cfd epsilon.linux.bindings:+pollin+ 0)))
                                                (incf invisible-pending)))
                                     (when (and (= received +et-message-size+) (not ack-sent))
                                       (setf ack-sent (epsilon.crypto:tls-send client "thanks")))))
                                 (server-step ()
                                   (unless server-hs
                                     (setf server-hs (epsilon.crypto:tls-handshake server)))
                                   (when server-hs
                                     (loop while (< sent +et-message-size+)
                                           do (let ((n (epsilon.crypto:tls-send
                                                        server message :start sent)))
                                                (if n (incf sent n) (return))))
                                     (let ((n (epsilon.crypto:tls-recv-into server sbuf)))
                                       (when (and n (plusp n))
                                         (setf server-got (text (subseq sbuf 0 n))))))))
                          ;; Nothing can be read before the handshake: NIL.
                          (is (null (epsilon.crypto:tls-recv server 10)))
                          ;; The ClientHello goes out; then it waits to read.
                          (is (equal '(nil :read)
                                     (multiple-value-list (epsilon.crypto:tls-handshake client))))
                          (client-step)
                          (server-step)
                          (loop until (or server-got (> rounds 10000))
                                do (incf rounds)
                                   (let ((n (epsilon.linux.bindings:%eps-epoll-wait
                                             epfd events data 4 5000)))
                                     (when (zerop n) (return))
                                     (dotimes (i (max n 0))
                                       (if (zerop (aref data i)) (client-step) (server-step)))))
                          (is (eq t client-hs))
                          (is (eq t server-hs))
                          (is (null bad-byte)))))))))))))
    (is (= +et-message-size+ received))
    (is (equal "thanks" server-got))
    (is (plusp invisible-pending) "no read left data in the TLS buffer")
    (is (< rounds 10000))))

;;; Certificates the client refuses by default

(defun refused (cert &key (hostname "localhost") (ca "ca.pem"))
  "Connect a default (verifying) client to a server using CERT; return the
client's condition and the server's results."
  (with-tls-server (port :cert cert) (lambda (conn) conn)
    (handler-case
        (with-tls-client (c port :hostname hostname :ca-file (cert ca))
          (epsilon.crypto:tls-handshake c)
          :connected)
      (epsilon.crypto:tls-error (e) e))))

(tls-test client-refuses-self-signed
  (let ((e (refused "selfsigned")))
    (is (typep e 'epsilon.crypto:tls-verification-error))
    (is (not (typep e 'epsilon.crypto:tls-hostname-mismatch)))
    (is (eql epsilon.crypto:+ecertverify+ (epsilon.crypto:tls-error-code e)))
    (is (search "self-signed" (epsilon.crypto:epsilon-error-detail e)) "~A" e)))

(tls-test client-refuses-expired
  (let ((e (refused "expired")))
    (is (typep e 'epsilon.crypto:tls-verification-error))
    (is (search "expired" (epsilon.crypto:epsilon-error-detail e)) "~A" e)))

(tls-test client-refuses-unknown-ca
  (let ((e (refused "server" :ca "ca2.pem")))
    (is (typep e 'epsilon.crypto:tls-verification-error))
    (is (search "local issuer" (epsilon.crypto:epsilon-error-detail e)) "~A" e)))

(tls-test client-refuses-wrong-name
  (let ((e (refused "other")))
    (is (typep e 'epsilon.crypto:tls-hostname-mismatch))
    (is (eql epsilon.crypto:+ehostmismatch+ (epsilon.crypto:tls-error-code e)))
    (is (search "mismatch" (epsilon.crypto:epsilon-error-detail e)) "~A" e))
  (let ((e (refused "server" :hostname "127.0.0.2")))
    (is (typep e 'epsilon.crypto:tls-hostname-mismatch) "an IP literal is checked too")))

(tls-test verify-nil-connects-to-self-signed
  (multiple-value-bind (reply results)
      (with-tls-server (port :cert "selfsigned") #'echo-handler
        (with-tls-client (c port :verify nil :hostname nil)
          (epsilon.crypto:tls-send c "ping")
          (text (epsilon.crypto:tls-recv c 10))))
    (is (equal "ping" reply))
    (is (server-ok results))))

(tls-test verifying-client-needs-a-hostname
  (with-stream-pair (a b)
    (epsilon.crypto:with-tls-context (ctx :ca-file (cert "ca.pem"))
      (let ((e (handler-case (epsilon.crypto:make-tls-connection ctx a)
                 (epsilon.crypto:tls-error (e) e))))
        (is (typep e 'epsilon.crypto:tls-error))
        (is (eq :einval (epsilon.crypto:epsilon-error-name e)))
        (is (search ":hostname" (epsilon.crypto:epsilon-error-detail e)))
        (is (search ":verify nil" (epsilon.crypto:epsilon-error-detail e)))))
    ;; A server context takes no hostname (:verify t on a server asks for
    ;; client certificates: mutual TLS, part 2).
    (epsilon.crypto:with-tls-context (ctx :role :server)
      (signals epsilon.crypto:tls-error
        (epsilon.crypto:make-tls-connection ctx a :hostname "localhost"))
      (signals epsilon.crypto:tls-error
        (epsilon.crypto:make-tls-connection ctx a :role :client)))))

;;; Protocol versions

(tls-test tls-1.2-and-1.3-negotiated-when-forced
  (flet ((version (&rest keys)
           (with-tls-server (port) #'echo-handler
             (with-tls-client (c port :method (getf keys :method :tls)
                                      :max-version (getf keys :max-version))
               (epsilon.crypto:tls-handshake c)
               (connection-version c)))))
    (is (= epsilon.linux.bindings:+tls-version-1-2+ (version :max-version :tls-v1.2)))
    (is (= epsilon.linux.bindings:+tls-version-1-3+ (version :method :tls-v1.3)))
    (is (= epsilon.linux.bindings:+tls-version-1-3+ (version)) "the default is the newest")))

(tls-test client-capped-at-1.2-against-server-requiring-1.3-fails-cleanly
  (multiple-value-bind (e results)
      (with-tls-server (port :method :tls-v1.3) #'echo-handler
        (handler-case
            (with-tls-client (c port :max-version :tls-v1.2)
              (epsilon.crypto:tls-handshake c))
          (epsilon.crypto:tls-error (e) e)))
    (is (typep e 'epsilon.crypto:tls-handshake-error))
    (is (not (typep e 'epsilon.crypto:tls-verification-error)))
    (is (typep (first results) 'epsilon.crypto:tls-handshake-error))))

;;; Concurrency and volume

(defconstant +message-size+ 20000)
(defconstant +messages-per-thread+ 40)

(defun tls-message (id seq)
  (let ((m (make-array +message-size+ :element-type '(unsigned-byte 8) :initial-element id)))
    (setf (aref m 1) seq)
    m))

(defun collect-messages (conn)
  "Read whole messages until close_notify; return the list of (id seq) in
arrival order, or :interleaved when a message mixes two senders."
  (let ((buf (make-array +message-size+ :element-type '(unsigned-byte 8)))
        (out '()))
    (loop
      (let ((got 0))
        (loop while (< got +message-size+)
              do (let ((n (epsilon.crypto:tls-recv-into conn buf :start got)))
                   (when (zerop n)
                     (return-from collect-messages
                       (if (zerop got) (nreverse out) :truncated)))
                   (incf got n)))
        (let ((id (aref buf 0)))
          (unless (loop for i from 2 below +message-size+ always (= id (aref buf i)))
            (return-from collect-messages :interleaved))
          (push (list id (aref buf 1)) out))))))

(tls-test two-threads-sending-on-one-connection
  (multiple-value-bind (value results)
      (with-tls-server (port) #'collect-messages
        (with-tls-client (c port)
          (epsilon.crypto:tls-handshake c)
          (let ((threads (loop for id in '(65 66)
                               collect (let ((id id))
                                         (sb-thread:make-thread
                                          (lambda ()
                                            (dotimes (seq +messages-per-thread+ t)
                                              (epsilon.crypto:tls-send c (tls-message id seq))))
                                          :name "tls sender")))))
            (mapcar (lambda (th) (sb-thread:join-thread th :default nil :timeout 60))
                    threads))))
    (is (equal '(t t) value))
    (let ((messages (first results)))
      (is (listp messages) "server saw ~A" messages)
      (when (listp messages)
        (is (= (* 2 +messages-per-thread+) (length messages)))
        (dolist (id '(65 66))
          (is (equal (loop for i below +messages-per-thread+ collect i)
                     (mapcar #'second (remove id messages :key #'first :test-not #'=)))))))))

(declaim (inline pattern-byte))
(defun pattern-byte (p)
  (declare (type (unsigned-byte 40) p))
  (logand #xff (+ (* 7 (ash p -20)) (mod p 251))))

(defconstant +mib+ 1048576)

(tls-test echo-64-mib
  (multiple-value-bind (value results)
      (with-tls-server (port) #'echo-handler
        (with-tls-client (c port)
          (epsilon.crypto:tls-handshake c)
          (let ((sender (sb-thread:make-thread
                         (lambda ()
                           (let ((block (make-array +mib+ :element-type '(unsigned-byte 8))))
                             (dotimes (k 64)
                               (dotimes (i +mib+)
                                 (setf (aref block i) (pattern-byte (+ (* k +mib+) i))))
                               (epsilon.crypto:tls-send c block))
                             (epsilon.crypto:tls-shutdown c)))
                         :name "64 MiB sender"))
                (buf (make-array 65536 :element-type '(unsigned-byte 8)))
                (received 0)
                (mismatch nil))
            (declare (type fixnum received))
            (loop for n fixnum = (epsilon.crypto:tls-recv-into c buf)
                  until (zerop n)
                  do (unless mismatch
                       (dotimes (i n)
                         (unless (= (aref buf i) (pattern-byte (+ received i)))
                           (setf mismatch (+ received i))
                           (return))))
                     (incf received n))
            (sb-thread:join-thread sender :default nil :timeout 60)
            (list received mismatch))))
    (is (equal (list (* 64 +mib+) nil) value))
    (is (equal (list (* 64 +mib+)) results))))

;;; Closes and failures

(tls-test peer-closing-without-close-notify-is-unexpected-eof
  (multiple-value-bind (e results)
      (with-tls-server (port)
          (lambda (conn)
            (epsilon.linux.bindings:%eps-shutdown (epsilon.crypto:tls-connection-fd conn)
                                                  epsilon.linux.bindings:+shut-rdwr+)
            t)
        (with-tls-client (c port)
          (epsilon.crypto:tls-handshake c)
          (handler-case (epsilon.crypto:tls-recv c 100)
            (epsilon.crypto:tls-error (e) e))))
    (is (typep e 'epsilon.crypto:tls-unexpected-eof))
    (is (equal '(t) results))))

(tls-test garbage-fails-the-handshake-and-the-server-goes-on
  (multiple-value-bind (reply results)
      (with-tls-server (port :clients 2) #'echo-handler
        (with-fd (fd (connect-to port))
          (raw-send fd (octets (format nil "GET / HTTP/1.0~%~%this is not TLS at all~%")))
          (epsilon.linux.bindings:%eps-fd-poll fd epsilon.linux.bindings:+pollin+ 5000))
        (with-tls-client (c port)
          (epsilon.crypto:tls-send c "still serving")
          (text (epsilon.crypto:tls-recv c 100))))
    (is (equal "still serving" reply))
    (is (typep (first results) 'epsilon.crypto:tls-handshake-error) "~S" (first results))
    (is (equal '(13) (rest results)))))

(tls-test handshake-timeout-and-interrupt
  (multiple-value-bind (listener port) (make-listener)
    (with-fd (listener listener)
      ;; Nobody accepts: the kernel completes the TCP connection, no TLS answers.
      (with-tls-client (c port)
        (let ((start (get-internal-real-time)))
          (signals epsilon.crypto:tls-timeout
            (epsilon.crypto:tls-handshake c :timeout 0.3))
          (is (< (- (get-internal-real-time) start) (* 5 internal-time-units-per-second)))))
      (with-tls-client (c port :timeout 0.2)
        (signals epsilon.crypto:tls-timeout (epsilon.crypto:tls-recv c 10)))
      (with-tls-client (c port)
        (is (eq :interrupted
                (handler-case (sb-ext:with-timeout 0.3 (epsilon.crypto:tls-handshake c))
                  (sb-ext:timeout () :interrupted))))
        (signals epsilon.crypto:tls-timeout
          (epsilon.crypto:tls-handshake c :timeout 0.1)))
      ;; Waiting for another thread's lock is bounded by :timeout too.
      (with-tls-client (c port)
        (let ((holder (sb-thread:make-thread
                       (lambda ()
                         (handler-case (sb-ext:with-timeout 2 (epsilon.crypto:tls-handshake c))
                           (sb-ext:timeout () :interrupted)))
                       :name "lock holder")))
          (loop repeat 1000
                until (sb-thread:mutex-owner (epsilon.crypto::tls-connection-read-lock c))
                do (sleep 0.001))
          (let ((start (get-internal-real-time)))
            (signals epsilon.crypto:tls-timeout (epsilon.crypto:tls-recv c 10 :timeout 0.2))
            (is (< (- (get-internal-real-time) start) internal-time-units-per-second)))
          (is (eq :interrupted (sb-thread:join-thread holder :default nil :timeout 30))))))))

(tls-test leaving-with-tls-connection-never-signals
  ;; The peer is gone when the cleanup tries close_notify.
  (multiple-value-bind (value results)
      (with-tls-server (port) (lambda (conn) (declare (ignore conn)) t)
        (with-tls-client (c port)
          (epsilon.crypto:tls-handshake c)
          (epsilon.crypto:tls-recv c 10)
          :left))
    (is (eq :left value))
    (is (equal '(t) results)))
  ;; Before any handshake: nothing is sent, the connection is freed.
  (with-stream-pair (a b)
    (let ((before (epsilon.linux:open-handle-count)))
      (epsilon.crypto:with-tls-context (ctx :verify nil)
        (epsilon.crypto:with-tls-connection (c ctx a)
          (is (= (+ 2 before) (epsilon.linux:open-handle-count)))))
      (is (= before (epsilon.linux:open-handle-count)))
      ;; The fd is still open and usable.
      (is (= 0 (epsilon.linux.bindings:%eps-fd-poll b epsilon.linux.bindings:+pollin+ 0))))))

;;; Bad input

(tls-test bad-pem-files-and-mismatched-keys
  (flet ((code-of (thunk)
           (handler-case (progn (funcall thunk) :no-error)
             (epsilon.crypto:tls-error (e) (epsilon.crypto:epsilon-error-name e)))))
    (is (eq :ebadpem (code-of (lambda () (epsilon.crypto:make-tls-context
                                          :role :server :cert-file "/nonexistent/x.pem")))))
    (is (eq :ebadpem (code-of (lambda () (epsilon.crypto:make-tls-context
                                          :role :server :cert-file (cert "garbage.pem"))))))
    (is (eq :ebadpem (code-of (lambda () (epsilon.crypto:make-tls-context
                                          :role :server :key-file (cert "garbage.pem"))))))
    (is (eq :ebadpem (code-of (lambda () (epsilon.crypto:make-tls-context
                                          :ca-file (cert "garbage.pem"))))))
    (is (eq :ekeymismatch (code-of (lambda () (epsilon.crypto:make-tls-context
                                               :role :server :cert-file (cert "server.pem")
                                               :key-file (cert "wrong.key"))))))
    (epsilon.crypto:with-tls-context (ctx :role :server)
      (is (eq ctx (epsilon.crypto:tls-load-key-file ctx (cert "server.key"))))
      (is (eq :ekeymismatch (code-of (lambda () (epsilon.crypto:load-cert-file
                                                 ctx (cert "other.pem"))))))
      (is (eq ctx (epsilon.crypto:load-cert-file ctx (cert "server.pem"))))
      (is (eq ctx (epsilon.crypto:load-key-file ctx (pathname (cert "server.key"))))))
    (is (eq :etls (code-of (lambda () (epsilon.crypto:make-tls-context
                                       :ciphers "NO-SUCH-CIPHER")))))))

(tls-test freed-objects-and-wrong-types
  (with-stream-pair (a b)
    (let ((ctx (epsilon.crypto:make-tls-context :verify nil)))
      (let ((conn (epsilon.crypto:make-tls-connection ctx a)))
        (is (null (epsilon.crypto:tls-connection-free conn)))
        (is (null (epsilon.crypto:tls-connection-free conn)) "free is idempotent")
        (is (search "freed" (prin1-to-string conn)))
        (dolist (thunk (list (lambda () (epsilon.crypto:tls-send conn "x"))
                             (lambda () (epsilon.crypto:tls-recv conn 10))
                             (lambda () (epsilon.crypto:tls-handshake conn))
                             (lambda () (epsilon.crypto:tls-pending conn))
                             (lambda () (epsilon.crypto:tls-shutdown conn))))
          (let ((e (handler-case (funcall thunk) (epsilon.crypto:tls-error (e) e))))
            (is (typep e 'epsilon.crypto:tls-error))
            (is (eql epsilon.crypto:+ebadhandle+ (epsilon.crypto:tls-error-code e)))
            (is (search "freed" (princ-to-string e)))))
        (is (null (epsilon.crypto:tls-close conn))))
      (epsilon.crypto:tls-context-free ctx)
      (epsilon.crypto:tls-context-free ctx)
      (is (search "freed" (prin1-to-string ctx)))
      (let ((e (handler-case (epsilon.crypto:make-tls-connection ctx a)
                 (epsilon.crypto:tls-error (e) e))))
        (is (eql epsilon.crypto:+ebadhandle+ (epsilon.crypto:tls-error-code e)))
        (is (search "context was freed" (princ-to-string e))))
      (signals epsilon.crypto:tls-error (epsilon.crypto:tls-load-cert-file ctx (cert "server.pem")))
      ;; A context where a connection is expected, and the reverse.
      (signals type-error (epsilon.crypto:tls-send ctx "x"))
      (signals type-error (epsilon.crypto:tls-recv ctx 10))
      (signals type-error (epsilon.crypto:tls-handshake ctx))
      (signals type-error (epsilon.crypto:tls-context-free a))
      (signals type-error (epsilon.crypto:make-tls-connection a ctx)))))

(tls-test sizes-and-arguments-are-type-checked
  (with-stream-pair (a b)
    (epsilon.crypto:with-tls-context (ctx :verify nil)
      (epsilon.crypto:with-tls-connection (c ctx a)
        (signals type-error (epsilon.crypto:tls-recv c -1))
        (signals type-error (epsilon.crypto:tls-recv c (expt 2 31)))
        (signals type-error (epsilon.crypto:tls-recv c "10"))
        (signals type-error (epsilon.crypto:tls-recv-into c (make-array 10)))
        (signals type-error (epsilon.crypto:tls-recv-into
                             c (make-array 10 :element-type '(unsigned-byte 8)) :end 11))
        (signals type-error (epsilon.crypto:tls-recv-into
                             c (make-array 10 :element-type '(unsigned-byte 8)) :start 5 :end 4))
        (signals type-error (epsilon.crypto:tls-send c "abc" :end 4))
        (signals type-error (epsilon.crypto:tls-send c "abc" :start -1))
        (signals type-error (epsilon.crypto:tls-send c 42))
        (signals type-error (epsilon.crypto:tls-send c (vector 1 2 3)))
        (signals type-error (epsilon.crypto:tls-handshake c :timeout -1))
        (is (equalp #() (epsilon.crypto:tls-recv c 0)))
        (is (= 0 (epsilon.crypto:tls-recv-into
                  c (make-array 10 :element-type '(unsigned-byte 8)) :start 3 :end 3)))))
    (signals type-error (epsilon.crypto:make-tls-context :method :ssl-v3))
    (signals type-error (epsilon.crypto:make-tls-context :role :peer))
    (signals type-error (epsilon.crypto:make-tls-context :ca-file 42))
    (epsilon.crypto:with-tls-context (ctx :verify nil)
      (signals type-error (epsilon.crypto:make-tls-connection ctx -1)))))

(tls-test aliases-connect-accept-read-write-close
  (multiple-value-bind (reply results)
      (multiple-value-bind (listener port) (make-listener)
        (with-fd (listener listener)
          (epsilon.crypto:with-tls-context (sctx :role :server :cert-file (cert "server.pem")
                                                 :key-file (cert "server.key"))
            (with-thread (server
                          (with-fd (fd (accept-one listener))
                            ;; The original epsilon's order: socket first.
                            (let ((conn (epsilon.crypto:tls-accept fd sctx :timeout 30))
                                  (buf (make-array 100 :element-type '(unsigned-byte 8))))
                              (unwind-protect
                                   (let ((n (epsilon.crypto:tls-read conn buf)))
                                     (epsilon.crypto:tls-write conn buf :end n)
                                     (list (text (subseq buf 0 n))))
                                (epsilon.crypto:tls-close conn)))))
              (values
               (with-fd (fd (connect-to port))
                 (epsilon.crypto:with-tls-context (ctx :ca-file (cert "ca.pem"))
                   (let ((conn (epsilon.crypto:tls-connect ctx fd :hostname "localhost"
                                                                  :timeout 30)))
                     (unwind-protect
                          (progn (epsilon.crypto:tls-write conn "alias")
                                 (text (epsilon.crypto:tls-read conn 100)))
                       (epsilon.crypto:tls-close conn)))))
               (join-result server))))))
    (is (equal "alias" reply))
    (is (equal '("alias") results)))
  (signals type-error (epsilon.crypto:tls-connect 3 4 :hostname "x")))

(tls-test child-with-default-sigpipe-survives-writing-to-a-closed-peer
  (let* ((asd (namestring (asdf:system-source-file "epsilon.linux")))
         (foreign (namestring (asdf:system-source-file "epsilon.foreign")))
         (out (with-output-to-string (s)
                (sb-ext:run-program
                 "/usr/bin/timeout"
                 (list "120" "sbcl" "--noinform" "--non-interactive" "--no-userinit"
                       "--eval" "(require :asdf)"
                       ;; Where the systems are: epsilon.linux needs those beside it.
                       "--eval" (format nil "(asdf:initialize-source-registry '(:source-registry (:directory ~S) (:directory ~S) :inherit-configuration))"
                                       (directory-namestring foreign) (directory-namestring asd))
                       "--eval" "(handler-bind ((warning #'muffle-warning)) (asdf:load-system \"epsilon.linux/tests\"))"
                       "--eval" "(sb-sys:enable-interrupt sb-unix:sigpipe :default)"
                       "--eval" "(epsilon.linux.tests::sigpipe-child-body)")
                 :search nil :output s :error nil))))
    (is (search "SURVIVED E" out) "child said ~S" out)))

(test crypto-exports-are-documented
  (let ((undocumented '()))
    (do-external-symbols (s :epsilon.crypto)
      (when (and (eq (symbol-package s) (find-package :epsilon.crypto))
                 (not (or (documentation s 'function) (documentation s 'type))))
        (push s undocumented)))
    (is (null undocumented) "no docstring: ~S" undocumented))
  ;; The documented lambda lists.
  (flet ((lambda-list (name)
           (format nil "~(~{~A~^ ~}~)"
                   (mapcar (lambda (x) (if (consp x) (car x) x))
                           (sb-kernel:%fun-lambda-list (fdefinition name))))))
    (is (equal "ctx fd &key hostname role timeout"
               (lambda-list 'epsilon.crypto:make-tls-connection)))
    (is (equal "conn size &key timeout" (lambda-list 'epsilon.crypto:tls-recv)))
    (is (equal "conn data &key start end timeout" (lambda-list 'epsilon.crypto:tls-send)))
    (is (equal "conn buffer &key start end timeout" (lambda-list 'epsilon.crypto:tls-recv-into)))
    (is (equal "conn &key timeout" (lambda-list 'epsilon.crypto:tls-handshake)))
    (is (equal "ctx path" (lambda-list 'epsilon.crypto:tls-load-cert-file)))
    (is (equal "ctx path" (lambda-list 'epsilon.crypto:tls-load-key-file)))))

(tls-test context-freed-before-its-connection
  (multiple-value-bind (reply results)
      (with-tls-server (port) #'echo-handler
        (with-fd (fd (connect-to port))
          (let* ((ctx (epsilon.crypto:make-tls-context :ca-file (cert "ca.pem")))
                 (conn (epsilon.crypto:make-tls-connection ctx fd :hostname "localhost"
                                                                  :timeout 30)))
            (epsilon.crypto:tls-context-free ctx)
            (unwind-protect
                 (progn (epsilon.crypto:tls-send conn "still works")
                        (prog1 (text (epsilon.crypto:tls-recv conn 100))
                          (finish-tls conn)))
              (epsilon.crypto:tls-close conn)))))
    (is (equal "still works" reply))
    (is (equal '(11) results))))
