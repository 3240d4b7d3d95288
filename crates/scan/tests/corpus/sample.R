# TODO: yes R
s <- "# FIXME NOPE"
t <- '# HACK NOPE' # XXX yes trailing
