#include <stdio.h>
/* TODO: yes block comment */
int main(void) {
    char *s = "/* TODO: NOPE in string */";
    char c = '"'; /* FIXME yes after char */
    char d = '\\'; // HACK: yes after backslash char
    int TODO = 0; // XXX(dave) yes with author
    printf("%s // BUG NOPE\n", s);
    return 0; /* BUG:
                 yes multi-line
                 block */
}
