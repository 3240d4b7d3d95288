# TODO: yes ruby
s = "# FIXME NOPE #{1 + 1}"
h = <<~EOS
  # HACK NOPE heredoc
EOS
=begin
XXX: yes in begin block
=end
c = ?# # BUG yes after char literal
