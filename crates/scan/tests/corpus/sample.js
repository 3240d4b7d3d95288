// TODO: yes js
const a = "// FIXME NOPE";
const b = 'it\'s // HACK NOPE';
const t = `template
// XXX NOPE in template
${a}`;
const re = /\/\/ TODO NOPE regex/g; // BUG yes after regex
const half = 10 / 2; // TODO yes after division
/* FIXME: yes block
   continues */
