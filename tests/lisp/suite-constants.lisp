;;;; SPDX-License-Identifier: MIT
;;;; suite-constants.lisp - the Lisp constants equal the kernel's values, as a
;;;; C program compiled in this test run prints them from the system headers.
;;;;
;;;; The headers' values are static-asserted in the library's own .c files
;;;; and the generated Lisp is checked for freshness; this closes the loop
;;;; from the system headers to the values a Lisp program actually sees.

(in-package #:epsilon.linux.tests)

(def-suite constants :in epsilon-linux
  :description "Constants equal the values of the system headers.")
(in-suite constants)

(defparameter *system-prefixes*
  '("E" "EPOLL" "AF_" "SOCK_" "IPPROTO_" "SOL_" "SO_" "TCP_" "IPV6_" "MSG_"
    "SHUT_" "POLL" "EFD_" "TFD_" "CLOCK_" "AI_" "SOMAXCONN")
  "C names with these prefixes are the system's; others (EPS_EBADHANDLE,
EPS_SOCKADDR_MAX, ...) are the library's own and have nothing to compare.")

(defun c-name (symbol)
  "+so-reuseaddr+ -> \"SO_REUSEADDR\"."
  (substitute #\_ #\- (string-upcase (string-trim "+" (symbol-name symbol)))))

(defun system-constants ()
  "(symbol . C name) for every generated constant named like a system one."
  (let ((out '()))
    (do-external-symbols (s :epsilon.linux.bindings)
      (when (and (char= #\+ (char (symbol-name s) 0)) (boundp s)
                 (integerp (symbol-value s)))
        (let ((name (c-name s)))
          (when (and (some (lambda (p) (eql 0 (search p name))) *system-prefixes*)
                     ;; Error codes only below the library's own band.
                     (or (eql 0 (search "EPOLL" name)) (eql 0 (search "EFD_" name))
                         (char/= #\E (char name 0))
                         (<= (symbol-value s) 4096)))
            (push (cons s name) out)))))
    (sort out #'string< :key #'cdr)))

(defun probe-values (names)
  "Compile and run a C program printing NAME VALUE for each of NAMES the
system headers define; return an alist (name . value)."
  (let* ((dir (format nil "/tmp/epsilon-probe-~D/" (sb-unix:unix-getpid)))
         (src (concatenate 'string dir "probe.c"))
         (exe (concatenate 'string dir "probe")))
    (ensure-directories-exist dir)
    (unwind-protect
         (progn
           (with-open-file (out src :direction :output :if-exists :supersede)
             (format out "#define _GNU_SOURCE~%~{#include <~A>~%~}"
                     '("errno.h" "poll.h" "sys/epoll.h" "sys/eventfd.h" "sys/timerfd.h"
                       "time.h" "sys/socket.h" "netinet/in.h" "netinet/tcp.h" "netdb.h"
                       "stdio.h"))
             (format out "int main(void) {~%")
             (dolist (n names)
               (format out "#ifdef ~A~%  printf(\"~A %lld\\n\", (long long)(~A));~%#endif~%"
                       n n n))
             ;; CLOCK_* are macros on glibc, but guard the enum case anyway.
             (format out "  return 0;~%}~%"))
           (let ((cc (sb-ext:run-program "/usr/bin/env" (list "gcc" "-o" exe src)
                                         :output nil :error *error-output*)))
             (assert (zerop (sb-ext:process-exit-code cc)) () "the probe did not compile"))
           (with-input-from-string
               (in (with-output-to-string (s) (sb-ext:run-program exe '() :output s)))
             (loop for line = (read-line in nil)
                   while line
                   collect (let ((space (position #\Space line)))
                             (cons (subseq line 0 space)
                                   (parse-integer line :start (1+ space)))))))
      (ignore-errors (delete-file src))
      (ignore-errors (delete-file exe))
      (ignore-errors (sb-ext:delete-directory dir)))))

(test constants-equal-the-system-headers
  (let* ((constants (system-constants))
         (values (probe-values (mapcar #'cdr constants)))
         (compared 0)
         (wrong '()))
    (loop for (symbol . name) in constants
          for probed = (assoc name values :test #'string=)
          when probed
            do (incf compared)
               ;; The kernel's EPOLLET is (1u << 31): compare as unsigned 32.
               (unless (= (ldb (byte 32 0) (symbol-value symbol)) (ldb (byte 32 0) (cdr probed)))
                 (push (list symbol (symbol-value symbol) (cdr probed)) wrong)))
    (is (> compared 150) "only ~D constants compared" compared)
    (is (null wrong) "differ from the system headers: ~S" wrong)
    ;; Spot checks that the comparison really ran on the right names.
    (is (assoc "ECONNREFUSED" values :test #'string=))
    (is (assoc "EPOLLET" values :test #'string=))
    (is (assoc "SO_REUSEPORT" values :test #'string=))))

(test public-packages-can-be-used-together
  ;; The three public packages share their error symbols: using them all in
  ;; one package conflicts nowhere.
  (let ((p (make-package (symbol-name (gensym "EPSILON-USE-ALL-")) :use '(:cl))))
    (unwind-protect
         (progn
           (use-package '(:epsilon.sys.epoll :epsilon.net.core :epsilon.crypto) p)
           (is (eq (find-symbol "+ECONNREFUSED+" p)
                   (find-symbol "+ECONNREFUSED+" :epsilon.crypto)))
           (is (eq (find-symbol "EPSILON-ERROR" p)
                   (find-symbol "EPSILON-ERROR" :epsilon.sys.epoll))))
      (delete-package p))))
