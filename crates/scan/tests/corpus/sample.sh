#!/bin/sh
# TODO: yes shell
echo "# FIXME NOPE" '# HACK NOPE' $# ${#x} a#b
cat <<EOF
# XXX NOPE heredoc
EOF
cat <<-'END'
	# BUG NOPE quoted heredoc
	END
echo \# NOPE escaped # BUG: yes after escape
