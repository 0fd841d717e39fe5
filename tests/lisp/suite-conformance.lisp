;;;; SPDX-License-Identifier: MIT
;;;; suite-conformance.lisp - the package documentation, checked against the
;;;; packages: every name it shows is exported from the package its section
;;;; names, with a compatible lambda list, and its examples (corrected per
;;;; DESIGN section 6) behave as shown, on real loopback sockets.
;;;;
;;;; The documentation is the copy in tests/data/epsilon-linux-package.md
;;;; (tests never read ../shared).

(in-package #:epsilon.linux.tests)

(eval-when (:compile-toplevel :load-toplevel :execute)
  (require :sb-introspect))

(def-suite conformance :in epsilon-linux
  :description "The package documentation's names, lambda lists and examples.")
(in-suite conformance)

;;; Reading the documentation

(defun package-documentation-path ()
  (merge-pathnames "../tests/data/epsilon-linux-package.md"
                   (asdf:system-source-directory "epsilon.linux")))

(defparameter *section-packages*
  '(("Epoll Event Loop" . "EPSILON.SYS.EPOLL")
    ("Network Operations" . "EPSILON.NET.CORE")
    ("TLS Support" . "EPSILON.CRYPTO"))
  "The documentation's ### sections and the package each one documents.")

(defun section-package (heading)
  (cdr (find-if (lambda (entry) (search (car entry) heading)) *section-packages*)))

(defun documented-lines ()
  "The documentation's lines with their line numbers and the package of the
### section they are in (NIL outside the three API sections)."
  (with-open-file (in (package-documentation-path) :external-format :utf-8)
    (loop with package = nil
          for line = (read-line in nil)
          for n from 1
          while line
          do (cond ((and (>= (length line) 4) (string= "### " line :end2 4))
                    (setf package (section-package line)))
                   ((and (>= (length line) 3) (string= "## " line :end2 3))
                    (setf package nil)))
          collect (list n line package))))

(defun scan-all (regex string)
  "Every match of REGEX's first group in STRING (a tiny matcher: REGEX is
a prefix and a closing delimiter)."
  (destructuring-bind (open close) regex
    (loop with start = 0
          for i = (search open string :start2 start)
          while i
          collect (let* ((from (+ i (length open)))
                         (to (search close string :start2 from)))
                    (setf start (if to (+ to (length close)) (length string)))
                    (subseq string from (or to (length string)))))))

