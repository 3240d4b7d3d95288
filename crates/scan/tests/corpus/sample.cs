// TODO: yes csharp
var path = @"C:\dir\"; // FIXME: yes after verbatim string ending in backslash
var v = @"a ""quoted"" // TODO NOPE
still verbatim";
var raw = """
    // HACK NOPE raw string literal
    """;
char c = '\''; /* XXX: yes block */
/// <summary>
/// BUG: yes in xml doc
/// </summary>
