;;;; SPDX-License-Identifier: MIT
;;;; address.lisp - socket addresses: built from literals, printed, read.

(in-package #:epsilon.net.core.internal)

(defstruct (socket-address
            (:constructor %make-socket-address (octets length))
            (:copier nil)
            (:predicate socket-address-p))
  "A socket address (IPv4, IPv6 or Unix): the kernel's sockaddr bytes and
their length.  Made by MAKE-INET-ADDRESS, MAKE-INET6-ADDRESS,
MAKE-UNIX-ADDRESS, RESOLVE-HOST, SOCKET-ACCEPT, SOCKET-LOCAL-ADDRESS,
SOCKET-PEER-ADDRESS and SOCKET-RECV-FROM; read with ADDRESS-FAMILY,
ADDRESS-HOST, ADDRESS-PORT and ADDRESS-STRING."
  (octets nil :type octets :read-only t)
  (length 0 :type fixnum :read-only t))

(setf (documentation 'socket-address-p 'function)
      "True when OBJECT is a SOCKET-ADDRESS.")

(defun new-address-buffer ()
  (make-array +sockaddr-max+ :element-type '(unsigned-byte 8) :initial-element 0))

(defun copy-address (buffer length)
  "A SOCKET-ADDRESS holding the first LENGTH bytes of BUFFER (copied)."
  (let ((octets (new-address-buffer)))
    (replace octets buffer :end2 length)
    (%make-socket-address octets length)))

(defun text-from-c (fn address operation)
  (let ((text (make-array +address-text-max+ :element-type '(unsigned-byte 8))))
    (let ((n (check-result (funcall fn (socket-address-octets address)
                                    (socket-address-length address)
                                    text (length text))
                           operation 'address-error)))
      (sb-ext:octets-to-string text :end n
                                    :external-format '(:utf-8 :replacement #\?)))))

(defun address-string (address)
  "ADDRESS as text: \"127.0.0.1:8080\", \"[::1]:8080\", \"/path\", \"@name\"
(an abstract Unix name), \"\" (an unnamed Unix socket)."
  (check-type address socket-address)
  (text-from-c #'%eps-addr-format address 'address-string))

(defun address-host (address)
  "The host part of ADDRESS as text: \"127.0.0.1\", \"::1\"; for a Unix
address, its path or \"@name\"."
  (check-type address socket-address)
  (text-from-c #'%eps-addr-format-host address 'address-host))

(defun address-family (address)
  "The family of ADDRESS: +AF-INET+, +AF-INET6+ or +AF-UNIX+."
  (check-type address socket-address)
  (check-result (%eps-addr-family (socket-address-octets address)
                                  (socket-address-length address))
                'address-family 'address-error))

(defun address-port (address)
  "The port of ADDRESS, an IPv4 or IPv6 address; NIL for a Unix address."
  (check-type address socket-address)
  (if (= (address-family address) +af-unix+)
      nil
      (check-result (%eps-addr-port (socket-address-octets address)
                                    (socket-address-length address))
                    'address-port 'address-error)))

(defmethod print-object ((address socket-address) stream)
  (if *print-readably*
      (call-next-method)
      (print-unreadable-object (address stream :type t)
        (write-string (handler-case (address-string address)
                        (error () "(unprintable)"))
                      stream))))

(deftype port () '(integer 0 65535))

(defun make-inet-address (host port)
  "An IPv4 socket address for HOST, a dotted-quad literal such as
\"127.0.0.1\" or \"0.0.0.0\", and PORT (0..65535).  HOST is never looked up
(no DNS query): use RESOLVE-HOST for names.  A malformed literal
(\"300.1.1.1\", \"localhost\") signals ADDRESS-ERROR (+EBADADDRESS+); a
PORT out of range, TYPE-ERROR."
  (check-type host string)
  (check-type port port)
  (let* ((buffer (new-address-buffer))
         (n (check-result (%eps-addr-inet host port buffer (length buffer))
                          'make-inet-address 'address-error)))
    (%make-socket-address buffer n)))

(defun make-inet6-address (host port &key (scope-id 0))
  "An IPv6 socket address for HOST, a literal without brackets (\"::1\",
\"::\", \"fe80::1%lo\"), and PORT (0..65535); SCOPE-ID is the interface
index of a link-local address (0: none; a \"%\" scope in HOST wins).  HOST
is never looked up.  A malformed literal (\"::g\") signals ADDRESS-ERROR; a
PORT out of range, TYPE-ERROR."
  (check-type host string)
  (check-type port port)
  (check-type scope-id (unsigned-byte 32))
  (let* ((buffer (new-address-buffer))
         (n (check-result (%eps-addr-inet6 host port scope-id buffer (length buffer))
                          'make-inet6-address 'address-error)))
    (%make-socket-address buffer n)))

(defun make-unix-address (path &key abstract)
  "A Unix socket address.  PATH (a string or pathname) is a file system path;
a string starting with \"@\" names an abstract socket (Linux: in no file
system, gone with the last socket bound to it) whose name is the rest of the
string, and with :ABSTRACT true the whole of PATH is the abstract name.  At
most +UNIX-PATH-MAX+ (107) UTF-8 bytes: a longer one signals ADDRESS-ERROR
(+ENAMETOOLONG+), as does an empty path."
  (check-type path (or string pathname))
  (let* ((string (if (pathnamep path) (sb-ext:native-namestring path) path))
         (abstract-p (or abstract (and (plusp (length string)) (char= (char string 0) #\@))))
         (name (if (and abstract-p (not abstract)) (subseq string 1) string))
         (bytes (sb-ext:string-to-octets name :external-format :utf-8))
         (buffer (new-address-buffer))
         (n (check-result (if abstract-p
                              (%eps-addr-unix-abstract bytes (length bytes) buffer (length buffer))
                              (%eps-addr-unix bytes (length bytes) buffer (length buffer)))
                          'make-unix-address 'address-error)))
    (%make-socket-address buffer n)))

(defun socket-local-address (fd)
  "The address socket FD is bound to, a SOCKET-ADDRESS (read the port the
kernel chose for port 0 with ADDRESS-PORT)."
  (check-type fd fd)
  (let* ((buffer (new-address-buffer))
         (n (checked (%eps-getsockname fd buffer (length buffer)) 'socket-local-address)))
    (%make-socket-address buffer n)))

(defun socket-peer-address (fd)
  "The address of connected socket FD's peer, a SOCKET-ADDRESS; a socket that
is not connected signals SOCKET-ERROR (+ENOTCONN+)."
  (check-type fd fd)
  (let* ((buffer (new-address-buffer))
         (n (checked (%eps-getpeername fd buffer (length buffer)) 'socket-peer-address)))
    (%make-socket-address buffer n)))

;;; Name resolution
;;;
;;; The address list handle is made inside eps_getaddrinfo, which may block
;;; in getaddrinfo(3).  Unwinding out of that C frame would leave glibc's
;;; state (locks, an open /etc/hosts) and, once the handle exists, the handle
;;; itself behind.  So the C call always runs with interrupts deferred: at
;;; once for a numeric literal (getaddrinfo then asks nobody), else in a
;;; short-lived thread while the caller waits interruptibly; a caller that
;;; unwinds leaves the handle to that thread, which frees it.

(defun lookup-by-name (cell host service family type flags)
  "Run eps_getaddrinfo in a new thread and store its result (a handle or a
negative code) in CELL's car, with interrupts deferred from the moment the
result exists.  An interrupt that unwinds the caller's wait abandons the
lookup: the thread frees the handle when it comes."
  (let ((box (list :running))
        (done (sb-thread:make-semaphore :name "resolve-host")))
    (sb-sys:without-interrupts
      (unwind-protect
           (progn
             (sb-thread:make-thread
              (lambda ()
                (sb-sys:without-interrupts
                  (let ((r (%eps-getaddrinfo host service family type 0 flags)))
                    (unless (eq :running (sb-ext:compare-and-swap (car box) :running r))
                      (when (plusp r) (%eps-addrinfo-free r)))
                    (sb-thread:signal-semaphore done))))
              :name "resolve-host lookup")
             (sb-sys:with-local-interrupts (sb-thread:wait-on-semaphore done)))
        (let ((r (sb-ext:compare-and-swap (car box) :running :abandoned)))
          (unless (eq r :running)
            (setf (car cell) r)))))))

(defun resolve-host (host &key port (family +af-unspec+) (type +sock-stream+) numeric)
  "Resolve HOST (a name such as \"localhost\", or a numeric literal) with
getaddrinfo(3) into a fresh list of SOCKET-ADDRESSes with PORT (default 0),
restricted to FAMILY (+AF-UNSPEC+, +AF-INET+, +AF-INET6+) and TYPE
(+SOCK-STREAM+, +SOCK-DGRAM+, 0 for any).  With NUMERIC true, HOST must be
a literal and nothing is looked up.  Failure signals RESOLVE-ERROR (a
SOCKET-ERROR: +EAINONAME+ for a name that does not resolve, ...).
This call may block in C while the system asks DNS servers: it is the one
call of this package that does, and no :TIMEOUT covers it.  A name (not a
literal) is looked up in a short-lived thread: an interrupt or WITH-TIMEOUT
unwinds the caller at once and the lookup ends in that thread."
  (check-type host string)
  (check-type port (or null port))
  (check-type family int32)
  (check-type type int32)
  (let* ((cell (list 0))
         (service (and port (princ-to-string port)))
         (flags (logior (if port +ai-numericserv+ 0) (if numeric +ai-numerichost+ 0))))
    (unwind-protect
         (progn
           ;; A literal first: getaddrinfo parses it and asks nobody.
           (sb-sys:without-interrupts
             (setf (car cell) (%eps-getaddrinfo host service family type 0
                                                (logior flags +ai-numerichost+))))
           (when (and (not numeric) (= (car cell) (- +eainoname+)))
             (setf (car cell) 0)
             (lookup-by-name cell host service family type flags))
           (when (minusp (car cell))
             (signal-epsilon-error (shiftf (car cell) 0) 'resolve-host 'socket-error))
           (let* ((handle (car cell))
                  (count (checked (%eps-addrinfo-count handle) 'resolve-host))
                  (buffer (new-address-buffer)))
             (loop for i below count
                   collect (let ((n (checked (%eps-addrinfo-get handle i buffer (length buffer) nil)
                                             'resolve-host)))
                             (copy-address buffer n)))))
      ;; Taken and freed in one deferred section: a throw between the two
      ;; would free it twice on a second unwind, or not at all.
      (sb-sys:without-interrupts
        (let ((handle (shiftf (car cell) 0)))
          (when (plusp handle)
            (%eps-addrinfo-free handle)))))))
