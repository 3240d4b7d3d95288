//! Crate docs. TODO: yes inner doc comment
use std::fmt;

/// TODO(alice): yes outer doc comment
/// that continues here
///
/// not a continuation after the blank line
fn f<'a>(x: &'a str) -> &'a str {
    let s = "TODO: NOPE in a string";
    let r = r#"FIXME: NOPE in a raw "string" // NOPE"#;
    let b = br"HACK NOPE raw bytes";
    let c = '"'; // XXX: yes after a char literal holding a quote
    let q = '\''; // BUG #42 yes after an escaped char
    let TODO_LIST = 1; let myTODO = 2; // the TODO list is fine, NOPE
    'outer: loop { break 'outer; } // FIXME(@bob, JIRA-7) - yes after a label
    /* outer /* inner */ TODO: yes nested block */ let z = "*/ NOPE";
    let url = "https://example.com/TODO"; // see https://x.test/TODO/list NOPE
    x
}

/*
 * TODO(https://example.com/o/r/issues/5): yes block
 *   with a continuation line
 */
fn g() {} // HACK yes trailing /carol
// TODO: yes first
// FIXME: yes second, not a continuation of the first
//     but a continuation of the second
fn after() {}
// Merging into the Master TODO: prose that names the word, NOPE
fn between() {}
/// Lines containing `TODO:` are items, NOPE
fn last() {}
/// let s = b"// TODO: in a string inside a doc example, NOPE";
fn more() {}
// Write "FIXME: later" in quotes, NOPE
fn more2() {}
// a `TODO:` in inline code, NOPE
fn more3() {}
// step one - TODO: yes after a dash
