(* TODO: yes ocaml *)
let s = "(* FIXME NOPE *)"
let f (x : 'a) = x (* outer (* inner *) HACK: yes nested *)
let q = {id|(* XXX NOPE *)|id}
let c = '"' (* BUG yes after char *)
