public class Sample {
    // TODO: yes java
    String block = """
        // FIXME: NOPE in text block
        """;
    char c = '"'; // HACK yes after char
    /**
     * XXX: yes javadoc
     * @param x a doc tag ends the continuation
     */
    void m() { String s = "TODO NOPE"; }
}
