;;;; SPDX-License-Identifier: MIT
;;;; suite-systems.lisp - how users load and ship the library: one system per
;;;; package, loaded by name in a fresh SBCL, from the checkout and from an
;;;; installed copy (meson install); a wrong library file; a program saved
;;;; as an executable with save-lisp-and-die.  Every case runs child SBCLs.

(defpackage #:epsilon.linux.tests.systems
  (:use #:cl #:fiveam))

(in-package #:epsilon.linux.tests.systems)

(def-suite systems :in epsilon.linux.tests::epsilon-linux
  :description "Systems by package name, installed copies, saved images.")
(in-suite systems)

(defun root () (truename (asdf:system-relative-pathname "epsilon.linux" "../")))

(defun checkout-registry ()
  (format nil "(:source-registry (:tree ~S) :ignore-inherited-configuration)"
          (namestring (merge-pathnames "lisp/" (root)))))

(defun child-environment (&rest settings)
  "This process's environment without EPSILON_LINUX_LIBRARY, plus SETTINGS
(\"NAME=value\" strings)."
  (append settings
          (remove-if (lambda (s) (eql 0 (search "EPSILON_LINUX_LIBRARY=" s)))
                     (sb-ext:posix-environ))))

(defun run-child (program args &key environment (seconds 600) directory)
  "Run PROGRAM with ARGS (bounded by SECONDS through timeout(1)), in
DIRECTORY if given; return its output (stdout and stderr) and exit code."
  (let* ((out (make-string-output-stream))
         (process (sb-ext:run-program "/usr/bin/timeout"
                                      (list* (princ-to-string seconds) program args)
                                      :environment (or environment (child-environment))
                                      :directory directory
                                      :input nil :output out :error out)))
    (values (get-output-stream-string out) (sb-ext:process-exit-code process))))

(defun run-sbcl (registry forms &key environment)
  "A fresh SBCL that knows only the systems of REGISTRY (a source-registry
form, as a string), evaluating FORMS (strings) with warnings muffled."
  (run-child "sbcl"
             (append (list "--noinform" "--non-interactive" "--no-userinit" "--no-sysinit"
                           "--eval" "(require :asdf)"
                           "--eval" (format nil "(asdf:initialize-source-registry '~A)" registry))
                     (loop for f in forms
                           collect "--eval"
                           collect (format nil "(handler-bind ((warning #'muffle-warning)) ~A)" f)))
             :environment environment))

(defun has (output line)
  (search line output))

;;; What each system must give, and must not drag in.

(defparameter *system-checks*
  '(("epsilon.sys.epoll"
     "(let ((fd (epsilon.sys.epoll:epoll-create1)))
        (format t \"~&EPOLL-FD ~A~%\" (and (integerp fd) (>= fd 0)))
        (epsilon.sys.epoll:epoll-close fd)
        (format t \"~&CLOSED~%\"))"
     ("EPOLL-FD T" "CLOSED")
     ("EPSILON.CRYPTO" "EPSILON.NET.CORE"))
    ("epsilon.net.core"
     "(multiple-value-bind (a b) (epsilon.net.core:socket-pair)
        (epsilon.net.core:socket-send a \"ping\")
        (format t \"~&GOT ~A~%\" (sb-ext:octets-to-string (epsilon.net.core:socket-recv b 10)))
        (epsilon.net.core:socket-close a) (epsilon.net.core:socket-close b))"
     ("GOT ping")
     ("EPSILON.CRYPTO" "EPSILON.SYS.EPOLL"))
    ("epsilon.crypto"
     "(let ((ctx (epsilon.crypto:make-tls-context :role :client)))
        (format t \"~&CONTEXT ~A~%\" (epsilon.crypto:tls-context-p ctx))
        (epsilon.crypto:tls-context-free ctx))"
     ("CONTEXT T")
     ("EPSILON.NET.CORE" "EPSILON.SYS.EPOLL"))
    ("epsilon.foreign"
     "(format t \"~&STRLEN ~A~%\" (epsilon.foreign:shared-call \"strlen\" :size '(:string) \"hello\"))"
     ("STRLEN 5")
     ("EPSILON.LINUX.ERRORS" "EPSILON.SYS.EPOLL"))
    ("epsilon.linux"
     "(format t \"~&ALL ~A ~A ~A ~A~%\" (and (find-package \"EPSILON.SYS.EPOLL\") t)
              (and (find-package \"EPSILON.NET.CORE\") t) (and (find-package \"EPSILON.CRYPTO\") t)
              (stringp (epsilon.linux:library-version)))"
     ("ALL T T T T")
     ()))
  "(system form lines-it-prints packages-it-must-not-load)")

(defun check-system-loads (registry system form lines absent &key environment)
  "Load SYSTEM alone in a fresh SBCL knowing REGISTRY, run FORM, and check
that it printed LINES and that none of the packages ABSENT (nor their
systems) was loaded.  Returns the child's output."
  (multiple-value-bind (out code)
      (run-sbcl registry
                (list (format nil "(asdf:load-system ~S)" system)
                      (format nil "(format t \"~~&SOURCE ~~A~~%\" (namestring (truename (asdf:system-source-file ~S))))" system)
                      (format nil "(format t \"~~&LIBRARY ~~A~~%\" (epsilon.foreign:library-path))")
                      form
                      (format nil "(format t \"~~&ABSENT~~{ ~~A~~}~~%\" (remove-if #'find-package '~S))"
                              absent)
                      "(format t \"~&DONE~%\")")
                :environment environment)
    (is (eql 0 code) "~A: exit code ~A~%~A" system code out)
    (is (has out "DONE") "~A did not finish:~%~A" system out)
    (dolist (line lines)
      (is (has out line) "~A: no ~S in~%~A" system line out))
    (is (has out (format nil "ABSENT~{ ~A~}~%" absent))
        "~A loaded one of ~S:~%~A" system absent out)
    out))

(test each-package-system-loads-by-name-in-a-fresh-sbcl
  ;; From the checkout: every system by its package's name, alone; loading
  ;; epsilon.sys.epoll does not load epsilon.crypto (nor epsilon.net.core).
  (loop for (system form lines absent) in *system-checks*
        do (let ((out (check-system-loads (checkout-registry) system form lines absent)))
             (is (has out (format nil "SOURCE ~A" (namestring (merge-pathnames "lisp/" (root)))))
                 "~A came from elsewhere:~%~A" system out))))

(test test-system-runs-one-package-suites-from-the-checkout
  ;; ASDF:TEST-SYSTEM on a package's system runs that package's suites.
  (multiple-value-bind (out code)
      ;; The inherited configuration finds FiveAM.
      (run-sbcl (format nil "(:source-registry (:tree ~S) :inherit-configuration)"
                        (namestring (merge-pathnames "lisp/" (root))))
                (list "(asdf:test-system \"epsilon.sys.epoll\")"
                      "(format t \"~&TESTED~%\")"))
    (is (eql 0 code) "exit code ~A~%~A" code out)
    (is (has out "Running test suite EPOLL") "~A" out)
    (is (not (has out "Running test suite TLS")) "~A" out)
    (is (has out "TESTED") "~A" out)))

;;; An installed copy: meson install into a temporary directory.

(defvar *installed* nil "(destdir systems-dir library) once installed.")

(defun installed ()
  (or *installed*
      (let ((destdir (format nil "/tmp/epsilon-install-test-~D-~D/" (sb-unix:unix-getpid)
                             (random 1000000 (make-random-state t)))))
        (multiple-value-bind (out code)
            (run-child "meson" (list "install" "-C" (namestring (merge-pathnames "build/" (root)))
                                     "--destdir" destdir "--quiet"))
          (unless (eql 0 code)
            (error "meson install --destdir ~A failed (~A):~%~A" destdir code out)))
        (push (lambda () (sb-ext:run-program "/bin/rm" (list "-rf" destdir))) sb-ext:*exit-hooks*)
        (let ((systems (first (directory (merge-pathnames "**/share/common-lisp/systems/" destdir))))
              (library (first (directory (merge-pathnames "**/libepsilon-linux.so.*.*.*" destdir)))))
          (unless (and systems library)
            (error "meson install put no systems directory or library under ~A" destdir))
          (setf *installed* (list destdir systems library))))))

(defun installed-registry ()
  (format nil "(:source-registry (:directory ~S) :ignore-inherited-configuration)"
          (namestring (second (installed)))))

(test every-lisp-system-and-directory-is-installed
  ;; What packagers and users rely on: every lisp/*.asd is linked from
  ;; share/common-lisp/systems/, and every directory of lisp/ is installed.
  (let* ((systems (second (installed)))
         (source (merge-pathnames "../source/epsilon-linux/lisp/" systems)))
    (dolist (asd (directory (merge-pathnames "lisp/*.asd" (root))))
      (is (probe-file (merge-pathnames (file-namestring asd) systems))
          "~A is not installed" (file-namestring asd)))
    (dolist (dir (directory (merge-pathnames "lisp/*/" (root))))
      (let ((name (car (last (pathname-directory dir)))))
        (is (probe-file (merge-pathnames (format nil "~A/" name) source))
            "lisp/~A/ is not installed" name)))
    (is (null (directory (merge-pathnames "**/tests/lisp/*.lisp" (first (installed)))))
        "the tests are not meant to be installed")))

(test each-package-system-loads-from-an-installed-copy
  ;; A fresh SBCL that knows only the installed systems directory, the
  ;; installed library named by EPSILON_LINUX_LIBRARY.
  (destructuring-bind (destdir systems library) (installed)
    (declare (ignore systems))
    (let ((env (child-environment (format nil "EPSILON_LINUX_LIBRARY=~A" (namestring library)))))
      (loop for (system form lines absent) in *system-checks*
            do (let ((out (check-system-loads (installed-registry) system form lines absent
                                              :environment env)))
                 (is (has out (format nil "SOURCE ~A" (namestring destdir)))
                     "~A was not loaded from the installed copy:~%~A" system out)
                 (is (has out (format nil "LIBRARY ~A" (namestring library)))
                     "~A did not use the installed library:~%~A" system out))))))

(test installed-copy-says-its-tests-are-not-installed
  ;; The installed epsilon.linux.asd names no test file: TEST-SYSTEM says
  ;; where the tests are instead of failing on a missing file.
  (destructuring-bind (destdir systems library) (installed)
    (declare (ignore destdir systems))
    (multiple-value-bind (out code)
        (run-sbcl (installed-registry)
                  (list "(handler-case (asdf:test-system \"epsilon.sys.epoll\")
                           (error (e) (format t \"~&CAUGHT ~A~%\" e)))")
                  :environment (child-environment
                                (format nil "EPSILON_LINUX_LIBRARY=~A" (namestring library))))
      (is (eql 0 code) "~A" out)
      (is (has out "CAUGHT The tests of epsilon-linux are not installed") "~A" out)
      (is (not (has out "tests/lisp/package.lisp")) "~A" out))))

;;; A file that is some other library

(test a-wrong-library-file-is-named-with-what-it-lacks
  ;; EPSILON_LINUX_LIBRARY naming another shared library (libz) is the
  ;; library's own error, naming the file and the missing entry point,
  ;; not SBCL's undefined alien function.
  (let ((libz (find-if #'probe-file '("/lib/x86_64-linux-gnu/libz.so.1"
                                       "/usr/lib/x86_64-linux-gnu/libz.so.1"))))
    (is (not (null libz)) "no libz.so.1 on this machine")
    (when libz
      (multiple-value-bind (out code)
          (run-sbcl (checkout-registry)
                    (list "(handler-case (asdf:load-system \"epsilon.foreign\")
                             (error (e) (format t \"~&CAUGHT ~S: ~A~%\" (type-of e) e)))")
                    :environment (child-environment
                                  (format nil "EPSILON_LINUX_LIBRARY=~A" (namestring libz))))
        (is (eql 0 code) "~A" out)
        (is (has out "CAUGHT EPSILON.FOREIGN:LIBRARY-NOT-FOUND") "~A" out)
        (is (has out "libz.so.1 is not libepsilon-linux: it has no eps_abi_version") "~A" out)
        (is (has out libz) "~A" out)
        (is (not (search "undefined" out :test #'char-equal)) "~A" out)))))

;;; A saved executable

(defparameter *image-program* "
(defpackage #:image-test (:use #:cl))
(in-package #:image-test)

;; Made before the save: none of them may be used after it.
(defvar *old-context* (epsilon.crypto:make-tls-context :role :client :verify nil))
(defvar *old-connection*
  (multiple-value-bind (a b) (epsilon.net.core:socket-pair)
    (declare (ignore b))
    (epsilon.crypto:make-tls-connection *old-context* a)))
(defvar *old-callback* (epsilon.foreign:make-callback (lambda (x) (1+ x)) :int '(:int)))

;; Used before the save, so the caches hold what the old process made.
(defvar *strlen-at-build* (epsilon.foreign:shared-call \"strlen\" :size '(:string) \"abc\"))
(defvar *callback-at-build*
  (epsilon.foreign:with-callback (p (lambda (x) (* 3 x)) :int '(:int))
    (epsilon.foreign:shared-call p :int '(:int) 5)))
;; A library opened by name, and a function declared in it.
(epsilon.foreign:lib-open \"libz.so.1\")
(epsilon.foreign:defshared %zlib-version \"zlibVersion\" \"libz.so.1\" :string)

(defun cert (name) (concatenate 'string (sb-ext:posix-getenv \"CERT_DIR\") name))

(defun tcp-round-trip ()
  (epsilon.net.core:with-server-socket (server :host \"127.0.0.1\" :port 0)
    (let* ((port (epsilon.net.core:address-port (epsilon.net.core:socket-local-address server)))
           (echo (sb-thread:make-thread
                  (lambda ()
                    (let ((fd (epsilon.net.core:socket-accept server :timeout 10)))
                      (unwind-protect (epsilon.net.core:socket-send
                                       fd (epsilon.net.core:socket-recv fd 100 :timeout 10))
                        (epsilon.net.core:socket-close fd)))))))
      (prog1 (epsilon.net.core:with-client-socket (fd :host \"127.0.0.1\" :port port :timeout 10)
               (epsilon.net.core:socket-send fd \"tcp hello\")
               (sb-ext:octets-to-string (epsilon.net.core:socket-recv fd 100 :timeout 10)))
        (sb-thread:join-thread echo :timeout 10)))))

(defun tls-round-trip (&optional take-session)
  \"The reply and the TLS version, and with TAKE-SESSION the client's session.\"
  (epsilon.crypto:with-tls-context (server-ctx :role :server :cert-file (cert \"server.pem\")
                                               :key-file (cert \"server.key\"))
    (epsilon.net.core:with-server-socket (server :host \"127.0.0.1\" :port 0)
      (let* ((port (epsilon.net.core:address-port (epsilon.net.core:socket-local-address server)))
             (peer (sb-thread:make-thread
                    (lambda ()
                      (let ((fd (epsilon.net.core:socket-accept server :timeout 10)))
                        (unwind-protect
                             (let ((conn (epsilon.crypto:tls-accept server-ctx fd :timeout 10)))
                               (unwind-protect
                                    (progn (epsilon.crypto:tls-send conn (epsilon.crypto:tls-recv conn 100))
                                           (epsilon.crypto:tls-shutdown conn))
                                 (epsilon.crypto:tls-connection-free conn)))
                          (epsilon.net.core:socket-close fd)))))))
        (multiple-value-prog1 (epsilon.crypto:with-tls-context (ctx :ca-file (cert \"ca.pem\"))
                 (epsilon.net.core:with-client-socket (fd :host \"127.0.0.1\" :port port :timeout 10)
                   (let ((conn (epsilon.crypto:tls-connect ctx fd :hostname \"localhost\" :timeout 10)))
                     (unwind-protect
                          (progn (epsilon.crypto:tls-send conn \"tls hello\")
                                 (values (format nil \"~A ~A\"
                                                 (sb-ext:octets-to-string (epsilon.crypto:tls-recv conn 100))
                                                 (epsilon.crypto:tls-version conn))
                                         (and take-session (epsilon.crypto:tls-session conn))))
                       (epsilon.crypto:tls-connection-free conn)))))
          (sb-thread:join-thread peer :timeout 10))))))

;; A session from a real handshake at build time.
(defvar *old-session* (nth-value 1 (tls-round-trip t)))

(defmacro refused (label form)
  `(handler-case (progn ,form (format t \"~&USED ~A~%\" ,label))
     (error (e) (format t \"~&REFUSED ~A ~S: ~A~%\" ,label (type-of e) e))))

(defun main ()
  (format t \"~&LIBRARY ~A~%\" (epsilon.foreign:library-path))
  (format t \"~&TCP ~A~%\" (tcp-round-trip))
  (format t \"~&STRLEN ~A ~A~%\" (epsilon.foreign:shared-call \"strlen\" :size '(:string) \"hello\")
          (apply #'epsilon.foreign:shared-call \"strlen\" :size '(:string) (list \"hello!\")))
  (format t \"~&CALLBACK ~A~%\" (epsilon.foreign:with-callback (p (lambda (x) (* 2 x)) :int '(:int))
                                   (epsilon.foreign:shared-call p :int '(:int) 21)))
  (format t \"~&ZLIB ~A~%\" (stringp (%zlib-version)))
  (format t \"~&TLS ~A~%\" (tls-round-trip))
  (multiple-value-bind (a b) (epsilon.net.core:socket-pair)
    (refused \"context\" (epsilon.crypto:make-tls-connection *old-context* a))
    (epsilon.net.core:socket-close a) (epsilon.net.core:socket-close b))
  (refused \"connection\" (epsilon.crypto:tls-handshake *old-connection*))
  (epsilon.crypto:with-tls-context (ctx :verify nil)
    (multiple-value-bind (a b) (epsilon.net.core:socket-pair)
      (refused \"session\" (epsilon.crypto:make-tls-connection ctx a :session *old-session*))
      (epsilon.net.core:socket-close a) (epsilon.net.core:socket-close b)))
  (refused \"callback\" (epsilon.foreign:callback-pointer *old-callback*))
  ;; Freeing what the image brought along frees nothing of this process.
  (epsilon.crypto:tls-connection-free *old-connection*)
  (epsilon.crypto:tls-context-free *old-context*)
  (epsilon.crypto:tls-session-free *old-session*)
  (format t \"~&FREED ~A~%\" (epsilon.foreign:free-callback *old-callback*))
  ;; Live TLS objects and closures (call interfaces stay: one per signature).
  (format t \"~&HANDLES ~A~%\"
          (loop for kind in (list epsilon.linux.bindings:+handle-tls-context+
                                  epsilon.linux.bindings:+handle-tls-connection+
                                  epsilon.linux.bindings:+handle-tls-session+
                                  epsilon.linux.bindings:+handle-ffi-closure+)
                sum (epsilon.linux.bindings:%eps-handles-live kind)))
  (finish-output)
  (sb-ext:exit :code 0))
")

(defun build-image (dir certs &key (registry (checkout-registry)) library)
  "Save *IMAGE-PROGRAM*, loaded over epsilon.linux from REGISTRY (the
checkout; the certificates of CERTS; EPSILON_LINUX_LIBRARY=LIBRARY if
given), as the executable DIR/app; return its path."
  (let ((program (merge-pathnames "program.lisp" dir))
        (app (merge-pathnames "app" dir)))
    (with-open-file (s program :direction :output :if-exists :supersede)
      (write-string *image-program* s))
    (multiple-value-bind (out code)
        (run-sbcl registry
                  (list "(asdf:load-system \"epsilon.linux\")"
                        (format nil "(load ~S)" (namestring program))
                        "(sb-ext:disable-debugger)"
                        (format nil "(sb-ext:save-lisp-and-die ~S :executable t
                                      :toplevel (lambda () (funcall (find-symbol \"MAIN\" \"IMAGE-TEST\"))))"
                                (namestring app)))
                  :environment (apply #'child-environment (format nil "CERT_DIR=~A" certs)
                                      (and library
                                           (list (format nil "EPSILON_LINUX_LIBRARY=~A" library)))))
      (is (probe-file app) "no executable (~A):~%~A" code out))
    app))

(defun check-image-run (out code library)
  (is (eql 0 code) "exit code ~A:~%~A" code out)
  (is (has out (format nil "LIBRARY ~A" library)) "not loaded from ~A:~%~A" library out)
  (is (has out "TCP tcp hello") "~A" out)
  (is (has out "TLS tls hello") "~A" out)
  (is (has out "STRLEN 5 6") "~A" out)
  (is (has out "CALLBACK 42") "~A" out)
  (is (has out "ZLIB T") "~A" out)
  (dolist (what '("context" "connection" "session"))
    (is (has out (format nil "REFUSED ~A EPSILON.LINUX.ERRORS:TLS-ERROR: " what)) "~A" out)
    (is (has out (format nil "the TLS ~A was made before this image was saved" what)) "~A" out))
  (is (has out "REFUSED callback EPSILON.FOREIGN:SAVED-OBJECT-ERROR") "~A" out)
  (is (has out "was made before this image was saved") "~A" out)
  (is (not (has out (format nil "~%USED "))) "~A" out)
  (is (has out "FREED NIL") "~A" out)
  (is (has out "HANDLES 0") "~A" out))

(test a-saved-executable-loads-the-library-again-and-refuses-old-handles
  (let* ((dir (format nil "/tmp/epsilon-image-test-~D-~D/" (sb-unix:unix-getpid)
                      (random 1000000 (make-random-state t))))
         (certs (namestring (epsilon.linux.tests::cert-dir))))
    (ensure-directories-exist dir)
    (unwind-protect
         (let* ((app (namestring (build-image dir certs)))
                ;; Where the image finds it with EPSILON_LINUX_LIBRARY unset:
                ;; the build tree beside the checkout it was built from.
                (built-with (namestring
                             (merge-pathnames (format nil "../build/csrc/libepsilon-linux.so.~D"
                                                      epsilon.foreign:+abi-major+)
                                              (asdf:system-source-directory "epsilon.foreign"))))
                (elsewhere (format nil "~Aelsewhere/libepsilon-linux.so.~D" dir
                                   epsilon.foreign:+abi-major+)))
           (when (probe-file app)
             ;; Started as it is: the library is found again by the same rules.
             (multiple-value-bind (out code)
                 (run-child app '() :environment (child-environment
                                                  (format nil "CERT_DIR=~A" certs)))
               (check-image-run out code built-with))
             ;; The library elsewhere, named by EPSILON_LINUX_LIBRARY: that one.
             (ensure-directories-exist elsewhere)
             (run-child "cp" (list (namestring (truename built-with)) elsewhere))
             (multiple-value-bind (out code)
                 (run-child app '() :environment (child-environment
                                                  (format nil "CERT_DIR=~A" certs)
                                                  (format nil "EPSILON_LINUX_LIBRARY=~A" elsewhere)))
               (check-image-run out code elsewhere))
             ;; No library where it says: one clear error at start.
             (multiple-value-bind (out code)
                 (run-child app '() :environment (child-environment
                                                  "EPSILON_LINUX_LIBRARY=/nonexistent/libepsilon-linux.so.1"))
               (is (not (eql 0 code)) "~A" out)
               (is (has out "libepsilon-linux could not be loaded") "~A" out)
               (is (has out "/nonexistent/libepsilon-linux.so.1: no such file") "~A" out)
               (is (not (has out "TCP ")) "~A" out))))
      (sb-ext:run-program "/bin/rm" (list "-rf" dir)))))

(test a-saved-executable-needs-no-path-of-the-machine-it-was-built-on
  ;; Built from an installed copy with the library named by
  ;; EPSILON_LINUX_LIBRARY; started with that variable unset and the
  ;; library somewhere else, where only the system loader finds it (here
  ;; through LD_LIBRARY_PATH): it is found there.
  (destructuring-bind (destdir systems library) (installed)
    (declare (ignore destdir systems))
    (let* ((dir (format nil "/tmp/epsilon-image-test-~D-~D/" (sb-unix:unix-getpid)
                        (random 1000000 (make-random-state t))))
           (certs (namestring (epsilon.linux.tests::cert-dir)))
           (soname (format nil "libepsilon-linux.so.~D" epsilon.foreign:+abi-major+))
           (elsewhere (format nil "~Aelsewhere/" dir)))
      (ensure-directories-exist elsewhere)
      (unwind-protect
           (let ((app (namestring (build-image dir certs :registry (installed-registry)
                                                         :library (namestring library)))))
             (when (probe-file app)
               (run-child "cp" (list (namestring library) (concatenate 'string elsewhere soname)))
               (multiple-value-bind (out code)
                   (run-child app '() :environment (child-environment
                                                    (format nil "CERT_DIR=~A" certs)
                                                    (format nil "LD_LIBRARY_PATH=~A" elsewhere)))
                 (check-image-run out code soname))))
        (sb-ext:run-program "/bin/rm" (list "-rf" dir))))))

;;; The executable of docs/deploy.md, built and run as the page says.

(defun fenced-block-after (path marker fence)
  "The text of the first block fenced FENCE after the line of PATH holding
MARKER."
  (with-open-file (in path)
    (loop for line = (read-line in nil) while line until (search marker line))
    (loop for line = (read-line in nil) while line until (string= (string-trim " " line) fence))
    (with-output-to-string (s)
      (loop for line = (read-line in nil) while line
            until (string= (string-trim " " line) "```")
            do (write-line line s)))))

(test the-documented-executable-builds-and-runs
  (let* ((page (asdf:system-relative-pathname "epsilon.linux" "../docs/deploy.md"))
         (program (fenced-block-after page "The file `hello.lisp`" "```lisp illustration"))
         (commands (fenced-block-after page "Saved as `./hello`" "```sh"))
         (dir (format nil "/tmp/epsilon-deploy-doc-~D-~D/" (sb-unix:unix-getpid)
                      (random 1000000 (make-random-state t)))))
    (is (search "defun main" program))
    (is (search "save-lisp-and-die" commands))
    (ensure-directories-exist dir)
    (unwind-protect
         (progn
           (with-open-file (s (merge-pathnames "hello.lisp" dir) :direction :output)
             (write-string program s))
           (multiple-value-bind (out code)
               ;; ASDF finds the checkout through CL_SOURCE_REGISTRY, as a
               ;; user's own configuration would.
               (run-child "/bin/sh" (list "-e" "-c" commands) :directory dir
                          :environment (child-environment
                                        (format nil "CL_SOURCE_REGISTRY=~A/"
                                                (namestring (merge-pathnames "lisp/" (root))))))
             (is (eql 0 code) "exit code ~A:~%~A" code out)
             (is (search (format nil "~%hello from a saved image") out) "~A" out)))
      (sb-ext:run-program "/bin/rm" (list "-rf" dir)))))

;;; The FFI layer in one piece (lisp/foreign/, lisp/generated/, lisp/ffi/)

(defun file-text (path)
  (with-open-file (in path :external-format :utf-8)
    (let ((s (make-string (file-length in))))
      (subseq s 0 (read-sequence s in)))))

(test ffi-layer-reads-bottom-up
  ;; lisp/foreign/ loads below the generated bindings, so it names nothing
  ;; of them; what calls them is in lisp/ffi/, above.  DEFSHARED treats
  ;; every library alike, and the ABI number is written once, in the
  ;; generated version.lisp.
  (let ((foreign (directory (merge-pathnames "foreign/*.lisp"
                                              (asdf:system-source-directory "epsilon.foreign")))))
    (is (<= 4 (length foreign)))
    (dolist (file foreign)
      (is (not (search "epsilon.linux.bindings" (file-text file) :test #'char-equal))
          "~A uses the generated bindings, which load after it" (file-namestring file))))
  (is (not (search "\"libepsilon-linux\""
                   (file-text (asdf:system-relative-pathname "epsilon.foreign"
                                                             "foreign/defshared.lisp")))))
  (let ((ffi-library (file-text (asdf:system-relative-pathname "epsilon.foreign"
                                                               "ffi/library.lisp"))))
    (is (search "(defconstant +abi-major+ epsilon.linux.bindings:+abi-major+" ffi-library)))
  (is (= epsilon.foreign:+abi-major+ epsilon.linux.bindings:+abi-major+)))
