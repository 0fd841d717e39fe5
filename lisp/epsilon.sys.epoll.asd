;;;; SPDX-License-Identifier: MIT
;;;; epsilon.sys.epoll.asd - the package epsilon.sys.epoll alone.

(defsystem "epsilon.sys.epoll"
  :description "epoll for SBCL over libepsilon-linux: instances, level and edge
triggering, one-shot, eventfd wakeups and timerfd timers."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.linux.core")
  :pathname "sys/"
  :serial t
  :components ((:file "package")
               (:file "events")
               (:file "epoll")
               (:file "timers"))
  :in-order-to ((test-op (load-op "epsilon.linux/tests")))
  :perform (test-op (o c) (uiop:symbol-call :epsilon.linux.tests :run-package-suites
                                            :epoll)))
