;;;; SPDX-License-Identifier: MIT
;;;; suite-foreign.lisp - epsilon.foreign: generated declarations, DEFSHARED,
;;;; SHARED-CALL, callbacks, libraries and foreign memory.

(defpackage #:epsilon.linux.tests.foreign
  (:use #:cl #:fiveam #:epsilon.foreign)
  (:local-nicknames (#:b #:epsilon.linux.bindings)))

(in-package #:epsilon.linux.tests.foreign)

(def-suite foreign :in epsilon.linux.tests::epsilon-linux
  :description "epsilon.foreign over libepsilon-linux, libc and libm.")
(in-suite foreign)

;;; Declarations over libc and libm, written as a user would.

(defshared %labs "labs" "libc" :long (x :long)
  :documentation "labs(3)")
(defshared %strlen "strlen" "libc" :unsigned-long (s :string))
(defshared %getenv "getenv" "libc" :string (name :string))
(defshared %memset "memset" "libc" :pointer (p :pointer) (c :int) (n :size))
(defshared %ldexp "ldexp" "libm" :double (x :double) (e :int))
(defshared %ldexpf "ldexpf" "libm" :float (x :float) (e :int))
(defshared %toupper "toupper" "libc" :int (c :int))

(defun closures-live () (b:%eps-handles-live b:+handle-ffi-closure+))

;;; Generated declarations

(defparameter *safe-calls*
  ;; Arguments that every generated function must answer without harm.
  '((b:%eps-strerror -111) (b:%eps-errname 111) (b:%eps-last-error-detail -5 nil 0)
    (b:%eps-close -1) (b:%eps-fd-set-nonblocking -1 1) (b:%eps-fd-nonblocking-p -1)
    (b:%eps-fd-poll -1 1 0) (b:%eps-fds-open) (b:%eps-handles-live 0)
    (b:%eps-version-string) (b:%eps-abi-version)
    (b:%eps-ffi-cif-new 99 nil 0) (b:%eps-ffi-cif-free 1) (b:%eps-ffi-call 1 nil nil nil)
    (b:%eps-ffi-closure-new 0 nil 0 nil 0) (b:%eps-ffi-closure-address 1 nil)
    (b:%eps-ffi-closure-free 1) (b:%eps-ffi-noop 7)))

(test every-generated-function-is-fbound-and-documented
  (let ((count 0))
    (do-external-symbols (s :epsilon.linux.bindings)
      (when (char= #\% (char (symbol-name s) 0))
        (incf count)
        (is (fboundp s) "~S is not fbound" s)
        (is (stringp (documentation s 'function)) "~S has no documentation" s)))
    (is (>= count (length *safe-calls*)))))

(test generated-functions-are-callable
  (loop for (f . args) in *safe-calls*
        do (is (typep (apply f args) '(or integer string)) "~S" f))
  (is (string= "connection refused" (b:%eps-strerror -111)))
  (is (= -22 (b:%eps-ffi-cif-new 99 nil 0)))
  (is (= -4097 (b:%eps-ffi-cif-free 1)))
  (is (= 7 (b:%eps-ffi-noop 7))))

(test generated-constants-have-header-values
  (is (= 111 b:+econnrefused+))
  (is (= 6 b:+handle-ffi-closure+))
  (is (= 11 b:+ffi-type-pointer+))
  (is (= 1 b:+abi-major+)))

;; The byte-moving calls are inline (so an offset SAP is not boxed); their
;; checks are code, so a caller compiled at safety 0 still gets a
;; TYPE-ERROR before C sees anything.
(test inline-defshared-checks-hold-at-safety-0
  (is (eq 'inline (sb-int:info :function :inlinep 'epsilon.linux.bindings::%eps-recv)))
  (is (not (eq 'inline (sb-int:info :function :inlinep 'epsilon.linux.bindings::%eps-close))))
  (let ((call (compile nil '(lambda (fd buffer len)
                              (declare (optimize (safety 0) (speed 3)))
                              (epsilon.linux.bindings::%eps-recv fd buffer len 0)))))
    (dolist (args (list (list (expt 2 40) nil 0)
                        (list "7" nil 0)
                        (list -1 nil -1)
                        (list -1 "not a buffer" 1)
                        (list -1 (make-array 4) 4)))
      (signals type-error (apply call args)))
    ;; Right types reach C, which answers for itself.
    (is (= (- epsilon.linux.bindings::+ebadf+) (funcall call -1 nil 0)))))

(test defshared-documentation-lands-on-the-function
  (is (string= "labs(3)" (documentation '%labs 'function)))
  (is (search "ECONNREFUSED" (documentation 'b:%eps-strerror 'function))))

;;; DEFSHARED

(test defshared-calls-with-every-kind-of-argument
  (is (= 5 (%labs -5)))
  (is (= (1- (expt 2 62)) (%labs (- 1 (expt 2 62)))))
  (is (= 5 (%strlen "hello")))
  (is (= 6 (%strlen "héllo")) "UTF-8: é is two bytes")
  (is (= 0 (%strlen "")))
  (is (= 12d0 (%ldexp 3d0 2)))
  (is (= 12d0 (%ldexp 3 2)) "an integer is converted to double")
  (is (= 12f0 (%ldexpf 3f0 2)))
  (is (= (char-code #\A) (%toupper (char-code #\a))))
  (let ((v (make-array 8 :element-type '(unsigned-byte 8) :initial-element 0)))
    (%memset v 65 4)
    (is (equalp #(65 65 65 65 0 0 0 0) v))))

(test defshared-string-return-and-null
  (is (null (%getenv "EPSILON_SURELY_NOT_SET_ANYWHERE")))
  (is (stringp (%getenv "PATH")))
  ;; NIL passes NULL: eps_last_error_detail(code, NULL, 0) is the detail's
  ;; length, (NULL, 5) is -EINVAL.
  (is (<= 0 (b:%eps-last-error-detail -5 nil 0)))
  (is (= (- b:+einval+) (b:%eps-last-error-detail -5 nil 5))))

(test strings-holding-nul-are-type-errors
  ;; C would see only the part before the NUL: "127.0.0.1<NUL>junk" would
  ;; pass as a valid address, a host name checked against a certificate
  ;; would be cut short.
  (let ((s (format nil "ab~Ccd" (code-char 0))))
    (signals type-error (%strlen s))
    (signals type-error (shared-call "strlen" :size '(:string) s))
    (signals type-error (apply #'shared-call "strlen" :size '(:string) (list s)))
    (is (= 4 (apply #'shared-call "strlen" :size '(:string) (list "abcd"))))
    (is (= 4 (%strlen "abcd")))))

(test defshared-rejects-wrong-types-before-the-call
  (dolist (bad (list (expt 2 31) (- -1 (expt 2 31)) "1" 1.0 nil))
    (signals type-error (b:%eps-ffi-noop bad)))
  (signals type-error (b:%eps-handles-live :any))
  (signals type-error (%strlen 'symbol))
  (signals type-error (%strlen #(1 2 3)))
  (signals type-error (%ldexp "3" 2))
  ;; memset never ran: the buffer is untouched.
  (let ((v (make-array 4 :element-type '(unsigned-byte 8) :initial-element 0)))
    (signals type-error (%memset v 65 -1))
    (signals type-error (%memset v 65 (expt 2 64)))
    (signals type-error (%memset (make-array 4) 65 4))
    (signals type-error (%memset (make-array 4 :element-type 'character) 65 4))
    (signals type-error (%memset 12345 65 4))
    (is (equalp #(0 0 0 0) v))))

(test defshared-checks-even-for-safety-0-callers
  (let ((f (compile nil '(lambda (x)
                          (declare (optimize (safety 0) (speed 3)))
                          (epsilon.linux.bindings:%eps-ffi-noop x)))))
    (signals type-error (funcall f (expt 2 40)))
    (signals type-error (funcall f "x"))
    (is (= 3 (funcall f 3)))))

(test defshared-pins-every-unboxed-vector-kind
  (dolist (type '((unsigned-byte 8) (signed-byte 8) (unsigned-byte 16) (signed-byte 16)
                  (unsigned-byte 32) (signed-byte 32) (unsigned-byte 64) (signed-byte 64)
                  single-float double-float))
    (let ((v (make-array 4 :element-type type :initial-element (coerce 0 (if (subtypep type 'float) type 'integer)))))
      (%memset v 0 (min 4 (length v)))
      (pass))))

;;; SHARED-CALL

(test shared-call-against-libc-with-every-argument-type
  (is (= 5 (shared-call "labs" :long '(:long) -5)))
  (is (= 5 (shared-call "abs" :int '(:int) -5)))
  (is (= (expt 2 40) (shared-call "llabs" :long-long '(:long-long) (- (expt 2 40)))))
  (is (= (char-code #\Q) (shared-call "toupper" :int '(:int) (char-code #\q))))
  (is (= 6 (shared-call "strlen" :size '(:string) "héllo")))
  (is (= 2.5d0 (shared-call "strtod" :double '(:string :pointer) "2.5xyz" nil)))
  (is (= 12f0 (shared-call '("ldexpf" "libm") :float '(:float :int) 3f0 2)))
  (let ((exp (make-array 1 :element-type '(signed-byte 32) :initial-element 0)))
    (is (= 0.75d0 (shared-call '("frexp" "libm") :double '(:double :pointer) 6d0 exp)))
    (is (= 3 (aref exp 0))))
  (let ((src (make-array 5 :element-type '(unsigned-byte 8) :initial-contents '(1 2 3 4 5)))
        (dst (make-array 5 :element-type '(unsigned-byte 8) :initial-element 0)))
    (is (sb-sys:system-area-pointer-p (shared-call "memcpy" :pointer '(:pointer :pointer :size)
                                                   dst src 5)))
    (is (equalp src dst))))

(test shared-call-with-run-time-signatures
  ;; Nothing constant at the call site: the general path.
  (let ((name (copy-seq "labs")) (ret :long) (types (list :long)))
    (is (= 7 (funcall 'shared-call name ret types -7)))
    (is (= 7 (apply #'shared-call name ret types '(7)))))
  (signals error (shared-call "labs" :long '(:long)))
  (signals error (shared-call "labs" :long '(:long) 1 2))
  (signals foreign-symbol-not-found
    (shared-call "eps_no_such_function_anywhere" :int '()))
  (signals error (shared-call "labs" :long '(:no-such-type) 1))
  (signals error (shared-call "labs" :long '(:void) 1)))

(test shared-call-rejects-wrong-types-before-the-call
  (let ((v (make-array 4 :element-type '(unsigned-byte 8) :initial-element 0)))
    (signals type-error (shared-call "memset" :pointer '(:pointer :int :size) v 65 -1))
    (signals type-error (shared-call "memset" :pointer '(:pointer :int :size) v "A" 4))
    (signals type-error (shared-call "memset" :pointer '(:pointer :int :size) (list 1) 65 4))
    (let ((types (list :pointer :int :size)))
      (signals type-error (funcall 'shared-call "memset" :pointer types v 65 -1))
      (signals type-error (funcall 'shared-call "memset" :pointer types "v" 65 4)))
    (is (equalp #(0 0 0 0) v)))
  (signals type-error (shared-call "strlen" :size '(:string) 42))
  (signals type-error (shared-call "abs" :int '(:int) (expt 2 31))))

(test shared-call-caches-one-call-interface-per-signature-across-threads
  (let* ((before (b:%eps-handles-live b:+handle-ffi-cif+))
         (types (list :uint16 :int8 :uint8 :int16 :uint32))
         (results (make-array 4))
         (threads (loop for k below 4
                        collect (let ((k k))
                                  (sb-thread:make-thread
                                   (lambda ()
                                     (setf (aref results k)
                                           (loop repeat 200
                                                 collect (funcall 'shared-call "eps_ffi_noop"
                                                                  :int32 types 1 2 3 4 5)))))))))
    (mapc #'sb-thread:join-thread threads)
    ;; eps_ffi_noop reads only its first argument.
    (is (every (lambda (r) (every (lambda (x) (= x 1)) r)) results))
    (is (= (1+ before) (b:%eps-handles-live b:+handle-ffi-cif+)))))

;;; Callbacks

(test qsort-with-a-lisp-comparator
  (let* ((n 200)
         (values (loop repeat n collect (- (random 2000000) 1000000)))
         (before (closures-live)))
    (with-foreign-memory ((array :int :count n))
      (loop for v in values for i from 0 do (setf (mem-ref array :int (* 4 i)) v))
      (let ((calls 0))
        (with-callback (compare (lambda (a b)
                                  (incf calls)
                                  (let ((x (mem-ref a :int)) (y (mem-ref b :int)))
                                    (cond ((< x y) -1) ((> x y) 1) (t 0))))
                                :int '(:pointer :pointer))
          (is (= (1+ before) (closures-live)))
          (shared-call "qsort" :void '(:pointer :size :size :pointer) array n 4 compare))
        (is (plusp calls)))
      (is (equal (sort (copy-list values) #'<)
                 (loop for i below n collect (mem-ref array :int (* 4 i))))))
    (is (= before (closures-live)))))

(test callbacks-convert-every-type
  (let ((before (closures-live)))
    (let ((cb (make-callback (lambda (a b c d e f g h)
                               (+ a b c d e f g (round h)))
                             :int64 '(:int8 :uint8 :int16 :uint16 :int32 :uint32 :uint64 :double))))
      (is (callback-live-p cb))
      (is (= (+ -1 255 -300 60000 -70000 4000000000 (expt 2 62) 2)
             (shared-call (callback-pointer cb) :int64
                          '(:int8 :uint8 :int16 :uint16 :int32 :uint32 :uint64 :double)
                          -1 255 -300 60000 -70000 4000000000 (expt 2 62) 2d0)))
      (is (eq t (free-callback cb)))
      (is (null (free-callback cb)) "a second free is harmless")
      (is (null (callback-pointer cb))))
    (dolist (case '((:int8 -5) (:uint8 250) (:int16 -30000) (:uint32 4000000000)
                    (:float 1.5f0) (:double -2.25d0)))
      (destructuring-bind (type value) case
        (with-callback (p (lambda () value) type '())
          (is (= value (shared-call p type '()))))))
    (with-callback (p (lambda (s q) (list s q)) :void '(:string :pointer))
      (is (null (multiple-value-list (shared-call p :void '(:string :pointer) nil nil)))))
    (let ((seen nil))
      (with-callback (p (lambda (s q) (setf seen (list s (null-pointer-p q)))) :void '(:string :pointer))
        (shared-call p :void '(:string :pointer) nil nil)
        (is (equal '(nil t) seen) "NIL passes NULL; NULL :string arrives as NIL")
        (shared-call p :void '(:string :pointer) "grüß" nil)
        (is (equal '("grüß" t) seen))))
    (is (= before (closures-live)))))

(test callback-argument-errors
  (signals error (make-callback (lambda () 1) :string '()))
  (signals error (make-callback (lambda (x) x) :int '(:void)))
  (signals type-error (make-callback 42 :int '()))
  ;; A type error at the call leaves the Lisp function uncalled.
  (let ((calls 0))
    (with-callback (p (lambda (x) (incf calls) x) :int '(:int))
      (signals type-error (shared-call p :int '(:int) "1"))
      (signals type-error (shared-call p :int '(:int) (expt 2 32)))
      (is (= 0 calls))
      (is (= 9 (shared-call p :int '(:int) 9)))
      (is (= 1 calls)))))

;;; Libraries

(test lib-open-function-close
  (let ((libm (lib-open "libm")))
    (is (typep libm 'foreign-library))
    (is (eq libm (lib-open "libm")))
    (is (sb-sys:system-area-pointer-p (lib-function libm "cos")))
    (is (null (lib-function libm "eps_no_such_symbol"))))
  (is (sb-sys:system-area-pointer-p (lib-function nil "strlen")))
  (is (sb-sys:system-area-pointer-p (lib-function "libepsilon-linux" "eps_ffi_noop")))
  (is (= 3 (shared-call (lib-function "libepsilon-linux" "eps_ffi_noop") :int '(:int) 3)))
  (let ((e (handler-case (progn (lib-open "libepsilon-no-such-library") nil)
             (error (e) (princ-to-string e)))))
    (is (search "libepsilon-no-such-library" e)))
  (is (null (lib-close "libepsilon-linux")) "the bindings' own library stays open")
  (let ((z (ignore-errors (lib-open "libz.so.1"))))
    (if (null z)
        (skip "libz.so.1 is not installed")
        (progn
          (is (stringp (shared-call (list "zlibVersion" "libz.so.1") :string '())))
          (is (eq t (lib-close z)))
          (is (null (lib-close z)) "closing twice is harmless")))))

;;; Memory

(test foreign-memory-round-trips
  (with-foreign-memory ((p 64 :zero t))
    (is (every #'zerop (loop for i below 64 collect (mem-ref p :uint8 i))))
    (loop for (type value) in '((:int8 -7) (:uint8 200) (:int16 -30000) (:uint16 65000)
                                (:int32 -2000000000) (:uint32 4000000000)
                                (:int64 -9000000000000000000) (:uint64 18000000000000000000)
                                (:float 1.5f0) (:double -0.125d0))
          do (setf (mem-ref p type 8) value)
             (is (= value (mem-ref p type 8)) "~S" type))
    (setf (mem-ref p :pointer 16) p)
    (is (sb-sys:sap= p (mem-ref p :pointer 16)))
    (signals type-error (setf (mem-ref p :uint8 0) 256))
    (signals type-error (setf (mem-ref p :int32 0) "x")))
  (let ((s (lisp-string-to-foreign "żółw 🐢")))
    (is (string= "żółw 🐢" (foreign-string-to-lisp s)))
    (is (string= "żółw 🐢" (shared-call "strdup" :string '(:pointer) s)))
    (is (eq t (foreign-free s))))
  (is (null (foreign-string-to-lisp (null-pointer))))
  (is (= 4 (foreign-type-size :int)))
  (is (= 8 (foreign-type-size :pointer))))

(test foreign-free-is-safe-twice-and-with-memory-frees-on-unwind
  (let ((p (foreign-alloc :double :count 4)))
    (is (eq t (foreign-free p)))
    (is (null (foreign-free p)) "a second free is harmless")
    (is (null (foreign-free nil)))
    (is (null (foreign-free (null-pointer)))))
  (let ((kept nil))
    (catch 'out
      (with-foreign-memory ((p 16) (q :int :count 2))
        (setf kept (list p q))
        (throw 'out nil)))
    (is (notany #'foreign-free kept) "both blocks were already freed")))

(test foreign-alloc-checks-sizes
  (signals type-error (foreign-alloc -1))
  (signals type-error (foreign-alloc (expt 2 31)))
  (signals type-error (foreign-alloc :int :count (expt 2 30)))
  (signals type-error (foreign-alloc "16"))
  (signals error (foreign-alloc :no-such-type))
  (let ((p (foreign-alloc 0)))
    (is (not (null-pointer-p p)))
    (is (eq t (foreign-free p)))))

(test callback-wide-unsigned-and-errors-unwind-cleanly
  (with-callback (p (lambda (x) x) :uint64 '(:uint64))
    (is (= (1- (expt 2 64)) (shared-call p :uint64 '(:uint64) (1- (expt 2 64))))))
  (let ((before (closures-live)))
    ;; The Lisp function's error unwinds through libffi's frames into ours.
    (with-callback (p (lambda () "not an int") :int '())
      (signals type-error (shared-call p :int '())))
    (with-callback (p (lambda () (error "inside")) :int '())
      (signals simple-error (shared-call p :int '()))
      ;; ...and the callback still works afterwards.
      (signals simple-error (shared-call p :int '())))
    (is (= before (closures-live)))))

(test defshared-checks-when-compiled-at-safety-0
  (with-compilation-unit (:policy '(optimize (speed 3) (safety 0) (debug 0)) :override t)
    (funcall (compile nil '(lambda ()
                            (defshared %noop-unsafe "eps_ffi_noop" "libepsilon-linux" :int
                              (v :unsigned-char)))))
    (funcall (compile nil '(lambda ()
                            (defshared %noop-unsafe-64 "eps_ffi_noop" "libepsilon-linux" :int
                              (v :long))))))
  (dolist (bad (list 256 -1 "1" 1.0 nil))
    (signals type-error (funcall '%noop-unsafe bad)))
  (dolist (bad (list (expt 2 63) (- -1 (expt 2 63)) 'x))
    (signals type-error (funcall '%noop-unsafe-64 bad)))
  (is (= 255 (funcall '%noop-unsafe 255))))
