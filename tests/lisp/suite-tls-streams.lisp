;;;; SPDX-License-Identifier: MIT
;;;; suite-tls-streams.lisp - TLS streams on loopback: a line protocol,
;;;; bivalent bytes and characters, closing, encodings, non-blocking fds.

(in-package #:epsilon.linux.tests)

(eval-when (:compile-toplevel :load-toplevel :execute)
  (require :sb-posix)
  (require :sb-introspect))

(def-suite tls-streams :in epsilon-linux
  :description "epsilon.crypto: TLS streams.")
(in-suite tls-streams)

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
