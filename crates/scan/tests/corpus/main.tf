# TODO: yes terraform
// FIXME: yes slash comment
resource "x" "y" {
  s = "# HACK NOPE"
  doc = <<-EOT
    # XXX NOPE heredoc
  EOT
}
/* BUG yes block */
