# TODO: yes nim
let s = "# FIXME NOPE"
#[ outer #[ inner ]# HACK: yes nested ]#
let t = """# XXX NOPE"""
