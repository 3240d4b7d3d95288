%% TODO: yes erlang
-module(m).
f() -> "% FIXME NOPE". % HACK yes trailing
g() -> $%. % XXX yes after char
