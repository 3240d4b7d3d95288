;; TODO: yes clojure
(def s "; FIXME NOPE")
(def c \;) ; HACK yes after char
