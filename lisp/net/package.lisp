;;;; SPDX-License-Identifier: MIT
;;;; package.lisp - the public package epsilon.net.core.

(epsilon.linux.runtime:define-public-package #:epsilon.net.core
  (:import-from #:epsilon.linux.bindings
                #:+sockaddr-max+ #:+unix-path-max+
                #:+af-unspec+ #:+af-unix+ #:+af-inet+ #:+af-inet6+
                #:+sock-stream+ #:+sock-dgram+ #:+sock-seqpacket+
                #:+sock-nonblock+ #:+sock-cloexec+
                #:+ipproto-ip+ #:+ipproto-tcp+ #:+ipproto-udp+ #:+ipproto-ipv6+
                #:+sol-socket+
                #:+so-debug+ #:+so-reuseaddr+ #:+so-type+ #:+so-error+
                #:+so-dontroute+ #:+so-broadcast+ #:+so-sndbuf+ #:+so-rcvbuf+
                #:+so-keepalive+ #:+so-oobinline+ #:+so-linger+ #:+so-reuseport+
                #:+so-rcvlowat+ #:+so-sndlowat+ #:+so-rcvtimeo+ #:+so-sndtimeo+
                #:+so-acceptconn+ #:+so-protocol+ #:+so-domain+
                #:+tcp-nodelay+ #:+tcp-maxseg+ #:+tcp-cork+
                #:+tcp-keepidle+ #:+tcp-keepintvl+ #:+tcp-keepcnt+
                #:+ipv6-v6only+
                #:+msg-oob+ #:+msg-peek+ #:+msg-trunc+ #:+msg-dontwait+
                #:+msg-eor+ #:+msg-waitall+ #:+msg-nosignal+ #:+msg-more+
                #:+shut-rd+ #:+shut-wr+ #:+shut-rdwr+
                #:+somaxconn+)
  (:documentation
   "Sockets for SBCL on Linux, over libepsilon-linux: plain integer file
descriptors, TCP/UDP over IPv4 and IPv6, Unix sockets, name resolution and
bivalent streams.  Would-block is NIL, failures are SOCKET-ERROR conditions
(with the shared error model of epsilon.linux.errors), and blocking calls
sleep in the kernel as C's do, where :TIMEOUT, WITH-TIMEOUT and
INTERRUPT-THREAD still work on them.  See docs/net.md.")
  ;; Sockets
  (:export #:socket-create
           #:socket-pair
           #:socket-bind
           #:socket-listen
           #:socket-accept
           #:socket-connect
           #:socket-finish-connect
           #:socket-shutdown
           #:socket-close
           #:set-socket-nonblocking
           #:socket-nonblocking-p
           #:socket-wait)
  ;; Data transfer
  (:export #:socket-send
           #:socket-send-all
           #:socket-send-vector
           #:socket-recv
           #:socket-recv-into
           #:socket-send-to
           #:socket-recv-from
           #:socket-transfer-timeout
           #:socket-timeout-count
           #:socket-timeout-octets)
  ;; Socket options
  (:export #:set-socket-option
           #:get-socket-option)
  ;; Addresses and name resolution
  (:export #:socket-address
           #:socket-address-p
           #:make-inet-address
           #:make-inet6-address
           #:make-unix-address
           #:address-family
           #:address-port
           #:address-host
           #:address-string
           #:socket-local-address
           #:socket-peer-address
           #:resolve-host)
  ;; Convenience macros
  (:export #:with-server-socket
           #:with-client-socket
           #:with-socket
           #:with-socket-stream)
  ;; Streams
  (:export #:socket-stream
           #:make-socket-stream
           #:socket-stream-fd)
  ;; Stream conditions (from the shared stream core)
  (:import-from #:epsilon.linux.stream
                #:stream-closed-error #:socket-stream-error #:socket-stream-timeout)
  (:export #:stream-closed-error
           #:socket-stream-error
           #:socket-stream-timeout)
  ;; Constants
  (:export #:+sockaddr-max+ #:+unix-path-max+
           #:+af-unspec+ #:+af-unix+ #:+af-inet+ #:+af-inet6+
           #:+sock-stream+ #:+sock-dgram+ #:+sock-seqpacket+
           #:+sock-nonblock+ #:+sock-cloexec+
           #:+ipproto-ip+ #:+ipproto-tcp+ #:+ipproto-udp+ #:+ipproto-ipv6+
           #:+sol-socket+
           #:+so-debug+ #:+so-reuseaddr+ #:+so-type+ #:+so-error+
           #:+so-dontroute+ #:+so-broadcast+ #:+so-sndbuf+ #:+so-rcvbuf+
           #:+so-keepalive+ #:+so-oobinline+ #:+so-linger+ #:+so-reuseport+
           #:+so-rcvlowat+ #:+so-sndlowat+ #:+so-rcvtimeo+ #:+so-sndtimeo+
           #:+so-acceptconn+ #:+so-protocol+ #:+so-domain+
           #:+tcp-nodelay+ #:+tcp-maxseg+ #:+tcp-cork+
           #:+tcp-keepidle+ #:+tcp-keepintvl+ #:+tcp-keepcnt+
           #:+ipv6-v6only+
           #:+msg-oob+ #:+msg-peek+ #:+msg-trunc+ #:+msg-dontwait+
           #:+msg-eor+ #:+msg-waitall+ #:+msg-nosignal+ #:+msg-more+
           #:+shut-rd+ #:+shut-wr+ #:+shut-rdwr+
           #:+somaxconn+))

(defpackage #:epsilon.net.core.internal
  (:use #:cl #:epsilon.net.core #:epsilon.linux.errors)
  (:import-from #:epsilon.linux.runtime
                #:check-result #:signal-epsilon-error #:deadline #:remaining-ms
                #:wait-until-ready #:wait-ready #:with-retry #:retry-failed-call
                #:signal-timeout
                #:monotonic-us
                #:+pollin+ #:+pollout+)
  (:import-from #:epsilon.linux.stream
                #:buffered-stream #:transport-receive #:transport-send
                #:transport-fd #:transport-error-class #:transport-close
                #:transport-describe #:parse-external-format #:parse-element-type)
  (:import-from #:epsilon.linux.bindings
                #:%eps-socket #:%eps-socketpair #:%eps-bind #:%eps-listen
                #:%eps-accept #:%eps-connect #:%eps-socket-error #:%eps-send
                #:%eps-sendv #:%eps-recv #:%eps-sendto #:%eps-recvfrom
                #:%eps-shutdown #:%eps-getsockname #:%eps-getpeername
                #:%eps-setsockopt-int #:%eps-getsockopt-int
                #:%eps-setsockopt-linger #:%eps-getsockopt-linger
                #:%eps-setsockopt-timeout #:%eps-getsockopt-timeout
                #:%eps-addr-inet #:%eps-addr-inet6 #:%eps-addr-unix
                #:%eps-addr-unix-abstract #:%eps-addr-family #:%eps-addr-port
                #:%eps-addr-format #:%eps-addr-format-host
                #:%eps-getaddrinfo #:%eps-addrinfo-count #:%eps-addrinfo-get
                #:%eps-addrinfo-free
                #:%eps-close #:%eps-fd-set-nonblocking #:%eps-fd-nonblocking-p
                #:+address-text-max+ #:+ai-numerichost+ #:+ai-numericserv+)
  (:documentation "The implementation of epsilon.net.core.  Not for users."))
