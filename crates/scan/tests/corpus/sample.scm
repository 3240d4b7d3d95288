;; TODO: yes scheme
(define s "; FIXME NOPE")
#| outer #| inner |# HACK: yes nested block |#
(define c #\;) ; XXX yes after char
