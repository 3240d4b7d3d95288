#!/usr/bin/perl
# TODO: yes perl
my $n = $#array; # FIXME yes after array length
my $s = "# HACK NOPE";
print <<"EOF";
# XXX NOPE heredoc
EOF

=pod

BUG: yes in pod

=cut
