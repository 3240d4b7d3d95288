//! The `todovault` command.

fn main() {}
