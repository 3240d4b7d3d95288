// TODO: yes swift
let raw = #"// FIXME "NOPE" raw"#
let multi = """
  // HACK NOPE multi-line string
  """
/* outer /* nested */ XXX: yes in outer */
let s = "\"// BUG NOPE"
