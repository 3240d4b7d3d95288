# TODO: yes powershell
$s = "# FIXME NOPE `" still"
<#
HACK: yes block comment
#>
$t = 'it''s # XXX NOPE'
