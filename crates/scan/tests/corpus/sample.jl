# TODO: yes julia
s = "# FIXME NOPE"
#= outer #= inner =# HACK: yes nested =#
t = """
# XXX NOPE
"""
c = '#' # BUG yes after char
