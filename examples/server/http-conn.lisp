;;;; SPDX-License-Identifier: MIT
;;;; http-conn.lisp - the HTTP/1.1 and HTTPS connection handler of the
;;;; loop (MAKE-SERVER's default :HANDLER): read, answer every complete
;;;; request, linger after the last one.
;;;;
;;;; Reading.  An event marks the connection readable; we read until the
;;;; read would block or comes back short (the socket is then empty:
;;;; nginx's rule, one syscall saved per request) and answer every complete
;;;; request in what was read, in order.  A connection with nothing left
;;;; over reads into the loop's one 64 KiB buffer; an incomplete request is
;;;; kept in a small carry buffer from a pool, and the next reads go
;;;; straight into the carry after it, until it is answered.

(in-package #:epsilon.examples.server)

(defun stats-response (server head-p keep-alive)
  (let ((body (format nil "~{~(~A~) ~A~%~}" (server-stats server))))
    (octets (head "HTTP/1.1 200 OK"
                  (and keep-alive "Connection: keep-alive")
                  "Content-Type: text/plain"
                  (format nil "Content-Length: ~D" (length body)))
            (if head-p "" body))))

(defun respond (server conn id head-p keep-alive)
  "Stage response ID (HEAD-P: its head only; KEEP-ALIVE: the HTTP/1.0
keep-alive variant)."
  (declare (type fixnum id))
  (cond ((= id +r-stats+)
         (let ((bytes (stats-response server head-p keep-alive)))
           (stage server conn bytes (length bytes))))
        (keep-alive
         (let ((bytes (svref *keep-alive-responses* id)))
           (declare (type octets bytes))
           (stage server conn bytes
                  (if head-p (aref *keep-alive-head-lengths* id) (length bytes)))))
        (t
         (let ((bytes (svref *responses* id)))
           (declare (type octets bytes))
           (stage server conn bytes (if head-p (aref *head-lengths* id) (length bytes)))))))

(defun process (server conn buf start end)
  "Answer every complete request in BUF[START,END), in order; return the
index of the first byte not consumed (an incomplete request)."
  (declare (type octets buf) (type index start end))
  (let ((p start))
    (declare (type index p))
    (loop
      (when (or (>= p end) (conn-close-after conn))
        (return p))
      (let ((skip (conn-body-left conn)))
        (if (plusp skip)
            (let ((k (min skip (- end p))))
              (incf p k)
              (decf (conn-body-left conn) k))
            (let ((head-end (find-head-end buf p (min end (+ p +max-head+)))))
              (declare (type fixnum head-end))
              (when (minusp head-end)
                (when (>= (- end p) +max-head+)
                  (respond server conn +r-too-large+ nil nil)
                  (setf (conn-close-after conn) t)
                  (return end))
                (return p))
              (multiple-value-bind (id head-p close length keep-alive)
                  (parse-request buf p head-end)
                (incf (server-requests server))
                (respond server conn id head-p keep-alive)
                (when close (setf (conn-close-after conn) t))
                (setf (conn-body-left conn) length
                      p head-end))))))))

(defun release-carry (server conn)
  (let ((carry (conn-carry conn)))
    (when carry
      (setf (conn-carry conn) nil)
      (pool-give (server-carry-pool server) carry))
    (setf (conn-carry-len conn) 0)))

(defun keep-rest (server conn buf p end)
  "BUF[0,END) was read and answered up to P: keep BUF[P,END), an incomplete
request, at the start of CONN's carry buffer (BUF may be the carry)."
  (declare (type octets buf) (type index p end))
  (if (or (= p end) (conn-close-after conn))
      (release-carry server conn)
      (let ((carry (or (conn-carry conn)
                       (setf (conn-carry conn) (pool-take (server-carry-pool server))))))
        (declare (type octets carry))
        (unless (and (eq carry buf) (zerop p))
          (replace carry buf :start2 p :end2 end))
        (setf (conn-carry-len conn) (- end p)))))

(defun conn-read (server conn)
  "Read and answer until the socket is drained; true when CONN is done
(closing, and its output sent)."
  (declare (type server server) (type conn conn))
  (let ((tls (conn-tls conn))
        (fd (conn-fd conn)))
    (loop while (and (conn-readable conn) (not (conn-close-after conn))
                     (<= (pending-bytes conn) +high-water+))
          do (let* ((carry-len (conn-carry-len conn))
                    ;; After an incomplete request: into the carry, behind it.
                    (buf (if (plusp carry-len) (conn-carry conn) (server-rbuf server)))
                    (end (if (plusp carry-len)
                             (min (+ carry-len +read-size+) +carry-size+)
                             +read-size+))
                    (n (if tls
                           (tls-recv-into tls buf :start carry-len :end end)
                           (socket-recv-into fd buf :start carry-len :end end
                                                    :flags +msg-dontwait+))))
               (declare (type index carry-len end) (type octets buf))
               (cond ((null n)
                      (setf (conn-readable conn) nil))
                     ((zerop n)
                      (setf (conn-readable conn) nil (conn-eof conn) t
                            (conn-close-after conn) t))
                     (t
                      (locally (declare (type index n))
                        ;; A short read drained the socket, unless the FIN
                        ;; came in the same edge: then only reading on finds it.
                        (when (and (not tls) (< n (- end carry-len)) (not (conn-rdhup conn)))
                          (setf (conn-readable conn) nil))
                        (let ((end (+ carry-len n)))
                          (keep-rest server conn buf (process server conn buf 0 end) end)))
                      (flush-staged server conn)))))
    (and (conn-close-after conn) (zerop (pending-bytes conn)))))

(defun conn-drain (server conn)
  "A lingering connection: discard what arrives until the peer's FIN."
  (let ((rbuf (server-rbuf server)))
    (loop (let ((n (socket-recv-into (conn-fd conn) rbuf :flags +msg-dontwait+)))
            (cond ((null n) (return nil))
                  ((zerop n) (return t)))))))

(defun finish (server conn)
  "CONN answered its last request: close it, or for plain HTTP with the
peer still sending, send our FIN and linger until theirs (closing a socket
with unread input resets it, and the peer could lose the response)."
  (if (or (conn-tls conn) (conn-eof conn))
      (close-conn server conn)
      (progn
        (socket-shutdown (conn-fd conn) :write)
        (setf (conn-lingering conn) t)
        (when (conn-drain server conn)
          (close-conn server conn)))))

(defun http-event (server conn mask)
  "The HTTP/1.1 and HTTPS connection handler: MASK (the +EPOLL...+ bits)
happened on CONN of SERVER.  Runs the TLS handshake first on an HTTPS
connection, then sends what is pending and reads and answers requests."
  (declare (type server server) (type conn conn) (type (unsigned-byte 32) mask))
  (when (logtest mask (logior +epollin+ +epollerr+ +epollhup+ +epollrdhup+))
    (setf (conn-readable conn) t))
  (when (logtest mask +epollrdhup+)
    (setf (conn-rdhup conn) t))
  (cond ((conn-lingering conn)
         (when (conn-drain server conn)
           (close-conn server conn)))
        ((and (conn-handshaking conn)
              (not (tls-handshake (conn-tls conn)))))
        (t
         (when (conn-handshaking conn)
           ;; The handshake may have read (ahead) the first request into
           ;; OpenSSL, where no epoll edge will announce it: read now.
           (setf (conn-handshaking conn) nil (conn-readable conn) t))
         (flush-pending server conn)
         (when (conn-read server conn)
           (finish server conn)))))
