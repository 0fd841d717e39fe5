;;;; SPDX-License-Identifier: MIT
;;;; epsilon.drakma.asd - Drakma's HTTPS requests through epsilon.crypto.

(defsystem "epsilon.drakma"
  :description "A verified TLS client stream through epsilon.crypto for Drakma's :STREAM
argument.  Not loaded by epsilon.linux."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.linux" "drakma" "chunga" "flexi-streams" "puri")
  :pathname "drakma/"
  :serial t
  :components ((:file "package")
               (:file "stream")))
