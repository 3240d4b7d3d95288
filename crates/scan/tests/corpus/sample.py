#!/usr/bin/env python3
# TODO: yes python
def f():
    """TODO: NOPE docstring is a string"""
    s = 'FIXME NOPE'  # HACK yes after string
    t = '''
    # XXX NOPE in triple single
    '''
    u = "# BUG NOPE"  # BUG(#77): yes
    return s, t, u
# TODO: yes first line
#   continued here
#
# not continued after blank
