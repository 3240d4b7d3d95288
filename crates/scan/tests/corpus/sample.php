<?php
// TODO: yes php
# FIXME: yes hash comment
#[Attribute] // HACK yes after attribute
$s = "// XXX NOPE";
$h = <<<EOT
// BUG NOPE heredoc
EOT;
/* TODO(frank): yes block */
