object Sample {
  // TODO: yes scala
  val s = """// FIXME NOPE"""
  /* a /* b */ BUG: yes nested */
  val c = 'x' // HACK yes
}