(defun documented-functions ()
  "Every **`name`** `(lambda list)` of the three sections: a list of
(name lambda-list-string package line)."
  (loop for (n line package) in (documented-lines)
        when package
          nconc (loop for name in (scan-all '("**`" "`** `(") line)
                      for open = (+ (search (format nil "**`~A`** `(" name) line)
                                    (length name) 8)
                      for close = (search ")`" line :start2 open)
                      when close
                        collect (list name (subseq line open (1+ close)) package n))))

(defun documented-constants ()
  "Every `+CONSTANT+` in a list item of the three sections: (name package line)."
  (loop for (n line package) in (documented-lines)
        when (and package (>= (length line) 4) (string= "- `+" line :end2 4))
          collect (list (subseq line 3 (position #\` line :start 3)) package n)))

(defun documented-code-blocks ()
  "The ```lisp blocks of the three sections: (text package line)."
  (loop with current = nil and start = 0 and blocks = '()
        for (n line package) in (documented-lines)
        for trimmed = (string-trim " " line)
        do (cond ((and (null current) (string= trimmed "```lisp"))
                  (setf current (make-string-output-stream) start (1+ n)))
                 ((and current (string= trimmed "```"))
                  (when package
                    (push (list (get-output-stream-string current) package start) blocks))
                  (setf current nil))
                 (current (write-line line current)))
        finally (return (nreverse blocks))))

;;; Lambda lists

(defun parse-documented-lambda-list (string)
  "The required and &optional parameter counts of a documented lambda list
such as \"(fd data &optional flags)\", and whether it has &body."
  (let ((list (let ((*package* (find-package '#:epsilon.linux.tests)))
                (read-from-string string))))
    (values (or (position-if (lambda (x) (member x lambda-list-keywords)) list)
                (length list))
            (let ((opt (member '&optional list)))
              (if opt
                  (or (position-if (lambda (x) (member x lambda-list-keywords)) (rest opt))
                      (length (rest opt)))
                  0))
            (and (member '&body list) t))))

(defun lambda-list-arity (lambda-list)
  "The required count, the maximum positional count (NIL: unbounded) of an
ordinary lambda list."
  (let ((required 0) (optional 0) (state :required) (rest nil))
    (dolist (x lambda-list)
      (case x
        (&optional (setf state :optional))
        ((&rest &body) (setf rest t state :other))
        ((&key &aux &allow-other-keys) (setf state :other))
        (t (case state
             (:required (incf required))
             (:optional (incf optional))))))
    (values required (if rest nil (+ required optional)))))

(defun positional-names (lambda-list)
  "The names of the required and &optional parameters of LAMBDA-LIST, in
order, as lowercase strings."
  (loop for x in lambda-list
        until (member x '(&rest &body &key &aux))
        unless (eq x '&optional)
          collect (string-downcase (symbol-name (if (consp x) (first x) x)))))

(defun same-parameter-p (documented actual)
  "True when ACTUAL names the DOCUMENTED parameter: the same name, or a
parameter that takes either, such as EVENTS-OR-MAX for EVENTS."
  (or (string= documented actual)
      (search (format nil "~A-or-" documented) actual)
      (search (format nil "-or-~A" documented) actual)))

(defun accepts-count-p (lambda-list count)
  (multiple-value-bind (required max) (lambda-list-arity lambda-list)
    (and (<= required count) (or (null max) (<= count max)))))

;;; The names

(defun external-symbol (name package)
  (multiple-value-bind (symbol status) (find-symbol (string-upcase name) package)
    (and (eq status :external) symbol)))

(test conformance-documentation-is-copied
  (is (probe-file (package-documentation-path)))
  ;; What the parser finds: if the copy changes shape, these counts say so.
  (is (= 14 (length (documented-functions))))
  (is (= 10 (length (documented-constants)))))

(test conformance-functions-exported-with-compatible-lambda-lists
  (loop for (name documented package line) in (documented-functions)
        for symbol = (external-symbol name package)
        do (is (not (null symbol)) "line ~D: ~A is not exported from ~A" line name package)
           (when symbol
             (multiple-value-bind (required optional body) (parse-documented-lambda-list documented)
               (cond
                 ((macro-function symbol)
                  ;; (with-epoll (epfd) ...): the documented variables are
                  ;; the macro's first argument, then a body.
                  (let ((actual (sb-introspect:function-lambda-list symbol)))
                    (is (consp (first actual)) "line ~D: ~A's first argument is not a list: ~S"
                        line name actual)
                    (is (and body (member '&body actual)) "line ~D: ~A has no &body: ~S"
                        line name actual)))
                 ((fboundp symbol)
                  (let ((actual (sb-introspect:function-lambda-list (fdefinition symbol))))
                    (is (accepts-count-p actual required)
                        "line ~D: ~A ~A: ~S does not accept the ~D required arguments"
                        line name documented actual required)
                    (is (accepts-count-p actual (+ required optional))
                        "line ~D: ~A ~A: ~S does not accept the ~D optional arguments"
                        line name documented actual optional)
                    ;; In order: the documented names are the parameters'
                    ;; names, as far as the function has positional ones.
                    (let ((want (positional-names
                                 (let ((*package* (find-package '#:epsilon.linux.tests)))
                                   (read-from-string documented))))
                          (have (positional-names actual)))
                      (is (every #'same-parameter-p want have)
                          "line ~D: ~A documents ~A, has ~S" line name documented actual))))
                 (t (fail "line ~D: ~A is exported from ~A but is not a function or macro"
                          line name package)))))))

(test conformance-constants-exported
  (loop for (name package line) in (documented-constants)
        for symbol = (external-symbol name package)
        do (is (and symbol (constantp symbol) (integerp (symbol-value symbol)))
               "line ~D: ~A is not an integer constant exported from ~A" line name package)))

(test conformance-tls-names-exported
  "The TLS section has no headings: every operator its example calls (but
FORMAT) is exported from epsilon.crypto with a compatible call."
  (let ((blocks (remove "EPSILON.CRYPTO" (documented-code-blocks)
                        :key #'second :test-not #'string=))
        (seen '())
        (calls '()))
    (is (= 1 (length blocks)))
    (labels ((walk (form)
               (when (and (consp form) (symbolp (first form)))
                 (let ((name (symbol-name (first form))))
                   (cond ((member name '("LET" "LET*") :test #'string=)
                          (dolist (binding (second form))
                            (when (consp binding) (walk (second binding))))
                          (mapc #'walk (cddr form)))
                         ((and (> (length name) 5) (string= "WITH-" name :end2 5))
                          ;; (with-x (var args...) body...): the variable
                          ;; is no call.
                          (pushnew name seen :test #'string=)
                          (when (consp (second form))
                            (mapc #'walk (rest (second form))))
                          (mapc #'walk (cddr form)))
                         (t
                          (unless (or (find-symbol name :cl) (string= name "USE-PACKAGE"))
                            (pushnew name seen :test #'string=)
                            (push (cons name (length (rest form))) calls))
                          (mapc #'walk (rest form))))))))
      (dolist (block blocks)
        (with-input-from-string (in (first block))
          (let ((*package* (make-package (gensym "CONFORMANCE") :use '(:cl))))
            (unwind-protect
                 (loop for form = (read in nil in) until (eq form in) do (walk form))
              (delete-package *package*))))))
    (is (null (set-exclusive-or '("WITH-TLS-CONTEXT" "TLS-LOAD-CERT-FILE" "TLS-LOAD-KEY-FILE"
                                  "WITH-TLS-CONNECTION" "TLS-HANDSHAKE" "TLS-SEND" "TLS-RECV")
                                seen :test #'string=))
        "~S" seen)
    (dolist (name seen)
      (is (external-symbol name "EPSILON.CRYPTO")
          "~A is not exported from epsilon.crypto" name))
    ;; Each call of the example has an accepted argument count.
    (loop for (name . count) in calls
          for symbol = (external-symbol name "EPSILON.CRYPTO")
          when (and symbol (fboundp symbol) (not (macro-function symbol)))
            do (is (accepts-count-p (sb-introspect:function-lambda-list (fdefinition symbol))
                                    count)
                   "(~A ...) with ~D arguments is refused" name count))))

;;; The examples, corrected (DESIGN section 6), on loopback, port 0.

(defun crlf (&rest lines)
  "LINES joined by CR LF (Lisp strings have no \\r\\n escape)."
  (format nil "~{~A~C~C~}" (loop for l in lines nconc (list l #\Return #\Newline))))

(defun local-port (fd)
  (epsilon.net.core:address-port (epsilon.net.core:socket-local-address fd)))

(defmacro with-peer-thread ((var &body thread-body) &body body)
  "Run THREAD-BODY in a thread while BODY runs; VAR's JOIN-PEER gives its
value or the condition it signalled; joined within 30 s on every exit."
  `(let ((,var (sb-thread:make-thread
                (lambda () (handler-case (progn ,@thread-body) (error (e) e)))
                :name "conformance peer")))
     (unwind-protect (progn ,@body)
       (sb-thread:join-thread ,var :default nil :timeout 30))))

(defun join-peer (thread)
  (sb-thread:join-thread thread :default :timeout :timeout 30))

(defmacro with-fd-leak-check (&body body)
  `(let ((fds (epsilon.linux:open-fd-count))
         (handles (epsilon.linux:open-handle-count)))
     (multiple-value-prog1 (progn ,@body)
       (is (= fds (epsilon.linux:open-fd-count)) "fds leaked")
       (is (= handles (epsilon.linux:open-handle-count)) "handles leaked"))))

(defun octets-string (octets)
  (sb-ext:octets-to-string octets :external-format :utf-8))

(test conformance-quick-start-epoll
  "Quick Start, Basic Epoll Usage: an edge-triggered registration, a
bounded wait loop, dispatch with LOGTEST (not LOGAND)."
  (with-fd-leak-check
    (epsilon.net.core:with-server-socket (server :host "127.0.0.1" :port 0)
      (epsilon.net.core:with-client-socket (client :host "127.0.0.1" :port (local-port server))
        (let ((socket-fd (epsilon.net.core:socket-accept server :timeout 10))
              (reads '()) (writes '()))
          (unwind-protect
               (progn
                 (epsilon.net.core:socket-send client "ping")
                 (epsilon.sys.epoll:with-epoll (epfd)
                   (epsilon.sys.epoll:add-event
                    epfd socket-fd (logior epsilon.sys.epoll:+epollin+ epsilon.sys.epoll:+epollet+))
                   (loop repeat 5
                         until reads
                         do (dolist (event (epsilon.sys.epoll:wait-for-events epfd 10 1000))
                              (let ((fd (epsilon.sys.epoll:epoll-event-data event))
                                    (event-mask (epsilon.sys.epoll:epoll-event-events event)))
                                (cond ((logtest event-mask epsilon.sys.epoll:+epollin+)
                                       (push (epsilon.net.core:socket-recv fd 10) reads))
                                      ((logtest event-mask epsilon.sys.epoll:+epollout+)
                                       (push fd writes)))))))
                 (is (equal '("ping") (mapcar #'octets-string reads)))
                 (is (null writes)))
            (epsilon.net.core:socket-close socket-fd)))))))

(test conformance-quick-start-sockets
  "Quick Start, Socket Operations: a server answering one request and a
client reading the answer (CR LF built with FORMAT, port 0)."
  (with-fd-leak-check
    (epsilon.net.core:with-server-socket (server-fd :host "127.0.0.1" :port 0)
      (let ((port (local-port server-fd)))
        (with-peer-thread (server
                           (let ((client-fd (epsilon.net.core:socket-accept server-fd :timeout 10)))
                             (unwind-protect
                                  (let ((data (epsilon.net.core:socket-recv client-fd 1024
                                                                            :timeout 10)))
                                    (epsilon.net.core:socket-send
                                     client-fd (concatenate 'string (crlf "HTTP/1.1 200 OK" "")
                                                            "Hello World"))
                                    (octets-string data))
                               (epsilon.net.core:socket-close client-fd))))
          (epsilon.net.core:with-client-socket (client-fd :host "localhost" :port port
                                                          :timeout 10)
            (epsilon.net.core:socket-send client-fd (crlf "GET / HTTP/1.1" "Host: localhost" ""))
            (let ((response (loop with all = (make-array 0 :element-type '(unsigned-byte 8)
                                                           :adjustable t :fill-pointer 0)
                                  for chunk = (epsilon.net.core:socket-recv client-fd 4096
                                                                            :timeout 10)
                                  until (zerop (length chunk))
                                  do (loop for b across chunk do (vector-push-extend b all))
                                  finally (return (octets-string all)))))
              (is (string= (format nil "HTTP/1.1 200 OK~C~C~C~CHello World"
                                   #\Return #\Newline #\Return #\Newline)
                           response))))
          (let ((request (join-peer server)))
            (is (stringp request) "~A" request)
            (when (stringp request)
              (is (eql 0 (search "GET / HTTP/1.1" request))))))))))

(test conformance-epoll-create1-ctl-wait
  "epoll-create1 (0 and +epoll-cloexec+), epoll-ctl add/mod/del with
make-epoll-event, and the 4-argument epoll-wait into a vector."
  (with-fd-leak-check
    (let ((epfd (epsilon.sys.epoll:epoll-create1 0)))
      (is (integerp epfd))
      (epsilon.sys.epoll:epoll-close epfd))
    (let ((epfd (epsilon.sys.epoll:epoll-create1 epsilon.sys.epoll:+epoll-cloexec+)))
      (is (integerp epfd))
      (epsilon.sys.epoll:epoll-close epfd))
    (multiple-value-bind (a b) (epsilon.net.core:socket-pair)
      (unwind-protect
           (let ((epfd (epsilon.sys.epoll:epoll-create1 0))
                 (event-array (make-array 10)))
             (unwind-protect
                  (progn
                    (epsilon.sys.epoll:epoll-ctl
                     epfd epsilon.sys.epoll:+epoll-ctl-add+ a
                     (epsilon.sys.epoll:make-epoll-event
                      :events (logior epsilon.sys.epoll:+epollin+ epsilon.sys.epoll:+epollet+)
                      :data a))
                    (epsilon.net.core:socket-send b "x")
                    (let ((events (epsilon.sys.epoll:epoll-wait epfd event-array 10 1000)))
                      (is (= 1 events))
                      (loop for i from 0 below events
                            for event = (aref event-array i)
                            do (is (= a (epsilon.sys.epoll:epoll-event-data event)))
                               (is (logtest epsilon.sys.epoll:+epollin+
                                            (epsilon.sys.epoll:epoll-event-events event)))))
                    (epsilon.sys.epoll:epoll-ctl
                     epfd epsilon.sys.epoll:+epoll-ctl-mod+ a
                     (epsilon.sys.epoll:make-epoll-event :events epsilon.sys.epoll:+epollout+
                                                         :data a))
                    (let ((events (epsilon.sys.epoll:epoll-wait epfd event-array 10 1000)))
                      (is (= 1 events))
                      (is (logtest epsilon.sys.epoll:+epollout+
                                   (epsilon.sys.epoll:epoll-event-events (aref event-array 0)))))
                    (epsilon.sys.epoll:epoll-ctl epfd epsilon.sys.epoll:+epoll-ctl-del+ a nil)
                    (is (= 0 (epsilon.sys.epoll:epoll-wait epfd event-array 10 0))))
               (epsilon.sys.epoll:epoll-close epfd)))
        (epsilon.net.core:socket-close a)
        (epsilon.net.core:socket-close b)))))

(test conformance-with-epoll-add-event
  "with-epoll and add-event (level- and edge-triggered), wait-for-events
with 1 event and a 1 s timeout."
  (with-fd-leak-check
    (multiple-value-bind (socket other) (epsilon.net.core:socket-pair)
      (unwind-protect
           (progn
             (epsilon.sys.epoll:with-epoll (epfd)
               (epsilon.sys.epoll:add-event epfd socket epsilon.sys.epoll:+epollin+)
               (epsilon.net.core:socket-send other "y")
               (let ((events (epsilon.sys.epoll:wait-for-events epfd 1 1000)))
                 (is (= 1 (length events)))
                 (is (= socket (epsilon.sys.epoll:epoll-event-data (first events))))))
             (epsilon.sys.epoll:with-epoll (epfd)
               (epsilon.sys.epoll:add-event epfd socket (logior epsilon.sys.epoll:+epollin+
                                                                epsilon.sys.epoll:+epollet+))
               (is (= 1 (length (epsilon.sys.epoll:wait-for-events epfd 1 1000))))
               ;; Edge-triggered: no new data, no new event.
               (is (null (epsilon.sys.epoll:wait-for-events epfd 1 0)))))
        (epsilon.net.core:socket-close socket)
        (epsilon.net.core:socket-close other)))))

(test conformance-socket-create
  "socket-create: TCP, UDP and Unix stream sockets."
  (with-fd-leak-check
    (dolist (args (list (list epsilon.net.core:+af-inet+ epsilon.net.core:+sock-stream+
                              epsilon.net.core:+ipproto-tcp+)
                        (list epsilon.net.core:+af-inet+ epsilon.net.core:+sock-dgram+
                              epsilon.net.core:+ipproto-udp+)
                        (list epsilon.net.core:+af-unix+ epsilon.net.core:+sock-stream+ 0)))
      (let ((fd (apply #'epsilon.net.core:socket-create args)))
        (is (and (integerp fd) (>= fd 0)))
        (epsilon.net.core:socket-close fd)))))

(test conformance-server-and-client-operations
  "socket-bind, socket-listen, socket-accept (until NIL on a non-blocking
listener: the corrected accept loop), socket-connect, socket-send and
socket-recv, with +msg-dontwait+ giving NIL when nothing is there."
  (with-fd-leak-check
    (let ((server-fd (epsilon.net.core:socket-create
                      epsilon.net.core:+af-inet+
                      (logior epsilon.net.core:+sock-stream+ epsilon.net.core:+sock-nonblock+)
                      epsilon.net.core:+ipproto-tcp+))
          (clients '()) (accepted '()))
      (unwind-protect
           (progn
             (epsilon.net.core:set-socket-option server-fd epsilon.net.core:+sol-socket+
                                                 epsilon.net.core:+so-reuseaddr+ 1)
             (epsilon.net.core:socket-bind server-fd
                                           (epsilon.net.core:make-inet-address "127.0.0.1" 0))
             (epsilon.net.core:socket-listen server-fd 128)
             (let ((address (epsilon.net.core:make-inet-address "127.0.0.1"
                                                                (local-port server-fd))))
               (dotimes (i 3)
                 (let ((client-fd (epsilon.net.core:socket-create epsilon.net.core:+af-inet+
                                                                  epsilon.net.core:+sock-stream+
                                                                  epsilon.net.core:+ipproto-tcp+)))
                   (push client-fd clients)
                   (epsilon.net.core:socket-connect client-fd address)
                   (epsilon.net.core:socket-send client-fd "Hello Server"))))
             ;; Wait until the first connection is pending, then accept
             ;; until NIL.
             (epsilon.net.core:socket-wait server-fd :input :timeout 10)
             (loop repeat 100
                   until (= 3 (length accepted))
                   do (loop for client-fd = (epsilon.net.core:socket-accept server-fd)
                            while client-fd
                            do (push client-fd accepted))
                      (unless (= 3 (length accepted))
                        (epsilon.net.core:socket-wait server-fd :input :timeout 1)))
             (is (= 3 (length accepted)))
             (is (null (epsilon.net.core:socket-accept server-fd)))
             (dolist (fd accepted)
               (is (string= "Hello Server"
                            (octets-string (epsilon.net.core:socket-recv fd 1024 0 :timeout 10))))
               ;; Nothing more: non-blocking receive gives NIL.
               (is (null (epsilon.net.core:socket-recv fd 1024 epsilon.net.core:+msg-dontwait+)))
               (epsilon.net.core:socket-send
                fd (make-array 3 :element-type '(unsigned-byte 8) :initial-contents '(1 2 3))))
             (dolist (fd clients)
               (is (equalp #(1 2 3) (epsilon.net.core:socket-recv fd 4096 0 :timeout 10)))))
        (mapc #'epsilon.net.core:socket-close accepted)
        (mapc #'epsilon.net.core:socket-close clients)
        (epsilon.net.core:socket-close server-fd)))))

(test conformance-addresses
  "make-inet-address and make-inet6-address: every example of the
documentation (numeric literals; no traffic)."
  (loop for (maker host port) in '((epsilon.net.core:make-inet-address "127.0.0.1" 8080)
                                   (epsilon.net.core:make-inet-address "0.0.0.0" 80)
                                   (epsilon.net.core:make-inet-address "192.168.1.10" 3000)
                                   (epsilon.net.core:make-inet6-address "::1" 8080)
                                   (epsilon.net.core:make-inet6-address "::" 80)
                                   (epsilon.net.core:make-inet6-address "2001:db8::1" 443))
        for address = (funcall maker host port)
        do (is (= port (epsilon.net.core:address-port address)))
           (is (string= host (epsilon.net.core:address-host address)))))

(test conformance-socket-error-dispatch
  "Error Handling, Socket Errors, corrected: dispatch on the keyword (CASE on
+econnrefused+ compares with the symbol)."
  (with-fd-leak-check
    (let ((port (epsilon.net.core:with-server-socket (s :host "127.0.0.1" :port 0)
                  (local-port s)))
          (fd (epsilon.net.core:socket-create epsilon.net.core:+af-inet+
                                              epsilon.net.core:+sock-stream+
                                              epsilon.net.core:+ipproto-tcp+)))
      (unwind-protect
           (is (string= "Connection refused"
                        (handler-case
                            (progn (epsilon.net.core:socket-connect
                                    fd (epsilon.net.core:make-inet-address "127.0.0.1" port))
                                   "connected")
                          (epsilon.net.core:socket-error (e)
                            (case (epsilon.net.core:epsilon-error-name e)
                              (:econnrefused "Connection refused")
                              (:etimedout "Connection timeout")
                              (:enetunreach "Network unreachable")
                              (t (format nil "Socket error: ~A" e)))))))
        (epsilon.net.core:socket-close fd)))))

(test conformance-tls-example
  "TLS Support, corrected: the example's server side (:role :server, the
certificate and key loaded with tls-load-cert-file / tls-load-key-file),
against a verifying client."
  (with-fd-leak-check
    (epsilon.net.core:with-server-socket (listener :host "127.0.0.1" :port 0)
      (let ((port (local-port listener)))
        (with-peer-thread (client
                           (epsilon.net.core:with-client-socket (fd :host "127.0.0.1" :port port
                                                                    :timeout 10)
                             (epsilon.crypto:with-tls-context (ctx :ca-file (cert "ca.pem"))
                               (epsilon.crypto:with-tls-connection (conn ctx fd :hostname "localhost"
                                                                               :timeout 10)
                                 (epsilon.crypto:tls-handshake conn)
                                 (let ((got (epsilon.crypto:tls-recv conn 1024)))
                                   (epsilon.crypto:tls-send conn "Secure response")
                                   (finish-tls conn)
                                   (octets-string got))))))
          (let ((socket-fd (epsilon.net.core:socket-accept listener :timeout 10)))
            (unwind-protect
                 (epsilon.crypto:with-tls-context (ctx :method :tls-v1.2 :role :server)
                   (epsilon.crypto:tls-load-cert-file ctx (cert "server.pem"))
                   (epsilon.crypto:tls-load-key-file ctx (cert "server.key"))
                   (epsilon.crypto:with-tls-connection (tls-conn ctx socket-fd :timeout 10)
                     (epsilon.crypto:tls-handshake tls-conn)
                     (epsilon.crypto:tls-send tls-conn "Secure Hello World")
                     (let ((secure-data (epsilon.crypto:tls-recv tls-conn 1024)))
                       (is (string= "Secure response" (octets-string secure-data))))
                     (finish-tls tls-conn)))
              (epsilon.net.core:socket-close socket-fd)))
          (is (equal "Secure Hello World" (join-peer client))))))))

(test conformance-edge-triggered-read
  "Edge-Triggered Optimizations: read with +msg-dontwait+ until NIL (no more
data) or an empty vector (EOF)."
  (with-fd-leak-check
    (multiple-value-bind (fd other) (epsilon.net.core:socket-pair)
      (unwind-protect
           (let ((chunks '()) (closed nil))
             (flet ((handle-edge-triggered-read (fd)
                      (loop
                        (let ((data (epsilon.net.core:socket-recv
                                     fd 4096 epsilon.net.core:+msg-dontwait+)))
                          (cond ((null data) (return :again))
                                ((zerop (length data)) (setf closed t) (return :closed))
                                (t (push (octets-string data) chunks)))))))
               (epsilon.net.core:socket-send other "abc")
               (is (eq :again (handle-edge-triggered-read fd)))
               (is (equal '("abc") chunks))
               (epsilon.net.core:socket-shutdown other epsilon.net.core:+shut-wr+)
               (is (eq :closed (handle-edge-triggered-read fd)))
               (is (eq t closed))))
        (epsilon.net.core:socket-close fd)
        (epsilon.net.core:socket-close other)))))
