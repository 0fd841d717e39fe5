;;;; SPDX-License-Identifier: MIT
;;;; epsilon.linux.stream.asd - the stream core under socket and TLS streams.

(defsystem "epsilon.linux.stream"
  :description "The buffered bivalent Gray stream that epsilon.net.core's socket
streams and epsilon.crypto's TLS streams are made of: one UTF-8 codec, the
stream conditions, a small transport protocol."
  :license "MIT"
  :version "0.1.0"
  :depends-on ("epsilon.linux.core")
  :pathname "stream/"
  :serial t
  :components ((:file "package")
               (:file "conditions")
               (:file "utf-8")
               (:file "buffered")))
