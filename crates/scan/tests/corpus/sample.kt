// TODO: yes kotlin
val s = """
    // FIXME NOPE raw
"""
/* outer /* inner */ HACK: yes still in outer comment */
val c = '\n' // XXX yes
