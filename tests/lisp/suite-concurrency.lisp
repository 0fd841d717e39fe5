(in-package #:epsilon.linux.tests)
