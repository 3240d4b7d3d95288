#include <string>
// TODO: yes cpp line
auto raw = R"delim(
// TODO: NOPE inside a raw string
)" still raw )delim";
int big = 1'000'000; // FIXME: yes after digit separators
auto w = L'x'; // HACK yes after wide char
const char* s = "\"// XXX NOPE\"";
/** BUG(#9): yes doc block */
