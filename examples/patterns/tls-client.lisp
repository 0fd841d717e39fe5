;;;; SPDX-License-Identifier: MIT
;;;; tls-client.lisp - a TLS client that fetches a page over HTTPS,
;;;; verifying the server against a CA and its host name.

(in-package #:epsilon.examples.patterns)

(defun crlf-lines (&rest lines)
  (format nil "~{~A~C~C~}" (loop for line in lines nconc (list line #\Return #\Newline))))

(defun read-until-close (conn)
  "Everything CONN receives until the server's close_notify."
  (let ((out (make-array 0 :element-type '(unsigned-byte 8) :adjustable t :fill-pointer 0))
        (buffer (make-array 16384 :element-type '(unsigned-byte 8))))
    (loop for n = (tls-recv-into conn buffer)
          until (zerop n)
          do (loop for i below n do (vector-push-extend (aref buffer i) out)))
    (coerce out '(simple-array (unsigned-byte 8) (*)))))

(defun fetch-https (host port &key (path "/") ca-file (hostname host) (timeout 30))
  "GET PATH from the HTTPS server at HOST:PORT, verifying its certificate
against CA-FILE (NIL: the system's CAs) and HOSTNAME.  Returns the status
code, the body (a string) and the header lines (a list of strings).
Signals TLS-VERIFICATION-ERROR for an untrusted server, SOCKET-ERROR when
the connection fails, SOCKET-TIMEOUT / TLS-TIMEOUT after TIMEOUT seconds."
  (with-client-socket (fd :host host :port port :timeout timeout)
    (with-tls-context (ctx :ca-file ca-file)
      (with-tls-connection (conn ctx fd :hostname hostname :timeout timeout)
        (tls-handshake conn)
        (tls-send conn (crlf-lines (format nil "GET ~A HTTP/1.1" path)
                                   (format nil "Host: ~A" hostname)
                                   "Connection: close"
                                   ""))
        (let* ((text (sb-ext:octets-to-string (read-until-close conn) :external-format :utf-8))
               (separator (crlf-lines "" ""))
               (head-end (or (search separator text)
                             (error "fetch-https: no end of the response head")))
               (head (subseq text 0 head-end))
               (lines (loop with start = 0
                            for end = (search (crlf-lines "") head :start2 start)
                            collect (subseq head start end)
                            while end
                            do (setf start (+ end 2))))
               (status-line (first lines)))
          (tls-shutdown conn)
          (values (parse-integer status-line :start (1+ (position #\Space status-line))
                                             :junk-allowed t)
                  (subseq text (+ head-end (length separator)))
                  (rest lines)))))))
