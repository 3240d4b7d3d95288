// TODO: yes fsharp
let s = @"C:\dir\" // FIXME yes after verbatim
let op = (*) 2 3 // HACK yes after multiplication operator
(* XXX: yes block *)
let t = """// BUG NOPE"""
