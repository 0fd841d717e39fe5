;;;; suite-tls2.lisp - epsilon.crypto part 2 on loopback: ALPN, SNI, mutual
;;;; TLS, session resumption, connection information, the key log, TLS
;;;; streams, and bad input for every new function.  Interop with openssl
;;;; and curl is in suite-tls2-interop.lisp.

(in-package #:epsilon.linux.tests)

(eval-when (:compile-toplevel :load-toplevel :execute)
  (require :sb-posix)
  (require :sb-introspect))

(def-suite tls2 :in epsilon-linux
  :description "epsilon.crypto part 2: ALPN, SNI, mTLS, sessions, information, streams.")
(in-suite tls2)

;;; Helpers

(defun call-with-server (server-options handler client &key (clients 1))
  "Listen on 127.0.0.1 port 0 with a server context made from
SERVER-OPTIONS (plus :ROLE :SERVER); in a thread, accept CLIENTS
connections one after the other, run the handshake of each and call
HANDLER with it.  Call CLIENT with the port meanwhile.  Returns CLIENT's
value and the list of the server's results (values or conditions)."
  (multiple-value-bind (listener port) (make-listener)
    (unwind-protect
         (let ((ctx (apply #'epsilon.crypto:make-tls-context :role :server server-options)))
           (unwind-protect
                (let (value results)
                  (with-thread (server
                                (loop repeat clients
                                      collect (handler-case
                                                  (with-fd (fd (accept-one listener))
                                                    (epsilon.crypto:with-tls-connection
                                                        (conn ctx fd :timeout 30)
                                                      (epsilon.crypto:tls-handshake conn)
                                                      (funcall handler conn)))
                                                (error (e) e))))
                    (setf value (funcall client port)
                          results (join-result server)))
                  (values value results))
             (epsilon.crypto:tls-context-free ctx)))
      (close-fd listener))))

(defmacro with-server ((port &rest server-options) (&key (clients 1)) handler &body body)
  `(call-with-server (list ,@server-options) ,handler (lambda (,port) ,@body)
                     :clients ,clients))

(defun server-options (&rest more)
  (list* :cert-file (cert "server.pem") :key-file (cert "server.key") more))

(defun call-client (port function &key (hostname "localhost") session
                                     (options (list :ca-file (cert "ca.pem"))))
  "Connect a Lisp TLS client (context from OPTIONS) to PORT and call
FUNCTION with the connection (not yet handshaken); close it cleanly."
  (with-fd (fd (connect-to port))
    (let ((ctx (apply #'epsilon.crypto:make-tls-context options)))
      (unwind-protect
           (epsilon.crypto:with-tls-connection (c ctx fd :hostname hostname :timeout 30
                                                         :session session)
             (multiple-value-prog1 (funcall function c)
               (finish-tls c)))
        (epsilon.crypto:tls-context-free ctx)))))

(defun wait-close-handler (result-function)
  "A server handler: compute RESULT-FUNCTION's value on the connection,
send a byte (so that a TLS 1.3 client receives its ticket with it), then
read until the client's close_notify and return the value."
  (lambda (conn)
    (let ((value (funcall result-function conn)))
      (epsilon.crypto:tls-send conn "!")
      (loop repeat 1000
            until (zerop (length (epsilon.crypto:tls-recv conn 1024))))
      value)))

(defun read-bang (c)
  "Run the handshake of the client C and read the server's byte."
  (epsilon.crypto:tls-handshake c)
  (text (epsilon.crypto:tls-recv c 10)))

(defun openssl-field (file option prefix)
  "What `openssl x509 -noout OPTION -in FILE` prints after PREFIX."
  (let* ((out (run-command "openssl" (append (list "x509" "-noout")
                                            (if (listp option) option (list option))
                                            (list "-in" file))))
         (p (search prefix out)))
    (string-right-trim '(#\Newline #\Return) (subseq out (+ p (length prefix))))))

(defun fingerprint-of (name)
  (openssl-field (cert name) '("-fingerprint" "-sha256") "Fingerprint="))

;;; ALPN

(tls-test alpn-server-preference-wins
  (dolist (case '((("h2" "http/1.1") ("http/1.1" "h2") "h2")
                  (("http/1.1" "h2") ("h2" "http/1.1") "http/1.1")
                  (("h2") ("x" "h2") "h2")))
    (destructuring-bind (server-list client-list expected) case
      (multiple-value-bind (client results)
          (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                             :alpn server-list)
              ()
              (wait-close-handler #'epsilon.crypto:tls-alpn-protocol)
            (call-client port (lambda (c) (read-bang c) (epsilon.crypto:tls-alpn-protocol c))
                         :options (list :ca-file (cert "ca.pem") :alpn client-list)))
        (is (equal expected client))
        (is (equal (list expected) results))))))

(tls-test alpn-absent-on-one-side-is-no-protocol
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
          (wait-close-handler #'epsilon.crypto:tls-alpn-protocol)
        (call-client port (lambda (c) (read-bang c) (epsilon.crypto:tls-alpn-protocol c))
                     :options (list :ca-file (cert "ca.pem") :alpn '("h2"))))
    (is (null client))
    (is (equal '(nil) results))))

(tls-test alpn-no-overlap-fails-by-default
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :alpn '("h2"))
          ()
          #'epsilon.crypto:tls-alpn-protocol
        (call-client port (lambda (c)
                            (handler-case (progn (epsilon.crypto:tls-handshake c) :connected)
                              (epsilon.crypto:tls-handshake-error () :refused)))
                     :options (list :ca-file (cert "ca.pem") :alpn '("spdy/3"))))
    (is (eq :refused client))
    (is (typep (first results) 'epsilon.crypto:tls-handshake-error))))

(tls-test alpn-no-overlap-proceeds-when-asked
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :alpn '("h2") :alpn-mismatch :proceed)
          ()
          (wait-close-handler #'epsilon.crypto:tls-alpn-protocol)
        (call-client port (lambda (c) (list (read-bang c) (epsilon.crypto:tls-alpn-protocol c)))
                     :options (list :ca-file (cert "ca.pem") :alpn '("spdy/3"))))
    (is (equal '("!" nil) client))
    (is (equal '(nil) results))))

;;; SNI

(tls-test sni-picks-the-certificate-by-name
  (let ((server-fp (fingerprint-of "server.pem"))
        (alt-fp (fingerprint-of "alt.pem")))
    (multiple-value-bind (clients results)
        (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                           :sni-certificates (list (list (cert "alt.pem") (cert "alt.key"))))
            (:clients 4)
            (wait-close-handler #'epsilon.crypto:tls-server-name)
          (loop for name in '("localhost" "alt.localhost" "x.wild.localhost" "127.0.0.1")
                collect (call-client
                         port (lambda (c)
                                (read-bang c)
                                (list (epsilon.crypto:tls-server-name c)
                                      (epsilon.crypto:certificate-fingerprint
                                       (epsilon.crypto:tls-peer-certificate c))))
                         :hostname name)))
      (is (equal (list (list "localhost" server-fp)
                       (list "alt.localhost" alt-fp)
                       (list "x.wild.localhost" alt-fp)
                       (list nil server-fp))
                 clients))
      (is (equal '("localhost" "alt.localhost" "x.wild.localhost" nil) results)))))

(tls-test sni-explicit-name-and-no-main-certificate
  ;; No certificate of its own: a client whose name matches nothing gets
  ;; the first pair added.
  (let ((server-fp (fingerprint-of "server.pem"))
        (alt-fp (fingerprint-of "alt.pem")))
    (multiple-value-bind (clients results)
        (with-server (port :sni-certificates (list (list (cert "server.pem") (cert "server.key"))
                                                   (list (cert "alt.pem") (cert "alt.key")
                                                         :name "other.name")))
            (:clients 3)
            (wait-close-handler #'epsilon.crypto:tls-server-name)
          (loop for name in '("localhost" "other.name" "nothing.here")
                collect (call-client
                         port (lambda (c)
                                (read-bang c)
                                (epsilon.crypto:certificate-fingerprint
                                 (epsilon.crypto:tls-peer-certificate c)))
                         :hostname name
                         :options (list :verify nil))))
      (is (equal (list server-fp alt-fp server-fp) clients))
      (is (equal '("localhost" "other.name" "nothing.here") results)))))

(tls-test sni-function-adds-named-pairs
  (let ((server-fp (fingerprint-of "server.pem"))
        (alt-fp (fingerprint-of "alt.pem")))
    (multiple-value-bind (listener port) (make-listener)
      (unwind-protect
           (epsilon.crypto:with-tls-context (ctx :role :server)
             (epsilon.crypto:tls-context-add-certificate ctx (cert "server.pem") (cert "server.key"))
             (epsilon.crypto:tls-context-add-certificate ctx (cert "alt.pem") (cert "alt.key")
                                                         :name "other.name")
             (with-thread (server
                           (loop repeat 2
                                 collect (with-fd (fd (accept-one listener))
                                           (epsilon.crypto:with-tls-connection
                                               (conn ctx fd :timeout 30)
                                             (epsilon.crypto:tls-handshake conn)
                                             (funcall (wait-close-handler
                                                       #'epsilon.crypto:tls-server-name)
                                                      conn)))))
               (let ((got (loop for name in '("localhost" "other.name")
                                collect (call-client
                                         port (lambda (c)
                                                (read-bang c)
                                                (epsilon.crypto:certificate-fingerprint
                                                 (epsilon.crypto:tls-peer-certificate c)))
                                         :hostname name :options (list :verify nil)))))
                 (is (equal (list server-fp alt-fp) got))
                 (is (equal '("localhost" "other.name") (join-result server))))))
        (close-fd listener)))))

;;; Mutual TLS

(defun client-cert-options (name)
  (list :ca-file (cert "ca.pem")
        :cert-file (cert (format nil "~A.pem" name))
        :key-file (cert (format nil "~A.key" name))))

(defun mtls-client (c)
  "Handshake and read; :REFUSED when the server refused us."
  (handler-case (read-bang c)
    (epsilon.crypto:tls-error () :refused)))

(tls-test mtls-required-refuses-and-accepts
  (dolist (max '(:tls-v1.2 :tls-v1.3))
    (multiple-value-bind (clients results)
        (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                           :verify :require :ca-file (cert "ca.pem") :max-version max)
            (:clients 3)
            (wait-close-handler (lambda (conn)
                                  (let ((peer (epsilon.crypto:tls-peer-certificate conn)))
                                    (list (epsilon.crypto:certificate-subject peer)
                                          (epsilon.crypto:certificate-issuer peer)
                                          (epsilon.crypto:tls-verify-result conn)))))
          (list (call-client port #'mtls-client)
                (call-client port #'mtls-client :options (client-cert-options "rogue"))
                (call-client port #'mtls-client :options (client-cert-options "client"))))
      (is (equal '(:refused :refused "!") clients) "~A: ~S" max clients)
      (is (typep (first results) 'epsilon.crypto:tls-error))
      (is (typep (second results) 'epsilon.crypto:tls-error))
      (is (equal '("O = Epsilon, CN = epsilon client" "CN = Epsilon Test CA" 0)
                 (third results))))))

(tls-test mtls-verify-t-is-require
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :verify t :ca-file (cert "ca.pem"))
          ()
          (wait-close-handler #'epsilon.crypto:tls-peer-certificate)
        (call-client port #'mtls-client))
    (is (eq :refused client))
    (is (typep (first results) 'epsilon.crypto:tls-error))))

(tls-test mtls-request-accepts-anonymous-clients
  (multiple-value-bind (clients results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :verify :request :ca-file (cert "ca.pem"))
          (:clients 2)
          (wait-close-handler (lambda (conn)
                                (let ((peer (epsilon.crypto:tls-peer-certificate conn)))
                                  (and peer (epsilon.crypto:certificate-subject peer)))))
        (list (call-client port #'mtls-client)
              (call-client port #'mtls-client :options (client-cert-options "client"))))
    (is (equal '("!" "!") clients))
    (is (equal '(nil "O = Epsilon, CN = epsilon client") results))))

;;; Resumption

(defun resumption-round (max)
  "Three clients of one server: a full handshake that saves its session,
one offering it, one offering it after a round trip through octets.
Returns the three reused flags and whether a session was found."
  (let ((session nil) (copy nil))
    (unwind-protect
         (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                            :max-version max)
             (:clients 3)
             (wait-close-handler #'epsilon.crypto:tls-session-reused-p)
           (let* ((first (call-client port (lambda (c)
                                             (read-bang c)
                                             (setf session (epsilon.crypto:tls-session c))
                                             (epsilon.crypto:tls-session-reused-p c))))
                  (second (call-client port (lambda (c)
                                              (read-bang c)
                                              (epsilon.crypto:tls-session-reused-p c))
                                       :session session))
                  (third (progn
                           (setf copy (epsilon.crypto:octets-to-tls-session
                                       (epsilon.crypto:tls-session-to-octets session)))
                           (call-client port (lambda (c)
                                               (read-bang c)
                                               (epsilon.crypto:tls-session-reused-p c))
                                        :session copy))))
             (list first second third)))
      (when session (epsilon.crypto:tls-session-free session))
      (when copy (epsilon.crypto:tls-session-free copy)))))

(tls-test resumption-tls-1.2-and-1.3
  (dolist (max '(:tls-v1.2 :tls-v1.3))
    (multiple-value-bind (clients results) (resumption-round max)
      (is (equal '(nil t t) clients) "~A: ~S" max clients)
      (is (equal '(nil t t) results) "~A server: ~S" max results))))

(tls-test resumption-off-without-cache-and-tickets
  (let ((session nil))
    (unwind-protect
         (multiple-value-bind (clients results)
             (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                                :max-version :tls-v1.2 :session-cache nil :session-tickets nil)
                 (:clients 2)
                 (wait-close-handler #'epsilon.crypto:tls-session-reused-p)
               (list (call-client port (lambda (c)
                                         (read-bang c)
                                         (setf session (epsilon.crypto:tls-session c))
                                         (epsilon.crypto:tls-session-reused-p c)))
                     (call-client port (lambda (c)
                                         (read-bang c)
                                         (epsilon.crypto:tls-session-reused-p c))
                                  :session session)))
           (is (equal '(nil nil) clients))
           (is (equal '(nil nil) results)))
      (when session (epsilon.crypto:tls-session-free session)))))

(tls-test tls-1.3-session-appears-after-the-first-read
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
          (wait-close-handler (constantly :ok))
        (call-client port (lambda (c)
                            (epsilon.crypto:tls-handshake c)
                            (let ((before (epsilon.crypto:tls-session c)))
                              (read-bang c)
                              (let ((after (epsilon.crypto:tls-session c)))
                                (prog1 (list before (epsilon.crypto:tls-session-p after))
                                  (when before (epsilon.crypto:tls-session-free before))
                                  (epsilon.crypto:tls-session-free after)))))))
    (is (equal '(nil t) client))
    (is (equal '(:ok) results))))

;;; Information

(tls-test information-matches-openssl
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :alpn '("h2"))
          ()
          (wait-close-handler (lambda (conn)
                                (list (epsilon.crypto:tls-version conn)
                                      (epsilon.crypto:tls-server-name conn)
                                      (epsilon.crypto:tls-peer-certificate conn))))
        (call-client port
                     (lambda (c)
                       (let ((before (list (epsilon.crypto:tls-version c)
                                           (epsilon.crypto:tls-cipher c)
                                           (epsilon.crypto:tls-alpn-protocol c)
                                           (epsilon.crypto:tls-peer-certificate c)
                                           (epsilon.crypto:tls-session-reused-p c))))
                         (read-bang c)
                         (list before
                               (epsilon.crypto:tls-version c)
                               (epsilon.crypto:tls-cipher c)
                               (epsilon.crypto:tls-alpn-protocol c)
                               (epsilon.crypto:tls-server-name c)
                               (multiple-value-list (epsilon.crypto:tls-verify-result c))
                               (epsilon.crypto:tls-peer-certificate c))))
                     :options (list :ca-file (cert "ca.pem") :alpn '("h2"))))
    (destructuring-bind (before version cipher alpn name verify peer) client
      (is (equal '(nil nil nil nil nil) before))
      (is (eq :tls-v1.3 version))
      (is (stringp cipher))
      (is (search "TLS_" cipher))
      (is (equal "h2" alpn))
      (is (equal "localhost" name))
      (is (equal '(0 "ok") verify))
      (is (typep peer 'epsilon.crypto:tls-certificate))
      (is (search "TLS-CERTIFICATE" (prin1-to-string peer)))
      (is (equal (fingerprint-of "server.pem") (epsilon.crypto:certificate-fingerprint peer)))
      (is (= 95 (length (epsilon.crypto:certificate-fingerprint peer))))
      (is (equal (openssl-field (cert "server.pem") "-subject" "subject=")
                 (epsilon.crypto:certificate-subject peer)))
      (is (equal (openssl-field (cert "server.pem") "-issuer" "issuer=")
                 (epsilon.crypto:certificate-issuer peer)))
      (is (equal '("DNS:localhost" "IP:127.0.0.1" "IP:::1")
                 (epsilon.crypto:certificate-alt-names peer)))
      (is (<= (epsilon.crypto:certificate-not-before peer) (get-universal-time)
             (epsilon.crypto:certificate-not-after peer)))
      (is (equal (run-command "openssl" (list "x509" "-in" (cert "server.pem")))
                 (epsilon.crypto:certificate-pem peer))))
    (destructuring-bind ((version name peer)) results
      (is (eq :tls-v1.3 version))
      (is (equal "localhost" name))
      (is (null peer) "no client certificate"))))

(tls-test information-tls-1.2-and-dates
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")
                         :max-version :tls-v1.2)
          ()
          (wait-close-handler #'epsilon.crypto:tls-version)
        (call-client port (lambda (c)
                            (read-bang c)
                            (list (epsilon.crypto:tls-version c)
                                  (epsilon.crypto:tls-cipher c)
                                  (epsilon.crypto:tls-peer-certificate c)))))
    (destructuring-bind (version cipher peer) client
      (is (eq :tls-v1.2 version))
      (is (and (stringp cipher) (not (search "TLS_" cipher))))
      ;; openssl prints notAfter=Nov 20 13:26:40 2036 GMT
      (let* ((text (openssl-field (cert "server.pem") "-enddate" "notAfter="))
             (months '("Jan" "Feb" "Mar" "Apr" "May" "Jun" "Jul" "Aug" "Sep" "Oct" "Nov" "Dec"))
             (month (1+ (position (subseq text 0 3) months :test #'string=)))
             (fields (with-input-from-string (in (substitute #\Space #\: (subseq text 4)))
                       (loop repeat 5 collect (read in)))))
        (destructuring-bind (day hour minute second year) fields
          (is (= (encode-universal-time second minute hour day month year 0)
                 (epsilon.crypto:certificate-not-after peer))))))
    (is (equal '(:tls-v1.2) results))))

(tls-test verify-result-after-a-refusal
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "selfsigned.pem") :key-file (cert "selfsigned.key")) ()
          (constantly :ok)
        (call-client port (lambda (c)
                            (handler-case (epsilon.crypto:tls-handshake c)
                              (epsilon.crypto:tls-verification-error ()
                                (multiple-value-list (epsilon.crypto:tls-verify-result c)))))))
    (is (= 18 (first client)))
    (is (search "self" (second client)))
    (is (typep (first results) 'epsilon.crypto:tls-error))))

;;; Key log

(defun keylog-lines (path)
  (if (probe-file path)
      (with-open-file (in path) (loop for line = (read-line in nil) while line collect line))
      :none))

(tls-test keylog-written-only-when-asked
  (let ((asked (format nil "~Akeylog-asked.txt" (cert-dir)))
        (env-file (format nil "~Akeylog-env.txt" (cert-dir)))
        (old (sb-ext:posix-getenv "SSLKEYLOGFILE")))
    (dolist (f (list asked env-file)) (when (probe-file f) (delete-file f)))
    (unwind-protect
         (progn
           (sb-posix:setenv "SSLKEYLOGFILE" env-file 1)
           (flet ((round-trip (&rest client-extra)
                    (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key"))
                        ()
                        (wait-close-handler (constantly :ok))
                      (call-client port #'read-bang
                                   :options (list* :ca-file (cert "ca.pem") client-extra)))))
             ;; Not asked: nothing, even with SSLKEYLOGFILE set.
             (is (equal "!" (round-trip)))
             (is (eq :none (keylog-lines env-file)))
             ;; Asked with a path (TLS 1.3 secrets).
             (is (equal "!" (round-trip :keylog-file asked)))
             (let ((lines (keylog-lines asked)))
               (is (listp lines))
               (is (find "CLIENT_HANDSHAKE_TRAFFIC_SECRET " lines
                         :test (lambda (p l) (eql 0 (search p l)))))
               (is (= #o600 (logand #o777 (sb-posix:stat-mode (sb-posix:stat asked))))))
             ;; Asked through the environment (TLS 1.2 lines).
             (is (equal "!" (round-trip :keylog-file :env :max-version :tls-v1.2)))
             (let ((lines (keylog-lines env-file)))
               (is (listp lines))
               (is (every (lambda (l) (eql 0 (search "CLIENT_RANDOM " l))) lines))
               (is (plusp (length lines))))))
      (if old
          (sb-posix:setenv "SSLKEYLOGFILE" old 1)
          (sb-posix:unsetenv "SSLKEYLOGFILE")))))

;;; Streams

(defun line-server (conn)
  "A line protocol over a TLS stream: answer each line upper-cased, with its
length, until QUIT."
  (let ((s (epsilon.crypto:make-tls-stream conn)))
    (unwind-protect
         (loop for line = (read-line s nil)
               for count from 0
               while (and line (string/= line "quit"))
               do (format s "~A ~D~%" (string-upcase line) (length line))
                  (force-output s)
               finally (return count))
      (close s))))

(tls-test stream-line-protocol
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
          #'line-server
        (call-client port
                     (lambda (c)
                       (epsilon.crypto:with-tls-stream (s c)
                         (is (open-stream-p s))
                         (is (eq 'character (stream-element-type s)))
                         (is (search "TLS-STREAM" (prin1-to-string s)))
                         (let ((replies
                                 (loop for line in (list "hello" "héllo wörld ✓"
                                                         (make-string 40000 :initial-element #\é))
                                       collect (progn (format s "~A~%" line)
                                                      (finish-output s)
                                                      (read-line s)))))
                           (write-line "quit" s)
                           (force-output s)
                           (list (first replies) (second replies)
                                 (length (third replies))
                                 (read-line s nil :eof)))))))
    (is (equal (list "HELLO 5" "HÉLLO WÖRLD ✓ 13" 40006 :eof) client))
    (is (equal '(3) results))))

(tls-test stream-bivalent-bytes-and-characters
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
          (lambda (conn)
            (epsilon.crypto:with-tls-stream (s conn :element-type '(unsigned-byte 8))
              (let ((n (read-byte s))
                    (buf (make-array 3 :element-type '(unsigned-byte 8))))
                (read-sequence buf s)
                (let ((c (read-char s)))
                  (unread-char c s)
                  (let ((again (read-char s))
                        (peeked (peek-char nil s))
                        (rest (read-line s)))
                    (write-byte (1+ n) s)
                    (write-sequence buf s)
                    (write-string "→ok" s)
                    (write-sequence (vector 10) s)
                    (force-output s)
                    (list n (coerce buf 'list) c again peeked rest
                          (stream-element-type s)))))))
        (call-client port
                     (lambda (c)
                       (epsilon.crypto:with-tls-stream (s c :close-connection nil)
                         (write-byte 41 s)
                         (write-sequence (octets "abc") s)
                         (write-string "λx" s)
                         (terpri s)
                         (finish-output s)
                         (let ((n (read-byte s))
                               (buf (make-array 3 :element-type '(unsigned-byte 8))))
                           (list n (read-sequence buf s) (text buf) (read-line s)
                                 (read-char s nil :eof)))))))
    (is (equal '(42 3 "abc" "→ok" :eof) client))
    (is (equal (list (list 41 (coerce (octets "abc") 'list) #\λ #\λ #\x "x"
                           '(unsigned-byte 8)))
               results))))

(tls-test stream-close-connection-frees-it
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
          (lambda (conn)
            (let ((s (epsilon.crypto:make-tls-stream conn)))
              (prog1 (read-line s nil :eof) (close s))))
        (with-fd (fd (connect-to port))
          (epsilon.crypto:with-tls-context (ctx :ca-file (cert "ca.pem"))
            (let* ((conn (epsilon.crypto:make-tls-connection ctx fd :hostname "localhost"
                                                                    :timeout 30))
                   (s (epsilon.crypto:make-tls-stream conn :close-connection t)))
              (write-string "no newline" s)
              (is (eq t (close s)))
              (is (eq t (close s)) "idempotent")
              (is (not (open-stream-p s)))
              (signals stream-error (write-char #\a s))
              (signals epsilon.crypto:tls-error (epsilon.crypto:tls-version conn))
              :done))))
    (is (eq :done client))
    (is (equal '("no newline") results))))

(tls-test stream-latin-1-and-malformed-utf-8
  (multiple-value-bind (clients results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key"))
          (:clients 2)
          (lambda (conn)
            (epsilon.crypto:tls-send conn (coerce #(104 233 10 255 97 10 226 130 10)
                                                  '(simple-array (unsigned-byte 8) (*))))
            (epsilon.crypto:tls-shutdown conn)
            (loop repeat 100 until (zerop (length (epsilon.crypto:tls-recv conn 100))))
            :sent)
        (list
         (call-client port
                      (lambda (c)
                        (epsilon.crypto:with-tls-stream (s c :external-format :latin-1)
                          (list (read-line s) (read-line s) (read-line s nil :eof)
                                (epsilon.crypto:tls-stream-external-format s)))))
         (call-client port
                      (lambda (c)
                        (epsilon.crypto:with-tls-stream (u c)
                          (list (read-line u) (read-char u) (read-char u) (read-line u)
                                (read-line u nil :eof) (read-line u nil :eof)))))))
    (let ((r (code-char #xFFFD)))
      (is (equal (list (list (coerce (list #\h (code-char 233)) 'string)
                             (coerce (list (code-char 255) #\a) 'string)
                             (coerce (list (code-char 226) (code-char 130)) 'string)
                             :latin-1)
                       (list (coerce (list #\h r) 'string) r #\a ""
                             (string r) :eof))
                 clients)
          "~S" clients))
    (is (equal '(:sent :sent) results))))

;;; Streams over a non-blocking fd wait all the same
(tls-test stream-over-a-nonblocking-fd
  (multiple-value-bind (client results)
      (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
          #'line-server
        (with-fd (fd (connect-to port :nonblocking t))
          (epsilon.crypto:with-tls-context (ctx :ca-file (cert "ca.pem"))
            (epsilon.crypto:with-tls-connection (c ctx fd :hostname "localhost" :timeout 30)
              (epsilon.crypto:with-tls-stream (s c)
                (let ((big (make-string 100000 :initial-element #\z)))
                  (prog1 (list (progn (write-line "one" s) (force-output s) (read-line s))
                               (progn (write-line big s) (force-output s)
                                      (length (read-line s))))
                    (write-line "quit" s)
                    (finish-output s))))))))
    (is (equal '("ONE 3" 100007) client))
    (is (equal '(2) results))))

(tls-test crypto-exports-are-documented
  (do-external-symbols (s :epsilon.crypto)
    (when (eq (symbol-package s) (find-package :epsilon.crypto))
      (is (or (documentation s 'function) (documentation s 'type)
              (documentation s 'variable))
          "~S has no documentation" s)))
  (is (equal '(epsilon.crypto::conn &key epsilon.crypto::external-format
               epsilon.crypto::element-type epsilon.crypto::close-connection
               epsilon.crypto::timeout)
             (mapcar (lambda (x) (if (consp x) (car x) x))
                     (sb-introspect:function-lambda-list #'epsilon.crypto:make-tls-stream)))))

;;; Bad input and wrong states

(tls-test part-2-bad-arguments
  (signals type-error (epsilon.crypto:make-tls-context :alpn "h2"))
  (signals type-error (epsilon.crypto:make-tls-context :alpn '("")))
  (signals type-error (epsilon.crypto:make-tls-context :alpn '("a,b")))
  (signals type-error (epsilon.crypto:make-tls-context :alpn (list (make-string 256 :initial-element #\a))))
  (signals type-error (epsilon.crypto:make-tls-context :alpn '(h2)))
  (signals type-error (epsilon.crypto:make-tls-context :alpn-mismatch :maybe))
  (signals type-error (epsilon.crypto:make-tls-context :role :server :verify :maybe))
  (signals type-error (epsilon.crypto:make-tls-context :keylog-file 42))
  (signals type-error (epsilon.crypto:make-tls-context :sni-certificates '("a")))
  (signals type-error (epsilon.crypto:make-tls-context :sni-certificates '(("a" "b" :nom "x"))))
  (signals type-error (epsilon.crypto:tls-session 42))
  (signals type-error (epsilon.crypto:tls-session-free 42))
  (signals type-error (epsilon.crypto:tls-session-to-octets nil))
  (signals type-error (epsilon.crypto:octets-to-tls-session "abc"))
  (signals type-error (epsilon.crypto:octets-to-tls-session
                       (make-array 0 :element-type '(unsigned-byte 8))))
  (signals type-error (epsilon.crypto:tls-version 42))
  (signals type-error (epsilon.crypto:tls-cipher nil))
  (signals type-error (epsilon.crypto:tls-peer-certificate "x"))
  (signals type-error (epsilon.crypto:tls-context-add-certificate 42 "a" "b"))
  (signals type-error (epsilon.crypto:make-tls-stream 42))
  (with-stream-pair (a b)
    (epsilon.crypto:with-tls-context (ctx :verify nil)
      (signals type-error (epsilon.crypto:make-tls-connection ctx a :session 42))
      (epsilon.crypto:with-tls-connection (c ctx a)
        (signals type-error (epsilon.crypto:make-tls-stream c :external-format :ebcdic))
        (signals type-error (epsilon.crypto:make-tls-stream c :element-type 'fixnum))
        (signals type-error (epsilon.crypto:make-tls-stream c :timeout -1))))))

(defun error-name-of (thunk)
  (handler-case (progn (funcall thunk) :no-error)
    (epsilon.crypto:tls-error (e) (epsilon.crypto:epsilon-error-name e))))

(tls-test part-2-wrong-states-and-freed-objects
  ;; Options the role does not take.
  (is (eq :einval (error-name-of (lambda () (epsilon.crypto:make-tls-context
                                             :alpn-mismatch :proceed)))))
  (is (eq :einval (error-name-of (lambda () (epsilon.crypto:make-tls-context
                                             :session-cache t)))))
  (epsilon.crypto:with-tls-context (ctx :verify nil)
    (is (eq :einval (error-name-of (lambda () (epsilon.crypto:tls-context-add-certificate
                                               ctx (cert "server.pem") (cert "server.key")))))))
  ;; Files.
  (epsilon.crypto:with-tls-context (ctx :role :server)
    (is (eq :ebadpem (error-name-of (lambda () (epsilon.crypto:tls-context-add-certificate
                                                ctx (cert "missing.pem") (cert "server.key"))))))
    (is (eq :ekeymismatch (error-name-of (lambda () (epsilon.crypto:tls-context-add-certificate
                                                     ctx (cert "server.pem") (cert "alt.key")))))))
  (is (eq :enoent (error-name-of (lambda () (epsilon.crypto:make-tls-context
                                             :keylog-file "/nonexistent/dir/keys.txt")))))
  ;; A freed context.
  (let ((ctx (epsilon.crypto:make-tls-context :role :server)))
    (epsilon.crypto:tls-context-free ctx)
    (is (eq :ebadhandle (error-name-of (lambda () (epsilon.crypto:tls-context-add-certificate
                                                   ctx (cert "server.pem") (cert "server.key")))))))
  ;; Sessions: garbage, freed, on a server.
  (is (eq :einval (error-name-of (lambda () (epsilon.crypto:octets-to-tls-session
                                             (octets "not a session"))))))
  (with-stream-pair (a b)
    (epsilon.crypto:with-tls-context (sctx :role :server :cert-file (cert "server.pem")
                                           :key-file (cert "server.key"))
      (epsilon.crypto:with-tls-connection (s sctx a)
        (is (eq :einval (error-name-of (lambda () (epsilon.crypto:tls-session s)))))
        (is (null (epsilon.crypto:tls-session-reused-p s)))
        (is (null (epsilon.crypto:tls-server-name s)))
        (is (null (epsilon.crypto:tls-alpn-protocol s))))
      (epsilon.crypto:with-tls-context (cctx :verify nil)
        (epsilon.crypto:with-tls-connection (c cctx b)
          (is (null (epsilon.crypto:tls-session c)) "none before the handshake")))))
  (let ((session (epsilon.crypto:octets-to-tls-session (session-octets))))
    (is (search "live" (prin1-to-string session)))
    (epsilon.crypto:tls-session-free session)
    (is (null (epsilon.crypto:tls-session-free session)) "idempotent")
    (is (search "freed" (prin1-to-string session)))
    (is (eq :ebadhandle (error-name-of (lambda () (epsilon.crypto:tls-session-to-octets session)))))
    (with-stream-pair (a b)
      (epsilon.crypto:with-tls-context (ctx :verify nil)
        (is (eq :ebadhandle (error-name-of (lambda () (epsilon.crypto:make-tls-connection
                                                       ctx a :session session)))))))
    (let ((live (epsilon.crypto:octets-to-tls-session (session-octets))))
      (unwind-protect
           (with-stream-pair (a b)
             (epsilon.crypto:with-tls-context (ctx :role :server :cert-file (cert "server.pem")
                                                   :key-file (cert "server.key"))
               (is (eq :einval (error-name-of (lambda () (epsilon.crypto:make-tls-connection
                                                          ctx a :session live)))))))
        (epsilon.crypto:tls-session-free live))))
  ;; A freed connection.
  (with-stream-pair (a b)
    (epsilon.crypto:with-tls-context (ctx :verify nil)
      (let ((c (epsilon.crypto:make-tls-connection ctx a))
            (s nil))
        (setf s (epsilon.crypto:make-tls-stream c))
        (epsilon.crypto:tls-connection-free c)
        (dolist (f (list #'epsilon.crypto:tls-version #'epsilon.crypto:tls-cipher
                         #'epsilon.crypto:tls-alpn-protocol #'epsilon.crypto:tls-server-name
                         #'epsilon.crypto:tls-session #'epsilon.crypto:tls-session-reused-p
                         #'epsilon.crypto:tls-verify-result #'epsilon.crypto:tls-peer-certificate
                         #'epsilon.crypto:make-tls-stream
                         (lambda (c) (declare (ignore c)) (read-char s))
                         (lambda (c) (declare (ignore c)) (write-char #\a s) (force-output s))))
          (is (eq :ebadhandle (error-name-of (lambda () (funcall f c))))))
        (close s)))))

(defvar *session-octets* nil)

(defun session-octets ()
  "The octets of a real TLS 1.3 session from a loopback round trip."
  (or *session-octets*
      (setf *session-octets*
            (with-server (port :cert-file (cert "server.pem") :key-file (cert "server.key")) ()
                (wait-close-handler (constantly :ok))
              (call-client port (lambda (c)
                                  (read-bang c)
                                  (let ((s (epsilon.crypto:tls-session c)))
                                    (prog1 (epsilon.crypto:tls-session-to-octets s)
                                      (epsilon.crypto:tls-session-free s)))))))))
