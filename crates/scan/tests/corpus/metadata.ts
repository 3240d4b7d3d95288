// @TODO yes at-prefixed tag
// TODO - yes dash separator
// TODO(#123) yes issue in parentheses
// TODO #124: yes issue after the tag
// TODO(@alice) yes at-author
// FIXME(bob, ABC-12): yes author and key
// TODO @carol: yes author after the tag
// HACK: yes first FIXME: yes second on the same line
// TODO: yes duplicate
// TODO: yes duplicate
// XXX: yes trailing author /dave
// BUG
//   yes text only on the continuation line
// TODO(some words here): yes parentheses that are not metadata
const TODO = "x"; const s = `${TODO}`; // NOPE: identifiers and strings only
// TODOS NOPE plural, TODO_X NOPE, todo NOPE lowercase, #TODO NOPE? see TODO.md
