// TODO: yes zig
const s =
    \\// FIXME NOPE multi-line string
    \\still string
;
const c = '"'; // HACK yes after char
