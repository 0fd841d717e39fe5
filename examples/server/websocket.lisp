;;;; SPDX-License-Identifier: MIT
;;;; websocket.lisp - CREATE-WEBSOCKET-SERVER, which the package
;;;; documentation leaves as a stub: an RFC 6455 echo server on the main
;;;; job's loop, as its connection handler (like patterns.lisp).
;;;;
;;;; The handshake answers Sec-WebSocket-Key with Sec-WebSocket-Accept =
;;;; base64(SHA-1(key + GUID)), both computed by OpenSSL through the C ABI
;;;; (eps_sha1, eps_base64_encode).  Then frames: client frames must be
;;;; masked, fragmented messages are put together from continuation frames
;;;; and echoed whole, a ping gets a pong, a close is echoed and the
;;;; connection closed; a protocol error closes with 1002, a message or
;;;; frame above +WS-MAX-MESSAGE+ with 1009.  Text is echoed as received
;;;; (its UTF-8 is not checked).  Per-connection state lives in a hash
;;;; table of the server: an example, not the zero-consing hot path.

(in-package #:epsilon.examples.server)

(defconstant +ws-max-message+ (* 1024 1024) "The largest message or frame accepted.")
(defparameter *ws-guid* "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")

(defun websocket-accept (key)
  "The Sec-WebSocket-Accept value for KEY (a string): base64(SHA-1(KEY +
the RFC 6455 GUID)), through OpenSSL."
  (let* ((in (sb-ext:string-to-octets (concatenate 'string key *ws-guid*)
                                      :external-format :latin-1))
         (md (make-array 20 :element-type '(unsigned-byte 8)))
         (out (make-array 28 :element-type '(unsigned-byte 8))))
    (epsilon.linux.runtime:check-result
     (epsilon.linux.bindings::%eps-sha1 in (length in) md 20) 'websocket-accept 'epsilon-error)
    (epsilon.linux.runtime:check-result
     (epsilon.linux.bindings::%eps-base64-encode md 20 out 28) 'websocket-accept 'epsilon-error)
    (sb-ext:octets-to-string out :external-format :latin-1)))

(defstruct (ws (:constructor make-ws ()))
  (buf (make-array 4096 :element-type '(unsigned-byte 8)) :type octets)
  (len 0 :type index)
  (open nil)                            ; handshake done
  (message nil)                         ; fragments so far, or NIL
  (opcode 0)                            ; of the fragmented message
  (closing nil))                        ; close sent: close once flushed

(defun ws-send (server conn bytes)
  (declare (type octets bytes))
  (if (zerop (pending-bytes conn))
      (let ((k (send-bytes conn bytes 0 (length bytes))))
        (when (< k (length bytes)) (append-out server conn bytes k (length bytes))))
      (progn (append-out server conn bytes 0 (length bytes))
             (flush-pending server conn))))

(defun ws-frame (opcode payload)
  "An unmasked, final server frame."
  (let* ((n (length payload))
         (head (cond ((< n 126) (list (logior #x80 opcode) n))
                     ((< n 65536) (list (logior #x80 opcode) 126 (ash n -8) (logand n 255)))
                     (t (list* (logior #x80 opcode) 127
                               (loop for s from 56 downto 0 by 8 collect (ldb (byte 8 s) n))))))
         (frame (make-array (+ (length head) n) :element-type '(unsigned-byte 8))))
    (replace frame head)
    (replace frame payload :start1 (length head))
    frame))

(defun ws-close (server conn ws code)
  "Send a close frame with CODE (or the close payload CODE, octets) and
close once it is sent."
  (unless (ws-closing ws)
    (ws-send server conn
             (ws-frame 8 (if (integerp code)
                             (make-array 2 :element-type '(unsigned-byte 8)
                                           :initial-contents (list (ash code -8) (logand code 255)))
                             code)))
    (setf (ws-closing ws) t)))

(defun ws-handshake (server conn ws)
  "Answer the opening handshake if the head is complete; returns the
index after it, or NIL when more is needed."
  (let* ((buf (ws-buf ws))
         (end (find-head-end buf 0 (min (ws-len ws) +max-head+))))
    (when (minusp end)
      (when (>= (ws-len ws) +max-head+)
        (ws-send server conn (octets (head "HTTP/1.1 431 Request Header Fields Too Large"
                                           "Content-Length: 0" "Connection: close")))
        (setf (ws-closing ws) t))
      (return-from ws-handshake nil))
    (let* ((text (sb-ext:octets-to-string buf :end end :external-format :latin-1))
           (key (loop for line in (uiop:split-string text :separator '(#\Newline))
                      for colon = (position #\: line)
                      when (and colon (string-equal "sec-websocket-key" (subseq line 0 colon)))
                        return (string-trim '(#\Space #\Tab #\Return) (subseq line (1+ colon))))))
      (if (or (null key) (zerop (length key)))
          (progn (ws-send server conn (octets (head "HTTP/1.1 400 Bad Request"
                                                    "Content-Length: 0" "Connection: close")))
                 (setf (ws-closing ws) t))
          (progn (ws-send server conn
                          (octets (head "HTTP/1.1 101 Switching Protocols"
                                        "Upgrade: websocket" "Connection: Upgrade"
                                        (format nil "Sec-WebSocket-Accept: ~A"
                                                (websocket-accept key)))))
                 (setf (ws-open ws) t)))
      end)))

(defun ws-frames (server conn ws start)
  "Handle every complete frame in the buffer from START; return the index
of the first byte not consumed."
  (let ((buf (ws-buf ws)) (len (ws-len ws)) (p start))
    (loop
      (when (or (ws-closing ws) (< (- len p) 2)) (return p))
      (let* ((b0 (aref buf p)) (b1 (aref buf (1+ p)))
             (fin (logbitp 7 b0)) (opcode (logand b0 15))
             (n (logand b1 127)) (q (+ p 2)))
        (when (or (logtest b0 #x70) (not (logbitp 7 b1))
                  (not (member opcode '(0 1 2 8 9 10)))
                  (and (>= opcode 8) (or (not fin) (> n 125))))
          (ws-close server conn ws 1002)
          (return len))
        (case n
          (126 (when (< (- len q) 2) (return p))
           (setf n (+ (ash (aref buf q) 8) (aref buf (1+ q))) q (+ q 2)))
          (127 (when (< (- len q) 8) (return p))
           (setf n (loop for i below 8 sum (ash (aref buf (+ q i)) (* 8 (- 7 i))))
                 q (+ q 8))))
        (when (> (+ n (if (ws-message ws) (length (ws-message ws)) 0)) +ws-max-message+)
          (ws-close server conn ws 1009)
          (return len))
        (when (< (- len q) (+ 4 n)) (return p))
        (let ((payload (make-array n :element-type '(unsigned-byte 8))))
          (dotimes (i n)
            (setf (aref payload i) (logxor (aref buf (+ q 4 i)) (aref buf (+ q (mod i 4))))))
          (setf p (+ q 4 n))
          (case opcode
            ((1 2)
             (when (ws-message ws) (ws-close server conn ws 1002) (return len))
             (if fin
                 (ws-send server conn (ws-frame opcode payload))
                 (setf (ws-message ws) payload (ws-opcode ws) opcode)))
            (0
             (unless (ws-message ws) (ws-close server conn ws 1002) (return len))
             (let ((m (concatenate 'octets (ws-message ws) payload)))
               (if fin
                   (progn (setf (ws-message ws) nil)
                          (ws-send server conn (ws-frame (ws-opcode ws) m)))
                   (setf (ws-message ws) m))))
            (8 (ws-close server conn ws (if (= n 1) 1002 (subseq payload 0 (min n 2)))))
            (9 (ws-send server conn (ws-frame 10 payload)))
            (10 nil)))))))

(defun ws-event (server conn mask)
  (declare (type (unsigned-byte 32) mask))
  (let* ((fd (conn-fd conn))
         ;; Per connection, made fresh for every new one (OPEN-CONN clears
         ;; the slot), whoever closed the last one on this descriptor.
         (ws (or (conn-state conn) (setf (conn-state conn) (make-ws)))))
    (when (logtest mask +epollout+)
      (flush-pending server conn))
    (when (logtest mask (logior +epollin+ +epollrdhup+ +epollhup+ +epollerr+))
      (loop until (ws-closing ws)
            do (when (= (ws-len ws) (length (ws-buf ws)))
                 (let ((bigger (make-array (* 2 (length (ws-buf ws)))
                                           :element-type '(unsigned-byte 8))))
                   (replace bigger (ws-buf ws))
                   (setf (ws-buf ws) bigger)))
               (let ((n (socket-recv-into fd (ws-buf ws) :start (ws-len ws)
                                                         :flags +msg-dontwait+)))
                 (cond ((null n) (return))
                       ((zerop n) (close-conn server conn)
                        (return-from ws-event nil))
                       (t (incf (ws-len ws) n)
                          (let ((p 0))
                            (unless (ws-open ws)
                              (setf p (or (ws-handshake server conn ws) (ws-len ws)))
                              (unless (ws-open ws)
                                (setf p (if (ws-closing ws) (ws-len ws) 0))))
                            (when (ws-open ws)
                              (setf p (ws-frames server conn ws p)))
                            (replace (ws-buf ws) (ws-buf ws) :start2 p :end2 (ws-len ws))
                            (decf (ws-len ws) p)))))))
    (when (and (ws-closing ws) (zerop (pending-bytes conn)) (conn-open conn))
      (close-conn server conn))))

(defun create-websocket-server (port &key (host "127.0.0.1") ready)
  "Run an RFC 6455 WebSocket echo server on HOST:PORT (port 0: a free one)
in this thread, on the main job's loop: every text or binary message
(fragmented or not) is sent back, pings get pongs, closes are echoed;
unmasked client frames and other protocol errors close with 1002,
messages above 1 MiB with 1009.  READY, if given, is called with the server
object once it listens (SERVER-PORT, STOP-SERVER).  Closes everything and
returns T when stopped."
  (let ((server (make-server :host host :port port :reuse-port nil :handler #'ws-event)))
    (call-with-example-server server ready (lambda () (run-server server)))))
