package main

// TODO(erin): yes go comment
func main() {
	s := `raw string
// FIXME: NOPE in raw string
`
	r := '"' // HACK: yes after rune
	t := "// XXX NOPE" /* BUG yes block */
	_ = s + t + string(r)
}
