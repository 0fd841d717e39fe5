;;;; SPDX-License-Identifier: MIT
;;;; suite-server.lisp - the epoll HTTP/HTTPS server of `make run`
;;;; (examples/server/, system epsilon.examples): its parser, its loop in
;;;; this process, and the main job as a subprocess.

(in-package #:epsilon.linux.tests)

(def-suite server :in epsilon-linux :description "The HTTP/HTTPS server of make run.")

(defpackage #:epsilon.linux.tests.server
  (:use #:cl #:fiveam #:epsilon.net.core #:epsilon.sys.epoll)
  (:import-from #:epsilon.examples.server
                #:parse-request #:find-head-end #:make-server #:run-server
                #:stop-server #:close-server #:server-port #:server-stats)
  (:import-from #:epsilon.linux.tests #:least-consing))

(in-package #:epsilon.linux.tests.server)

(defmacro server-test (name &body body)
  "A test that also checks the library's fd and handle counts are the same
after BODY as before."
  `(test (,name :suite epsilon.linux.tests::server)
     (epsilon.examples.server:fd-limit)   ; its first call makes a libffi handle, kept
     (let ((fds (epsilon.linux:open-fd-count))
           (handles (epsilon.linux:open-handle-count)))
       (unwind-protect (progn ,@body)
         (is (= fds (epsilon.linux:open-fd-count)) "fd leak in ~A" ',name)
         (is (= handles (epsilon.linux:open-handle-count)) "handle leak in ~A" ',name)))))

(defun req (text)
  "TEXT as octets (LATIN-1), with every ~ turned into CRLF: the tests'
shorthand for request heads."
  (let ((out (make-array 0 :element-type '(unsigned-byte 8) :adjustable t :fill-pointer 0)))
    (loop for c across text
          do (if (char= c #\~)
                 (progn (vector-push-extend 13 out) (vector-push-extend 10 out))
                 (vector-push-extend (char-code c) out)))
    (coerce out '(simple-array (unsigned-byte 8) (*)))))

(defun text (octets) (sb-ext:octets-to-string octets :external-format :latin-1))

(defun root () (asdf:system-relative-pathname "epsilon.linux" "../"))

(defconstant +hello-length+ 78)

;;; The parser

(defun parse (text)
  (let ((buf (req text)))
    (let ((end (find-head-end buf 0 (length buf))))
      (if (minusp end)
          :incomplete
          (subseq (multiple-value-list (parse-request buf 0 end)) 0 4)))))

(test (parser-accepts-requests :suite epsilon.linux.tests::server)
  ;; (response-index head-p close-p body-length): 0 /, 1 /stats, 2 404, 3 405
  (loop for (request expected)
          in '(("GET / HTTP/1.1~Host: a~~" (0 nil nil 0))
               ("HEAD / HTTP/1.1~Host: a~~" (0 t nil 0))
               ("GET /?q=1 HTTP/1.1~Host: a~~" (0 nil nil 0))
               ("GET /stats HTTP/1.1~Host: a~~" (1 nil nil 0))
               ("GET /stats?x#y HTTP/1.1~Host: a~~" (1 nil nil 0))
               ("GET /statsx HTTP/1.1~Host: a~~" (2 nil nil 0))
               ("GET /nope HTTP/1.1~Host: a~~" (2 nil nil 0))
               ("HEAD /nope HTTP/1.1~Host: a~~" (2 t nil 0))
               ("DELETE /nope HTTP/1.1~Host: a~~" (2 nil nil 0))
               ("OPTIONS * HTTP/1.1~Host: a~~" (2 nil nil 0))
               ("POST / HTTP/1.1~Host: a~Content-Length: 5~~" (3 nil nil 5))
               ("PUT /stats HTTP/1.1~Host: a~~" (3 nil nil 0))
               ("get / HTTP/1.1~Host: a~~" (3 nil nil 0)) ; methods are case-sensitive
               ("GET / HTTP/1.1~host:a~content-LENGTH:   12  ~~" (0 nil nil 12))
               ("GET / HTTP/1.1~Host: a~Content-Length: 3~Content-Length: 3~~" (0 nil nil 3))
               ("GET / HTTP/1.0~~" (0 nil t 0))
               ("GET / HTTP/1.0~Connection: keep-alive~~" (0 nil nil 0))
               ("GET / HTTP/1.1~Host: a~Connection: close~~" (0 nil t 0))
               ("GET / HTTP/1.1~Host: a~Connection: Keep-Alive, CLOSE~~" (0 nil t 0))
               ("GET / HTTP/1.1~Host: a~X-Empty:~X-Tab:	v	~~" (0 nil nil 0)))
        do (is (equal expected (parse request)) "~S" request)))

(test (parser-says-when-http/1.0-keeps-alive :suite epsilon.linux.tests::server)
  (flet ((keep-alive-p (text)
           (let* ((buf (req text)) (end (find-head-end buf 0 (length buf))))
             (nth-value 4 (parse-request buf 0 end)))))
    (is (keep-alive-p "GET / HTTP/1.0~Connection: keep-alive~~"))
    (is (not (keep-alive-p "GET / HTTP/1.0~~")))
    (is (not (keep-alive-p "GET / HTTP/1.0~Connection: keep-alive, close~~")))
    (is (not (keep-alive-p "GET / HTTP/1.1~Host: a~Connection: keep-alive~~")))))

(test (parser-refuses-malformed-requests :suite epsilon.linux.tests::server)
  ;; 4: 400 Bad Request; 6: 501 (Transfer-Encoding); 7: 505.  All close.
  (loop for (request code)
          in `(("garbage~~" 4)
               ("GET~~" 4)
               ("GET /~~" 4)
               ("GET / ~~" 4)
               ("GET  / HTTP/1.1~Host: a~~" 4)
               ("GET / HTTP/1.1 ~Host: a~~" 4)
               ("GET /HTTP/1.1~Host: a~~" 4)
               ("G(T / HTTP/1.1~Host: a~~" 4)
               (" GET / HTTP/1.1~Host: a~~" 4)
               ("GET http://a/ HTTP/1.1~Host: a~~" 4)
               (,(format nil "GET /~C HTTP/1.1~~Host: a~~~~" (code-char 1)) 4)
               (,(format nil "GET /~C HTTP/1.1~~Host: a~~~~" (code-char 127)) 4)
               ("GET / HTTX/1.1~Host: a~~" 4)
               ("GET / HTTP/1.x~Host: a~~" 4)
               ("GET / HTTP/11~Host: a~~" 4)
               (,(format nil "GET / HTTP/1.1~CHost: a~~~~" #\Newline) 4)
               ("GET / HTTP/1.1~~" 4)                             ; no Host
               ("GET / HTTP/1.1~Host: a~Host: b~~" 4)
               ("GET / HTTP/1.0~Host: a~Host: b~~" 4)
               ("GET / HTTP/1.1~Host a~~" 4)
               ("GET / HTTP/1.1~Host : a~~" 4)
               ("GET / HTTP/1.1~Host: a~ folded~~" 4)
               ("GET / HTTP/1.1~: a~Host: a~~" 4)
               (,(format nil "GET / HTTP/1.1~~Host: a~Cb~~~~" (code-char 1)) 4)
               (,(format nil "GET / HTTP/1.1~~Host: a~Cb~~~~" #\Return) 4)
               (,(format nil "GET / HTTP/1.1~~Host: a~Cb~~~~" #\Newline) 4)
               ("GET / HTTP/1.1~Host: a~Content-Length: x~~" 4)
               ("GET / HTTP/1.1~Host: a~Content-Length: -1~~" 4)
               ("GET / HTTP/1.1~Host: a~Content-Length: 1 2~~" 4)
               ("GET / HTTP/1.1~Host: a~Content-Length:~~" 4)
               ("GET / HTTP/1.1~Host: a~Content-Length: 1234567890123456~~" 4)
               ("GET / HTTP/1.1~Host: a~Content-Length: 5~Content-Length: 6~~" 4)
               ("GET / HTTP/1.1~Host: a~Transfer-Encoding: chunked~~" 6)
               ("GET / HTTP/2.0~Host: a~~" 7)
               ("GET / HTTP/1.2~Host: a~~" 7))
        do (is (equal (list code nil t 0) (parse request)) "~S" request)))

(test (parser-fast-request-line-agrees-with-the-general-one :suite epsilon.linux.tests::server)
  ;; "GET / HTTP/1.1" is compared as two words; "GET /? HTTP/1.1" (the
  ;; query does not count) goes through the part parsers.  Same answers,
  ;; whatever the headers, at any offset in the buffer.
  (loop for headers in '("Host: a~~" "~" "Host: a~Host: b~~" "host:a~content-LENGTH:   12  ~~"
                         "Host: a~Connection: close~~" "Host: a~Connection: keep-alive~~"
                         "Host: a~Transfer-Encoding: chunked~~" "Host a~~" "Host: a~ folded~~"
                         "Host: a~Content-Length: 5~Content-Length: 6~~" "X: 1~Host: 127.0.0.1:8080~~")
        do (loop for pad from 0 below 9
                 do (let* ((padding (make-string pad :initial-element #\x))
                           (fast (req (concatenate 'string padding "GET / HTTP/1.1~" headers)))
                           (general (req (concatenate 'string padding "GET /? HTTP/1.1~" headers)))
                           (fast-end (find-head-end fast pad (length fast)))
                           (general-end (find-head-end general pad (length general))))
                      (is (= (length fast) fast-end))
                      (is (equal (multiple-value-list (parse-request general pad general-end))
                                 (multiple-value-list (parse-request fast pad fast-end)))
                          "~S at offset ~D" headers pad)))))

(test (parser-finds-the-end-of-a-head :suite epsilon.linux.tests::server)
  (is (eq :incomplete (parse "GET / HTTP/1.1~Host: a~")))
  (is (eq :incomplete (parse "GET / HTTP/1.1")))
  (is (eq :incomplete (parse "")))
  (let ((buf (req "xxGET / HTTP/1.1~Host: a~~GET /nope HTTP/1.1~Host: a~~")))
    (let ((first (find-head-end buf 2 (length buf))))
      (is (= 29 first))
      (is (equal '(0 nil nil 0 nil) (multiple-value-list (parse-request buf 2 first))))
      (is (= (length buf) (find-head-end buf first (length buf))))
      (is (= -1 (find-head-end buf first (1- (length buf)))))))
  ;; Every split of a request: incomplete until the last byte.
  (let ((buf (req "GET / HTTP/1.1~Host: a~~")))
    (loop for end from 0 below (length buf)
          do (is (= -1 (find-head-end buf 0 end))))
    (signals type-error (find-head-end buf 0 (1+ (length buf))))))

(test (hello-is-the-canonical-response :suite epsilon.linux.tests::server)
  (let ((hello (epsilon.examples.server:hello-response)))
    (is (= +hello-length+ (length hello)))
    (is (string= (format nil "HTTP/1.1 200 OK~C~CContent-Type: text/plain~C~CContent-Length: 13~C~C~C~CHello, World!"
                         #\Return #\Newline #\Return #\Newline #\Return #\Newline #\Return #\Newline)
                 (text hello)))
    ;; The benchmark's copy, when it is there.
    (let ((file (merge-pathnames "bench/response.txt" (root))))
      (when (probe-file file)
        (with-open-file (in file :element-type '(unsigned-byte 8))
          (let ((bytes (make-array (file-length in) :element-type '(unsigned-byte 8))))
            (read-sequence bytes in)
            (is (equalp bytes hello))))))))

;;; The loop, in this process

(defmacro with-running-server ((server &rest options) &body body)
  "Run BODY with SERVER made by MAKE-SERVER with OPTIONS and its loop
running in a thread; stop, join and close it on every exit."
  (let ((thread (gensym "THREAD")))
    `(let* ((,server (make-server :port 0 ,@options))
            (,thread (sb-thread:make-thread (lambda () (run-server ,server))
                                            :name "test server loop")))
       (unwind-protect (progn ,@body)
         (stop-server ,server)
         (sb-thread:join-thread ,thread :default nil :timeout 30)
         (close-server ,server)))))

(defun recv-exactly (fd buffer scratch n)
  "Receive N bytes from FD; the first (LENGTH BUFFER) go to BUFFER.  Reads
always land at offset 0 (of BUFFER, then of SCRATCH), so nothing is consed."
  (declare (type fixnum n))
  (let ((got 0))
    (declare (type fixnum got))
    (loop while (< got n)
          do (let ((k (if (zerop got)
                          (socket-recv-into fd buffer :end (min n (length buffer)) :timeout 10)
                          (socket-recv-into fd scratch :end (min (- n got) (length scratch))
                                                       :timeout 10))))
               (when (zerop k) (return))
               (incf got k)))
    got))

(defun read-to-eof (fd)
  (let ((out (make-array 0 :element-type '(unsigned-byte 8) :adjustable t :fill-pointer 0)))
    (loop (let ((v (socket-recv fd 65536 0 :timeout 10)))
            (when (zerop (length v)) (return (text (coerce out '(simple-array (unsigned-byte 8) (*))))))
            (loop for b across v do (vector-push-extend b out))))))

(server-test loop-serves-keep-alive-and-pipelined-requests
  (with-running-server (server)
    (with-client-socket (fd :host "127.0.0.1" :port (server-port server) :timeout 10)
      (let ((buffer (make-array 4096 :element-type '(unsigned-byte 8)))
            (scratch (make-array 4096 :element-type '(unsigned-byte 8))))
        (dotimes (i 3)
          (socket-send fd (req "GET / HTTP/1.1~Host: a~~"))
          (is (= +hello-length+ (recv-exactly fd buffer scratch +hello-length+)))
          (is (equalp (epsilon.examples.server:hello-response) (subseq buffer 0 +hello-length+))))
        ;; A request in pieces, byte by byte.
        (let ((r (req "GET / HTTP/1.1~Host: a~~")))
          (dotimes (i (length r))
            (socket-send fd r :start i :end (1+ i))
            (sleep 0.001))
          (is (= +hello-length+ (recv-exactly fd buffer scratch +hello-length+))))
        ;; HTTP/1.0 with keep-alive: the response says so, the connection stays.
        (socket-send fd (req "GET / HTTP/1.0~Connection: keep-alive~~"))
        (let ((n (+ +hello-length+ 24)))
          (is (= n (recv-exactly fd buffer scratch n)))
          (is (search "Connection: keep-alive" (text (subseq buffer 0 n))))
          (is (search "Hello, World!" (text (subseq buffer 0 n)))))
        ;; A body is skipped, the next request answered.
        (socket-send fd (req "POST / HTTP/1.1~Host: a~Content-Length: 10~~0123456789GET / HTTP/1.1~Host: a~~"))
        (let ((n (+ (length (svref epsilon.examples.server::*responses* 3)) +hello-length+)))
          (is (= n (recv-exactly fd buffer scratch n)))
          (is (search "405 Method Not Allowed" (text (subseq buffer 0 n))))
          (is (search "Hello, World!" (text (subseq buffer 0 n)))))))
    (is (= 7 (getf (server-stats server) :requests)))))

(server-test loop-answers-400-and-closes
  (with-running-server (server)
    (with-client-socket (fd :host "127.0.0.1" :port (server-port server) :timeout 10)
      ;; A good request, a bad one, and one more the server must not answer.
      (socket-send fd (req "GET / HTTP/1.1~Host: a~~GET nonsense~~GET / HTTP/1.1~Host: a~~"))
      (let ((all (read-to-eof fd)))
        (is (eql 0 (search "HTTP/1.1 200 OK" all)))
        (is (search "HTTP/1.1 400 Bad Request" all))
        (is (search "Connection: close" all))
        (is (= 1 (count-substrings "HTTP/1.1 200" all)) "~S" all)))))

(defun count-substrings (needle haystack)
  (loop with start = 0
        for p = (search needle haystack :start2 start)
        while p count t do (setf start (1+ p))))

(server-test loop-closes-idle-connections
  (with-running-server (server :idle-timeout 0.3 :tick 0.05)
    (with-client-socket (fd :host "127.0.0.1" :port (server-port server) :timeout 10)
      (socket-send fd (req "GET / HTTP/1.1~Host: a~~"))
      (let ((start (get-internal-real-time))
            (buffer (make-array 4096 :element-type '(unsigned-byte 8))))
        (is (= +hello-length+ (recv-exactly fd buffer buffer +hello-length+)))
        ;; Then nothing: the server closes it after the idle timeout.
        (is (zerop (length (socket-recv fd 100 0 :timeout 10))))
        (let ((seconds (/ (- (get-internal-real-time) start) internal-time-units-per-second)))
          (is (<= 0.25 seconds 5) "closed after ~,2F s" seconds))))
    (is (= 1 (getf (server-stats server) :idle-closed)))
    (is (= 0 (getf (server-stats server) :connections)))))

(server-test loop-conses-nothing-per-request
  (with-running-server (server)
    (with-client-socket (fd :host "127.0.0.1" :port (server-port server) :timeout 10)
      (let ((request (req "GET / HTTP/1.1~Host: a~~"))
            (pipelined (apply #'concatenate '(simple-array (unsigned-byte 8) (*))
                              (loop repeat 16 collect (req "GET / HTTP/1.1~Host: a~~"))))
            (buffer (make-array 4096 :element-type '(unsigned-byte 8)))
            (scratch (make-array 4096 :element-type '(unsigned-byte 8))))
        (flet ((measure (n)
                 (let ((before (sb-ext:get-bytes-consed)))
                   (dotimes (i n)
                     (socket-send fd request)
                     (recv-exactly fd buffer scratch +hello-length+))
                   (- (sb-ext:get-bytes-consed) before)))
               (measure-pipelined (n)
                 (let ((before (sb-ext:get-bytes-consed)))
                   (dotimes (i n)
                     (socket-send fd pipelined)
                     (recv-exactly fd buffer scratch (* 16 +hello-length+)))
                   (- (sb-ext:get-bytes-consed) before))))
          (measure 1000)
          (measure-pipelined 100)
          (let ((requests-before (getf (server-stats server) :requests)))
            (is (= 0 (least-consing (lambda () (values (measure 10000) 10000))))
                "bytes consed over 10,000 requests (client and server)")
            (is (= 0 (least-consing (lambda () (values (measure-pipelined 1000) 16000))))
                "bytes consed over 16,000 pipelined requests")
            (is (<= 26000 (- (getf (server-stats server) :requests) requests-before)))
            (is (equalp (epsilon.examples.server:hello-response)
                        (subseq buffer 0 +hello-length+)))))))))

;; HTTPS in steady state: the server's TLS sends (and the client's) once
;; consed a value cell per call, 16 bytes (bench row 4's 17.5 per request).
(server-test loop-conses-nothing-per-https-request
  (with-running-server (server :port nil :tls-port 0
                               :cert-file (epsilon.linux.tests::cert "server.pem")
                               :key-file (epsilon.linux.tests::cert "server.key"))
    (epsilon.crypto:with-tls-context (ctx :ca-file (epsilon.linux.tests::cert "ca.pem"))
      (with-client-socket (fd :host "127.0.0.1"
                              :port (epsilon.examples.server:server-tls-port server) :timeout 10)
        (epsilon.crypto:with-tls-connection (tls ctx fd :hostname "localhost" :timeout 10)
          (epsilon.crypto:tls-handshake tls)
          (let ((request (req "GET / HTTP/1.1~Host: a~~"))
                (buffer (make-array 4096 :element-type '(unsigned-byte 8))))
            (flet ((measure (n)
                     (let ((before (sb-ext:get-bytes-consed)))
                       (dotimes (i n)
                         (epsilon.crypto:tls-send tls request)
                         (let ((got 0))
                           (declare (type fixnum got))
                           (loop while (< got +hello-length+)
                                 do (let ((k (epsilon.crypto:tls-recv-into tls buffer :start got)))
                                      (when (zerop k) (return))
                                      (incf got k)))))
                       (- (sb-ext:get-bytes-consed) before))))
              (measure 1000)
              ;; Finalizers an earlier suite left run now, not in the count.
              (epsilon.linux.tests::collect-garbage)
              (let ((requests-before (getf (server-stats server) :requests)))
                (let ((bytes (least-consing (lambda () (values (measure 5000) 5000)))))
                  (is (= 0 bytes)
                      "~D bytes consed over 5,000 HTTPS requests (client and server; ~
                       threads alive: ~S)"
                      bytes (mapcar #'sb-thread:thread-name (sb-thread:list-all-threads))))
                (is (<= 5000 (- (getf (server-stats server) :requests) requests-before)))
                (is (equalp (epsilon.examples.server:hello-response)
                            (subseq buffer 0 +hello-length+)))))))))))

(server-test make-server-refuses-a-port-in-use-unless-told-to-join
  ;; Both would set SO_REUSEPORT: without the check the second would
  ;; silently share the first one's port.
  (let ((first (make-server :port 0)))
    (unwind-protect
         (let ((port (server-port first)))
           (let ((e (handler-case (progn (close-server (make-server :port port)) nil)
                      (epsilon.examples.server:listen-error (e) e))))
             (is (typep e 'epsilon.examples.server:listen-error))
             (is (typep e 'socket-error))
             (when e
               (is (eq :eaddrinuse (epsilon-error-name e)))
               (is (= port (epsilon.examples.server:listen-error-port e)))
               (is (search (format nil "127.0.0.1:~D" port) (princ-to-string e)))))
           ;; Another loop of the same program joins with :JOIN.
           (let ((second (make-server :port port :reuse-port :join)))
             (unwind-protect (is (= port (server-port second)))
               (close-server second))))
      (close-server first))))

;;; The main job, as a subprocess

(defstruct main process port tls-port output)

(defun start-main (&rest environment)
  "Start examples/main.lisp in a child SBCL with ENVIRONMENT (strings
\"NAME=value\") before the inherited one; wait for its PORT and TLS_PORT
lines (bounded)."
  (let* ((process (sb-ext:run-program "sbcl"
                                      (list "--script"
                                            (namestring (merge-pathnames "examples/main.lisp" (root))))
                                      :search t
                                      :environment (append environment (sb-ext:posix-environ))
                                      :output :stream :error nil :wait nil))
         (main (make-main :process process)))
    (handler-case
        (sb-ext:with-timeout 120
          (loop for line = (read-line (sb-ext:process-output process) nil)
                while line
                do (cond ((eql 0 (search "PORT " line))
                          (setf (main-port main) (parse-integer line :start 5)))
                         ((eql 0 (search "TLS_PORT " line))
                          (setf (main-tls-port main) (parse-integer line :start 9))
                          (return)))))
      (sb-ext:timeout () nil))
    main))

(defun main-pid (main) (sb-ext:process-pid (main-process main)))

(defun main-fd-count (main)
  "How many descriptors the main job has open (ls(1): DIRECTORY chokes on
descriptors closed while it lists them)."
  (parse-integer (run-command "/bin/sh" "-c" (format nil "ls /proc/~D/fd | wc -l" (main-pid main)))))

(defun main-cpu-ticks (main)
  "utime + stime of the main job, in clock ticks."
  (let* ((stat (with-open-file (in (format nil "/proc/~D/stat" (main-pid main))) (read-line in)))
         (fields (uiop:split-string (subseq stat (1+ (position #\) stat))) :separator " ")))
    ;; After the ")": state is field 3, utime 14 and stime 15 (1-based).
    (+ (parse-integer (nth 12 fields)) (parse-integer (nth 13 fields)))))

(defun stop-main (main)
  "SIGINT, then the exit code (NIL when it did not exit in 60 s) and the rest
of the output."
  (let ((process (main-process main)))
    (when (sb-ext:process-alive-p process)
      (sb-ext:process-kill process sb-unix:sigint))
    (let ((rest (handler-case
                    (sb-ext:with-timeout 60
                      (with-output-to-string (s)
                        (loop for line = (read-line (sb-ext:process-output process) nil)
                              while line do (write-line line s))))
                  (sb-ext:timeout () "")))
          (code (handler-case (sb-ext:with-timeout 60
                                (sb-ext:process-wait process)
                                (sb-ext:process-exit-code process))
                  (sb-ext:timeout () nil))))
      (when (sb-ext:process-alive-p process)
        (sb-ext:process-kill process 9))
      (ignore-errors (close (sb-ext:process-output process)))
      (values code rest))))

(defmacro with-main ((main &rest environment) &body body)
  `(let ((,main (start-main ,@environment)))
     (unwind-protect (progn ,@body)
       (when (sb-ext:process-alive-p (main-process ,main))
         (stop-main ,main)))))

(defun run-command (program &rest args)
  "Run PROGRAM with ARGS (bounded to 120 s): its output and exit code."
  (let* ((out (make-string-output-stream))
         (p (sb-ext:run-program "/usr/bin/timeout" (list* "120" program args)
                                :search nil :output out :error nil)))
    (values (get-output-stream-string out) (sb-ext:process-exit-code p))))

(defun exchange (port octets)
  "Send OCTETS on a new connection to PORT and read everything until the
server closes it."
  (with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
    (socket-send fd octets)
    (read-to-eof fd)))

(test (main-job-serves-http-and-https-and-stops-on-sigint :suite epsilon.linux.tests::server)
  (let* ((main (start-main "PORT=0" "TLS_PORT=0"))
         (port (main-port main))
         (tls-port (main-tls-port main))
         (ca (namestring (merge-pathnames "build/run-certs/ca.pem" (root)))))
    (unwind-protect
         (progn
           (is (integerp port))
           (is (integerp tls-port))
           (when (and port tls-port)
             (let ((base (main-fd-count main)))
               ;; curl over HTTP and HTTPS (the generated CA, and -k).
               (is (equal '("Hello, World!" 0)
                          (multiple-value-list (run-command "/usr/bin/curl" "-s" (format nil "http://127.0.0.1:~D/" port)))))
               (is (equal '("Hello, World!" 0)
                          (multiple-value-list
                           (run-command "/usr/bin/curl" "-s" "--cacert" ca (format nil "https://localhost:~D/" tls-port)))))
               (is (equal '("Hello, World!" 0)
                          (multiple-value-list
                           (run-command "/usr/bin/curl" "-s" "--cacert" ca (format nil "https://127.0.0.1:~D/" tls-port)))))
               (is (equal '("Hello, World!" 0)
                          (multiple-value-list (run-command "/usr/bin/curl" "-sk" (format nil "https://127.0.0.1:~D/" tls-port)))))
               ;; Exactly the canonical bytes.
               (is (string= (text (epsilon.examples.server:hello-response))
                            (exchange port (req "GET / HTTP/1.1~Host: a~Connection: close~~"))))
               ;; 100 pipelined requests in one write, answered in order:
               ;; / and /nope alternate, then a last one closes.
               (let* ((requests (loop for i below 100
                                      collect (if (evenp i)
                                                  "GET / HTTP/1.1~Host: a~~"
                                                  "GET /nope HTTP/1.1~Host: a~~")))
                      (all (exchange port (req (format nil "~{~A~}GET / HTTP/1.1~~Host: a~~Connection: close~~~~"
                                                       requests))))
                      (statuses (loop with start = 0
                                      for p = (search "HTTP/1.1 " all :start2 start)
                                      while p collect (subseq all (+ p 9) (+ p 12))
                                      do (setf start (1+ p)))))
                 (is (= 101 (length statuses)))
                 (is (equal (append (loop for i below 100 collect (if (evenp i) "200" "404")) '("200"))
                            statuses)))
               ;; Errors.
               (let ((bad (exchange port (req "GET / HTTP/1.1~Host: a~~NONSENSE~~"))))
                 (is (search "HTTP/1.1 400 Bad Request" bad))
                 (is (search "Connection: close" bad)))
               (is (eql 0 (search "HTTP/1.1 404 Not Found"
                                  (exchange port (req "GET /nope HTTP/1.1~Host: a~Connection: close~~")))))
               (is (eql 0 (search "HTTP/1.1 405 Method Not Allowed"
                                  (exchange port (req "DELETE / HTTP/1.1~Host: a~Connection: close~~")))))
               (is (eql 0 (search "HTTP/1.1 413"
                                  (exchange port (req (format nil "GET / HTTP/1.1~~Host: a~~X-Big: ~A~~~~"
                                                              (make-string 10000 :initial-element #\x)))))))
               (is (eql 0 (search "HTTP/1.1 505"
                                  (exchange port (req "GET / HTTP/3.0~Host: a~~")))))
               (is (eql 0 (search "HTTP/1.1 501"
                                  (exchange port (req "POST / HTTP/1.1~Host: a~Transfer-Encoding: chunked~~")))))
               (let ((head (exchange port (req "HEAD / HTTP/1.1~Host: a~Connection: close~~"))))
                 (is (search "Content-Length: 13" head))
                 (is (not (search "Hello" head))))
               ;; /stats over HTTPS.
               (multiple-value-bind (stats code)
                   (run-command "/usr/bin/curl" "-sk" (format nil "https://127.0.0.1:~D/stats" tls-port))
                 (is (= 0 code))
                 (is (search "connections 1" stats) "~A" stats)
                 (is (search "requests " stats))
                 (is (search "events-per-second " stats))
                 (is (search "bytes-consed-per-request " stats)))
               ;; 10,000 concurrent keep-alive connections, from another process.
               (let ((c10k (namestring (merge-pathnames "build/tests/tools/c10k" (root)))))
                 (multiple-value-bind (out code) (run-command c10k (princ-to-string port) "10000" "100")
                   (is (= 0 code) "c10k: ~A" out)
                   (is (search "OK 10000 FAIL 0" out) "c10k: ~A" out)
                   (is (search "SERVER_CONNECTIONS 10000" out) "c10k: ~A" out)))
               ;; Every connection closed: back to the descriptors it started with.
               (is (loop repeat 100
                         thereis (= base (main-fd-count main))
                         do (sleep 0.05))
                   "the main job holds ~D descriptors, ~D at the start" (main-fd-count main) base)))
           ;; Ctrl-C: exit 0, every library descriptor closed.
           (multiple-value-bind (code rest) (stop-main main)
             (is (eql 0 code) "exit code ~S; output ~A" code rest)
             (is (search "library descriptors open: 0" rest) "output: ~A" rest)))
      (when (sb-ext:process-alive-p (main-process main))
        (sb-ext:process-kill (main-process main) 9)))))

(test (main-job-sheds-connections-when-out-of-descriptors :suite epsilon.linux.tests::server)
  (with-main (main "PORT=0" "TLS_PORT=0" "FD_LIMIT=40")
    (let ((port (main-port main))
          (fds '()))
      (is (integerp port))
      (when port
        (unwind-protect
             (progn
               ;; More connections than the server has descriptors.
               (dotimes (i 80)
                 (let ((fd (socket-create +af-inet+ +sock-stream+ 0)))
                   (push fd fds)
                   (socket-connect fd (make-inet-address "127.0.0.1" port) :timeout 10)))
               (sleep 0.5)
               ;; The listener does not spin: under 0.2 s of CPU in 1 s.
               (let ((before (main-cpu-ticks main)))
                 (sleep 1)
                 (is (< (- (main-cpu-ticks main) before) 20)
                     "~D ticks of CPU in 1 s" (- (main-cpu-ticks main) before))))
          (mapc #'socket-close fds))
        ;; Descriptors again: it serves, and says how many it shed.
        (let ((stats (loop repeat 50
                           for s = (ignore-errors
                                    (exchange port (req "GET /stats HTTP/1.1~Host: a~Connection: close~~")))
                           when (and s (search "200 OK" s)) return s
                           do (sleep 0.1))))
          (is (search "200 OK" stats) "~S" stats)
          (let ((p (search "shed " stats)))
            (is (and p (plusp (parse-integer stats :start (+ p 5) :junk-allowed t)))
                "~A" stats)))
        (is (search "Hello, World!" (exchange port (req "GET / HTTP/1.1~Host: a~Connection: close~~")))))
      (is (eql 0 (stop-main main))))))

;;; Backpressure and TLS, in this process

(server-test loop-resumes-writes-on-epollout
  ;; 100,000 pipelined requests (7.8 MB of responses, more than the socket buffers hold) sent by a thread
  ;; while this one reads slowly at first: the server fills the socket,
  ;; keeps the rest pending, stops reading above its high-water mark, and
  ;; resumes on EPOLLOUT.  Every response arrives, in order.
  (with-running-server (server)
    (with-client-socket (fd :host "127.0.0.1" :port (server-port server) :timeout 30)
      (let* ((n 100000)
             (one (req "GET / HTTP/1.1~Host: a~~"))
             (batch (apply #'concatenate '(simple-array (unsigned-byte 8) (*))
                           (loop repeat 100 collect one)))
             (sender (sb-thread:make-thread
                      (lambda ()
                        (dotimes (i (/ n 100) t)
                          (socket-send fd batch :timeout 30)))))
             (expected (epsilon.examples.server:hello-response))
             (buffer (make-array 65536 :element-type '(unsigned-byte 8)))
             (total 0)
             (wrong 0))
        (sleep 1)                       ; let the server hit the full socket
        (is (plusp (epsilon.examples.server::conn-out-len
                    (svref (epsilon.examples.server::server-conns server)
                           (loop for c across (epsilon.examples.server::server-conns server)
                                 when (and c (epsilon.examples.server::conn-open c))
                                   return (epsilon.examples.server::conn-fd c)))))
            "output pending while the client does not read")
        (loop while (< total (* n +hello-length+))
              do (let ((k (socket-recv-into fd buffer :timeout 30)))
                   (when (zerop k) (return))
                   (dotimes (i k)
                     (unless (= (aref buffer i) (aref expected (mod (+ total i) +hello-length+)))
                       (incf wrong)))
                   (incf total k)))
        (is (eq t (sb-thread:join-thread sender :default nil :timeout 30)))
        (is (= (* n +hello-length+) total))
        (is (zerop wrong))
        (is (= n (getf (server-stats server) :requests)))))))

(server-test loop-serves-tls-with-pipelining
  (with-running-server (server :port nil :tls-port 0
                               :cert-file (epsilon.linux.tests::cert "server.pem")
                               :key-file (epsilon.linux.tests::cert "server.key"))
    (epsilon.crypto:with-tls-context (ctx :ca-file (epsilon.linux.tests::cert "ca.pem"))
      (with-client-socket (fd :host "127.0.0.1"
                              :port (epsilon.examples.server:server-tls-port server) :timeout 10)
        (epsilon.crypto:with-tls-connection (tls ctx fd :hostname "localhost" :timeout 10)
          (epsilon.crypto:tls-handshake tls)
          (let ((requests (apply #'concatenate '(simple-array (unsigned-byte 8) (*))
                                 (loop for i below 1000
                                       collect (req (if (evenp i)
                                                        "GET / HTTP/1.1~Host: a~~"
                                                        "GET /nope HTTP/1.1~Host: a~~")))))
                (got (make-array 0 :element-type '(unsigned-byte 8) :adjustable t :fill-pointer 0))
                (size (* 500 (+ +hello-length+
                                (length (svref epsilon.examples.server::*responses* 2))))))
            (let ((sender (sb-thread:make-thread
                           (lambda () (epsilon.crypto:tls-send tls requests)))))
              (loop while (< (length got) size)
                    do (let ((v (epsilon.crypto:tls-recv tls 65536)))
                         (when (zerop (length v)) (return))
                         (loop for b across v do (vector-push-extend b got))))
              (sb-thread:join-thread sender :default nil :timeout 30))
            (let ((all (text (coerce got '(simple-array (unsigned-byte 8) (*))))))
              (is (= size (length all)))
              (is (= 500 (count-substrings "HTTP/1.1 200" all)))
              (is (= 500 (count-substrings "HTTP/1.1 404" all)))
              (is (eql 0 (search "HTTP/1.1 200" all)))
              (is (= (+ +hello-length+ 0) (search "HTTP/1.1 404" all))))))))
    (is (= 1000 (getf (server-stats server) :requests)))))

;;; A failed start: one line, no backtrace, exit code 1

(defun run-main-to-exit (seconds &rest environment)
  "Run examples/main.lisp with ENVIRONMENT until it exits (killed after
SECONDS): its exit code (NIL when killed), stdout and stderr."
  (let* ((out (make-string-output-stream))
         (err (make-string-output-stream))
         (p (sb-ext:run-program "/usr/bin/timeout"
                                (list "-s" "KILL" (princ-to-string seconds) "sbcl" "--script"
                                      (namestring (merge-pathnames "examples/main.lisp" (root))))
                                :environment (append environment
                                                     (remove-if (lambda (e)
                                                                  (find (subseq e 0 (1+ (or (position #\= e) -1)))
                                                                        environment
                                                                        :test (lambda (a b) (eql 0 (search a b)))))
                                                                (sb-ext:posix-environ)))
                                :output out :error err)))
    (values (let ((code (sb-ext:process-exit-code p))) (if (= code 137) nil code))
            (get-output-stream-string out)
            (get-output-stream-string err))))

(defun one-line-p (text)
  (let ((trimmed (string-right-trim '(#\Newline) text)))
    (and (plusp (length trimmed)) (not (find #\Newline trimmed)))))

(defun hello-count (port n)
  "How many of N requests, each on a new connection to PORT, get Hello."
  (loop repeat n
        count (search "Hello, World!"
                      (ignore-errors
                       (exchange port (req "GET / HTTP/1.1~Host: a~Connection: close~~"))))))

(test (main-job-refuses-ports-in-use :suite epsilon.linux.tests::server)
  ;; A second `make run` on the first's ports must not join it through
  ;; SO_REUSEPORT (the kernel would split the connections between them).
  (with-main (first "PORT=0" "TLS_PORT=0")
    (let ((port (main-port first))
          (tls-port (main-tls-port first)))
      (is (integerp port))
      (is (integerp tls-port))
      (when (and port tls-port)
        (loop for (env variable busy)
                in (list (list (list (format nil "PORT=~D" port) (format nil "TLS_PORT=~D" tls-port))
                               "PORT" port)
                         (list (list "PORT=0" (format nil "TLS_PORT=~D" tls-port))
                               "TLS_PORT" tls-port))
              do (multiple-value-bind (code out err) (apply #'run-main-to-exit 90 env)
                   (is (eql 1 code) "exit code ~S, stdout ~S, stderr ~S" code out err)
                   (is (string= "" out) "stdout ~S" out)
                   (is (one-line-p err) "stderr is not one line: ~S" err)
                   (is (search (format nil "127.0.0.1:~D" busy) err) "~S" err)
                   (is (search "in use" err) "~S" err)
                   (is (search (format nil "~A=0" variable) err) "~S" err)
                   (is (not (search "debugger" (string-downcase err))) "~S" err))
                 ;; The first still answers every request, on both ports.
                 (is (= 200 (hello-count port 200)))
                 (is (equal '("Hello, World!" 0)
                            (multiple-value-list
                             (run-command "/usr/bin/curl" "-sk" (format nil "https://127.0.0.1:~D/" tls-port))))))
        (is (eql 0 (stop-main first)))))))

(test (main-job-says-in-one-line-why-it-cannot-start :suite epsilon.linux.tests::server)
  ;; No certificate tool: an openssl that fails, a certificate directory
  ;; not made yet.
  (let ((bin (format nil "/tmp/epsilon-fake-bin-~D/" (sb-unix:unix-getpid)))
        (certs (format nil "/tmp/epsilon-no-certs-~D/" (sb-unix:unix-getpid))))
    (ensure-directories-exist bin)
    (unwind-protect
         (progn
           (with-open-file (o (merge-pathnames "openssl" bin) :direction :output :if-exists :supersede)
             (format o "#!/bin/sh~%echo 'openssl: not installed' >&2~%exit 127~%"))
           (run-command "/bin/chmod" "+x" (namestring (merge-pathnames "openssl" bin)))
           (multiple-value-bind (code out err)
               (run-main-to-exit 90 "PORT=0" "TLS_PORT=0" (format nil "CERT_DIR=~A" certs)
                                 (format nil "PATH=~A:~A" bin (sb-ext:posix-getenv "PATH")))
             (is (eql 1 code) "exit code ~S, stderr ~S" code err)
             (is (string= "" out) "stdout ~S" out)
             (is (one-line-p err) "~S" err)
             (is (search "could not make the certificates" err) "~S" err)
             (is (search "openssl" err) "~S" err)))
      (uiop:delete-directory-tree (pathname bin) :validate t :if-does-not-exist :ignore)
      (uiop:delete-directory-tree (pathname certs) :validate t :if-does-not-exist :ignore)))
  ;; An address not of this machine (TEST-NET-1).
  (multiple-value-bind (code out err) (run-main-to-exit 90 "HOST=192.0.2.1" "PORT=0" "TLS_PORT=0")
    (is (eql 1 code) "exit code ~S, stderr ~S" code err)
    (is (string= "" out) "stdout ~S" out)
    (is (one-line-p err) "~S" err)
    (is (search "192.0.2.1:0" err) "~S" err)
    (is (search "not an address of this machine" err) "~S" err))
  ;; A value that is not a number.
  (multiple-value-bind (code out err) (run-main-to-exit 90 "PORT=eighty")
    (is (eql 1 code) "exit code ~S, stderr ~S" code err)
    (is (string= "" out) "stdout ~S" out)
    (is (one-line-p err) "~S" err)
    (is (search "PORT=eighty is not an integer" err) "~S" err)))
