;;;; SPDX-License-Identifier: MIT
;;;; roundtrip.lisp - run by tests/deb/check-deb.sh in a fresh SBCL, after
;;;; the systems were loaded from the unpacked Debian packages: a TCP round
;;;; trip on 127.0.0.1 (port 0), the server side waiting in epoll, and proof
;;;; that both the Lisp sources and the shared library came from ROOT.
;;;; It needs the packages epsilon.net.core and epsilon.sys.epoll only.

(defun fail (fmt &rest args)
  (format *error-output* "roundtrip: ~?~%" fmt args)
  (sb-ext:exit :code 1 :abort t))

(let ((root (sb-ext:posix-getenv "EPS_DEB_ROOT")))
  ;; The docs' TLS examples find their certificate script beside the systems.
  (let ((script (merge-pathnames "../tests/data/make-certs.sh"
                                 (asdf:system-source-directory
                                  (find "epsilon" (asdf:already-loaded-systems) :test #'search)))))
    (unless (and (probe-file script) (eql 0 (search root (namestring (truename script)))))
      (fail "no ~a in the unpacked root" script)))
  ;; Every epsilon system ASDF found lives under ROOT.
  (dolist (name (asdf:already-loaded-systems))
    (when (search "epsilon" name)
      (let ((dir (namestring (asdf:system-source-directory name))))
        (unless (eql 0 (search root dir))
          (fail "system ~a was loaded from ~a, not from ~a" name dir root)))))
  ;; The library mapped into this process is the unpacked one.
  (let ((maps (with-open-file (s "/proc/self/maps")
                (loop for line = (read-line s nil) while line
                      when (search "libepsilon-linux.so" line) collect line))))
    (unless (and maps (every (lambda (l) (search root l)) maps))
      (fail "libepsilon-linux mapped from elsewhere: ~s" maps))))

(epsilon.net.core:with-server-socket (server :host "127.0.0.1" :port 0)
  (let* ((port (epsilon.net.core:address-port (epsilon.net.core:socket-local-address server)))
         (echo (sb-thread:make-thread
                (lambda ()
                  (let ((fd (epsilon.net.core:socket-accept server :timeout 10)))
                    (unwind-protect
                         (epsilon.sys.epoll:with-epoll (epfd)
                           (epsilon.sys.epoll:add-event epfd fd epsilon.sys.epoll:+epollin+)
                           (let ((events (epsilon.sys.epoll:wait-for-events epfd 4 10000)))
                             (unless (= 1 (length events))
                               (fail "epoll reported ~s" events)))
                           (epsilon.net.core:socket-send fd (epsilon.net.core:socket-recv fd 100)))
                      (epsilon.net.core:socket-close fd)))))))
    (epsilon.net.core:with-client-socket (fd :host "127.0.0.1" :port port :timeout 10)
      (epsilon.net.core:socket-send fd "hello from a Debian package")
      (let ((back (sb-ext:octets-to-string (epsilon.net.core:socket-recv fd 100 :timeout 10))))
        (unless (string= back "hello from a Debian package")
          (fail "echoed ~s" back))))
    (sb-thread:join-thread echo :timeout 10)
    (format t "roundtrip: ok, 127.0.0.1:~d, systems ~{~a~^ ~}~%" port
            (sort (remove-if-not (lambda (n) (search "epsilon" n))
                                 (asdf:already-loaded-systems))
                  #'string<))))
