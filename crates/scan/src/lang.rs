//! The language table: which comment markers and string syntaxes each
//! supported language has, and how a language is chosen from a file's path.
//!
//! A language is chosen only by its extension or by an exact file name
//! (`Dockerfile`, `Makefile`, `CMakeLists.txt`, ...). Unknown files are not
//! guessed: [`detect`] returns `None` for them and the scanner counts them as
//! skipped.

/// How an escape inside a quoted string is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Esc {
    /// No escapes: the first closing quote ends the string.
    None,
    /// A backslash escapes the next byte.
    Backslash,
    /// The quote is escaped by doubling it (`''` in SQL).
    Doubled,
    /// A backtick escapes the next byte (PowerShell).
    Backtick,
}

/// Where a line-comment marker is recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineRule {
    /// Anywhere in code.
    Anywhere,
    /// Only at the start of a line or after whitespace (shell, YAML).
    AfterSpace,
    /// Only when nothing but whitespace precedes it on its line (Dockerfile).
    LineStart,
    /// Haskell: a run of two or more dashes not part of an operator.
    Haskell,
    /// Not when directly followed by this byte (PHP `#[` attributes).
    NotFollowedBy(u8),
    /// Not when directly preceded by this byte (Perl `$#array`).
    NotPrecededBy(u8),
}

/// A line comment marker.
#[derive(Debug)]
pub(crate) struct LineComment {
    pub marker: &'static [u8],
    pub rule: LineRule,
}

/// How a block comment is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    /// `open` ... `close` anywhere in code.
    Plain,
    /// `open` ... `close`, where `open` is not followed by this byte
    /// (F#'s `(*)` operator).
    NotFollowedBy(u8),
    /// Both markers must start a line (Ruby `=begin` / `=end`).
    LineStart,
    /// Perl POD: a line starting with `=word` up to a line starting with `=cut`.
    Pod,
    /// `open` followed by a long bracket `[`, `=`*n, `[`, closed by `]`, `=`*n,
    /// `]` (Lua `--[==[ ]==]`, CMake `#[[ ]]`).
    LongBracket,
}

/// A block comment.
#[derive(Debug)]
pub(crate) struct BlockComment {
    pub open: &'static [u8],
    pub close: &'static [u8],
    pub nested: bool,
    pub kind: BlockKind,
}

/// Heredoc flavours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HereStyle {
    Shell,
    Ruby,
    Perl,
    Php,
    Hcl,
}

/// A string (or other non-comment literal) syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Str {
    /// A quoted string; `multiline: false` ends an unterminated string at the
    /// end of its line.
    Quote { q: u8, esc: Esc, multiline: bool },
    /// A quoted string that can only start after a non-word byte (YAML).
    WordQuote { q: u8, esc: Esc },
    /// A triple-quoted string (Python, Kotlin, TOML, ...).
    Triple { q: u8, esc: Esc },
    /// A C-style character literal that tells `'a'` apart from lifetimes,
    /// type variables, primes and digit separators.
    Char,
    /// A prefix that quotes the next character (Erlang `$"`, Elixir `?#`,
    /// Clojure `\;`, Lisp `#\;`).
    CharPrefix(&'static [u8]),
    /// Rust raw strings `r#"..."#`, `br"..."`, `cr"..."`.
    RustRaw,
    /// C++ raw strings `R"delim(...)delim"`.
    CppRaw,
    /// Swift extended delimiters `#"..."#`, `#"""..."""#`.
    SwiftRaw,
    /// C# / F# verbatim strings `@"..."` with `""` escapes.
    Verbatim,
    /// Dart raw strings `r'...'`, `r"""..."""`.
    DartRaw,
    /// Lua long strings `[==[ ... ]==]`, CMake bracket arguments.
    LongBracket,
    /// Heredocs.
    Heredoc(HereStyle),
    /// Zig multi-line string lines `\\ ...`.
    ZigLine,
    /// OCaml quoted strings `{id|...|id}`.
    OcamlQuoted,
    /// JavaScript regular expression literals.
    JsRegex,
}

/// Markup handling for HTML-like languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Markup {
    /// Not a markup language.
    None,
    /// XML: `<!-- -->` comments and `<![CDATA[ ]]>` sections.
    Xml,
    /// HTML, Vue, Svelte: like XML, plus `<script>` and `<style>` elements
    /// lexed as JavaScript and CSS.
    Html,
}

/// The lexical syntax of one language.
#[derive(Debug)]
pub(crate) struct Syntax {
    pub line: &'static [LineComment],
    pub block: &'static [BlockComment],
    pub strings: &'static [Str],
    /// A backslash in code escapes the next byte (shell `\#`, TeX `\%`).
    pub code_escape: bool,
    pub markup: Markup,
    /// The lexer's lookup tables, built on first use.
    pub tables: std::sync::OnceLock<crate::lexer::LexTables>,
}

impl Syntax {
    /// Whether every comment opener ends in punctuation, so that text can
    /// only start a comment's body after punctuation, whitespace or a line
    /// start. False for Ruby's `=begin` and Perl's POD.
    pub(crate) fn openers_end_in_punctuation(&self) -> bool {
        self.block
            .iter()
            .all(|b| !matches!(b.kind, BlockKind::LineStart | BlockKind::Pod))
    }
}

/// A supported language.
#[derive(Debug)]
pub(crate) struct Language {
    /// Human-readable name.
    pub name: &'static str,
    /// The syntax used to find comments; `None` for Markdown, which is parsed
    /// with a CommonMark parser instead.
    pub syntax: Option<&'static Syntax>,
}

const fn lc(marker: &'static [u8]) -> LineComment {
    LineComment {
        marker,
        rule: LineRule::Anywhere,
    }
}

const fn lcr(marker: &'static [u8], rule: LineRule) -> LineComment {
    LineComment { marker, rule }
}

const fn bc(open: &'static [u8], close: &'static [u8], nested: bool) -> BlockComment {
    BlockComment {
        open,
        close,
        nested,
        kind: BlockKind::Plain,
    }
}

const fn q(q: u8, esc: Esc, multiline: bool) -> Str {
    Str::Quote { q, esc, multiline }
}

const fn tq(q: u8, esc: Esc) -> Str {
    Str::Triple { q, esc }
}

use Esc::{Backslash as BS, Doubled as DBL, None as NOESC};

const SLASH: &[LineComment] = &[lc(b"//")];
const HASH: &[LineComment] = &[lc(b"#")];
const C_BLOCK: &[BlockComment] = &[bc(b"/*", b"*/", false)];
const C_BLOCK_NESTED: &[BlockComment] = &[bc(b"/*", b"*/", true)];
const ML_BLOCK: &[BlockComment] = &[bc(b"(*", b"*)", true)];

macro_rules! syntax {
    ($name:ident, line: $line:expr, block: $block:expr, strings: $strings:expr) => {
        syntax!($name, line: $line, block: $block, strings: $strings, escape: false, markup: Markup::None);
    };
    ($name:ident, line: $line:expr, block: $block:expr, strings: $strings:expr, escape: $esc:expr, markup: $markup:expr) => {
        pub(crate) static $name: Syntax = Syntax {
            line: $line,
            block: $block,
            strings: $strings,
            code_escape: $esc,
            markup: $markup,
            tables: std::sync::OnceLock::new(),
        };
    };
}

syntax!(RUST, line: SLASH, block: C_BLOCK_NESTED,
    strings: &[Str::RustRaw, q(b'"', BS, true), Str::Char]);
syntax!(C, line: SLASH, block: C_BLOCK,
    strings: &[q(b'"', BS, false), Str::Char]);
syntax!(CPP, line: SLASH, block: C_BLOCK,
    strings: &[Str::CppRaw, q(b'"', BS, false), Str::Char]);
syntax!(CSHARP, line: SLASH, block: C_BLOCK,
    strings: &[Str::Verbatim, tq(b'"', NOESC), q(b'"', BS, false), Str::Char]);
syntax!(GO, line: SLASH, block: C_BLOCK,
    strings: &[q(b'"', BS, false), q(b'`', NOESC, true), Str::Char]);
syntax!(JAVA, line: SLASH, block: C_BLOCK,
    strings: &[tq(b'"', BS), q(b'"', BS, false), Str::Char]);
syntax!(KOTLIN, line: SLASH, block: C_BLOCK_NESTED,
    strings: &[tq(b'"', NOESC), q(b'"', BS, false), Str::Char]);
syntax!(SWIFT, line: SLASH, block: C_BLOCK_NESTED,
    strings: &[Str::SwiftRaw, tq(b'"', BS), q(b'"', BS, false)]);
syntax!(JS, line: SLASH, block: C_BLOCK,
    strings: &[q(b'"', BS, false), q(b'\'', BS, false), q(b'`', BS, true), Str::JsRegex]);
syntax!(PHP, line: &[lc(b"//"), lcr(b"#", LineRule::NotFollowedBy(b'['))], block: C_BLOCK,
    strings: &[Str::Heredoc(HereStyle::Php), q(b'"', BS, true), q(b'\'', BS, true), q(b'`', BS, true)]);
syntax!(PYTHON, line: HASH, block: &[],
    strings: &[tq(b'"', BS), tq(b'\'', BS), q(b'"', BS, false), q(b'\'', BS, false)]);
syntax!(RUBY, line: HASH,
    block: &[BlockComment { open: b"=begin", close: b"=end", nested: false, kind: BlockKind::LineStart }],
    strings: &[Str::Heredoc(HereStyle::Ruby), q(b'"', BS, true), q(b'\'', BS, true), q(b'`', BS, true), Str::CharPrefix(b"?")]);
syntax!(PERL, line: &[lcr(b"#", LineRule::NotPrecededBy(b'$'))],
    block: &[BlockComment { open: b"=", close: b"=cut", nested: false, kind: BlockKind::Pod }],
    strings: &[Str::Heredoc(HereStyle::Perl), q(b'"', BS, true), q(b'\'', BS, true)]);
syntax!(SHELL, line: &[lcr(b"#", LineRule::AfterSpace)], block: &[],
    strings: &[Str::Heredoc(HereStyle::Shell), q(b'\'', NOESC, true), q(b'"', BS, true)],
    escape: true, markup: Markup::None);
syntax!(POWERSHELL, line: HASH, block: &[bc(b"<#", b"#>", false)],
    strings: &[q(b'"', Esc::Backtick, true), q(b'\'', DBL, true)]);
syntax!(LUA, line: &[lc(b"--")],
    block: &[BlockComment { open: b"--", close: b"", nested: false, kind: BlockKind::LongBracket }],
    strings: &[q(b'"', BS, false), q(b'\'', BS, false), Str::LongBracket]);
syntax!(SQL, line: &[lc(b"--")], block: C_BLOCK,
    strings: &[q(b'\'', DBL, true), q(b'"', DBL, true)]);
syntax!(HASKELL, line: &[lcr(b"--", LineRule::Haskell)], block: &[bc(b"{-", b"-}", true)],
    strings: &[q(b'"', BS, false), Str::Char]);
syntax!(ELIXIR, line: HASH, block: &[],
    strings: &[tq(b'"', BS), tq(b'\'', BS), q(b'"', BS, true), q(b'\'', BS, true), Str::CharPrefix(b"?")]);
syntax!(ERLANG, line: &[lc(b"%")], block: &[],
    strings: &[q(b'"', BS, true), q(b'\'', BS, true), Str::CharPrefix(b"$")]);
syntax!(CLOJURE, line: &[lc(b";")], block: &[],
    strings: &[q(b'"', BS, true), Str::CharPrefix(b"\\")]);
syntax!(LISP, line: &[lc(b";")], block: &[bc(b"#|", b"|#", true)],
    strings: &[q(b'"', BS, true), Str::CharPrefix(b"#\\")]);
syntax!(R, line: HASH, block: &[],
    strings: &[q(b'"', BS, true), q(b'\'', BS, true), q(b'`', NOESC, false)]);
syntax!(JULIA, line: HASH, block: &[bc(b"#=", b"=#", true)],
    strings: &[tq(b'"', BS), q(b'"', BS, true), Str::Char]);
syntax!(DART, line: SLASH, block: C_BLOCK_NESTED,
    strings: &[Str::DartRaw, tq(b'\'', BS), tq(b'"', BS), q(b'\'', BS, false), q(b'"', BS, false)]);
syntax!(ZIG, line: SLASH, block: &[],
    strings: &[Str::ZigLine, q(b'"', BS, false), Str::Char]);
syntax!(NIM, line: HASH, block: &[bc(b"#[", b"]#", true)],
    strings: &[tq(b'"', NOESC), q(b'"', BS, false), Str::Char]);
syntax!(OCAML, line: &[], block: ML_BLOCK,
    strings: &[Str::OcamlQuoted, q(b'"', BS, true), Str::Char]);
syntax!(FSHARP, line: SLASH,
    block: &[BlockComment { open: b"(*", close: b"*)", nested: true, kind: BlockKind::NotFollowedBy(b')') }],
    strings: &[Str::Verbatim, tq(b'"', NOESC), q(b'"', BS, true), Str::Char]);
syntax!(YAML, line: &[lcr(b"#", LineRule::AfterSpace)], block: &[],
    strings: &[Str::WordQuote { q: b'\'', esc: DBL }, Str::WordQuote { q: b'"', esc: BS }]);
syntax!(TOML, line: HASH, block: &[],
    strings: &[tq(b'"', BS), tq(b'\'', NOESC), q(b'"', BS, false), q(b'\'', NOESC, false)]);
syntax!(DOCKERFILE, line: &[lcr(b"#", LineRule::LineStart)], block: &[], strings: &[]);
syntax!(MAKEFILE, line: HASH, block: &[], strings: &[], escape: true, markup: Markup::None);
syntax!(CMAKE, line: HASH,
    block: &[BlockComment { open: b"#", close: b"", nested: false, kind: BlockKind::LongBracket }],
    strings: &[q(b'"', BS, true), Str::LongBracket]);
syntax!(HCL, line: &[lc(b"#"), lc(b"//")], block: C_BLOCK,
    strings: &[Str::Heredoc(HereStyle::Hcl), q(b'"', BS, false)]);
syntax!(HTML, line: &[], block: &[], strings: &[], escape: false, markup: Markup::Html);
syntax!(XML, line: &[], block: &[], strings: &[], escape: false, markup: Markup::Xml);
syntax!(CSS, line: &[], block: C_BLOCK,
    strings: &[q(b'"', BS, false), q(b'\'', BS, false)]);
syntax!(SCSS, line: SLASH, block: C_BLOCK,
    strings: &[q(b'"', BS, false), q(b'\'', BS, false)]);
syntax!(TEX, line: &[lc(b"%")], block: &[], strings: &[], escape: true, markup: Markup::None);
syntax!(PROTOBUF, line: SLASH, block: C_BLOCK,
    strings: &[q(b'"', BS, false), q(b'\'', BS, false)]);
syntax!(GRAPHQL, line: HASH, block: &[],
    strings: &[tq(b'"', BS), q(b'"', BS, false)]);

macro_rules! lang {
    ($name:ident, $display:expr, $syntax:expr) => {
        static $name: Language = Language {
            name: $display,
            syntax: $syntax,
        };
    };
}

lang!(L_RUST, "Rust", Some(&RUST));
lang!(L_C, "C", Some(&C));
lang!(L_CPP, "C++", Some(&CPP));
lang!(L_CSHARP, "C#", Some(&CSHARP));
lang!(L_GO, "Go", Some(&GO));
lang!(L_JAVA, "Java", Some(&JAVA));
lang!(L_GROOVY, "Groovy", Some(&JAVA));
lang!(L_KOTLIN, "Kotlin", Some(&KOTLIN));
lang!(L_SCALA, "Scala", Some(&KOTLIN));
lang!(L_SWIFT, "Swift", Some(&SWIFT));
lang!(L_OBJC, "Objective-C", Some(&C));
lang!(L_OBJCPP, "Objective-C++", Some(&CPP));
lang!(L_JS, "JavaScript", Some(&JS));
lang!(L_TS, "TypeScript", Some(&JS));
lang!(L_PHP, "PHP", Some(&PHP));
lang!(L_PYTHON, "Python", Some(&PYTHON));
lang!(L_RUBY, "Ruby", Some(&RUBY));
lang!(L_PERL, "Perl", Some(&PERL));
lang!(L_SHELL, "Shell", Some(&SHELL));
lang!(L_POWERSHELL, "PowerShell", Some(&POWERSHELL));
lang!(L_LUA, "Lua", Some(&LUA));
lang!(L_SQL, "SQL", Some(&SQL));
lang!(L_HASKELL, "Haskell", Some(&HASKELL));
lang!(L_ELIXIR, "Elixir", Some(&ELIXIR));
lang!(L_ERLANG, "Erlang", Some(&ERLANG));
lang!(L_CLOJURE, "Clojure", Some(&CLOJURE));
lang!(L_LISP, "Lisp", Some(&LISP));
lang!(L_R, "R", Some(&R));
lang!(L_JULIA, "Julia", Some(&JULIA));
lang!(L_DART, "Dart", Some(&DART));
lang!(L_ZIG, "Zig", Some(&ZIG));
lang!(L_NIM, "Nim", Some(&NIM));
lang!(L_OCAML, "OCaml", Some(&OCAML));
lang!(L_FSHARP, "F#", Some(&FSHARP));
lang!(L_YAML, "YAML", Some(&YAML));
lang!(L_TOML, "TOML", Some(&TOML));
lang!(L_DOCKERFILE, "Dockerfile", Some(&DOCKERFILE));
lang!(L_MAKEFILE, "Makefile", Some(&MAKEFILE));
lang!(L_CMAKE, "CMake", Some(&CMAKE));
lang!(L_HCL, "HCL", Some(&HCL));
lang!(L_HTML, "HTML", Some(&HTML));
lang!(L_XML, "XML", Some(&XML));
lang!(L_CSS, "CSS", Some(&CSS));
lang!(L_SCSS, "SCSS", Some(&SCSS));
lang!(L_TEX, "TeX", Some(&TEX));
lang!(L_PROTOBUF, "Protocol Buffers", Some(&PROTOBUF));
lang!(L_GRAPHQL, "GraphQL", Some(&GRAPHQL));
lang!(L_MARKDOWN, "Markdown", None);

/// The JavaScript syntax, used for `<script>` elements.
pub(crate) static SCRIPT_SYNTAX: &Syntax = &JS;
/// The CSS syntax, used for `<style>` elements.
pub(crate) static STYLE_SYNTAX: &Syntax = &CSS;
/// The SCSS syntax, used for `<style lang="scss">` elements.
pub(crate) static SCSS_SYNTAX: &Syntax = &SCSS;
/// The HTML syntax, used for HTML inside Markdown.
pub(crate) static HTML_SYNTAX: &Syntax = &HTML;

fn by_file_name(name: &str) -> Option<&'static Language> {
    Some(match name {
        "Dockerfile" | "dockerfile" | "Containerfile" | "containerfile" => &L_DOCKERFILE,
        "Makefile" | "makefile" | "GNUmakefile" => &L_MAKEFILE,
        "CMakeLists.txt" => &L_CMAKE,
        "Rakefile" | "Gemfile" | "Vagrantfile" | "Podfile" | "Guardfile" | "Brewfile"
        | "Fastfile" | "Capfile" => &L_RUBY,
        ".bashrc" | ".bash_profile" | ".profile" | ".zshrc" | ".zprofile" | ".envrc"
        | "PKGBUILD" => &L_SHELL,
        "Jenkinsfile" => &L_GROOVY,
        _ => return None,
    })
}

fn by_extension(ext: &str) -> Option<&'static Language> {
    Some(match ext {
        "rs" => &L_RUST,
        "c" | "h" => &L_C,
        "cc" | "cpp" | "cxx" | "c++" | "hh" | "hpp" | "hxx" | "h++" | "ipp" | "tpp" | "inl"
        | "cu" | "cuh" | "ino" => &L_CPP,
        "cs" | "csx" => &L_CSHARP,
        "go" => &L_GO,
        "java" => &L_JAVA,
        "groovy" | "gradle" => &L_GROOVY,
        "kt" | "kts" => &L_KOTLIN,
        "scala" | "sc" | "sbt" => &L_SCALA,
        "swift" => &L_SWIFT,
        "m" => &L_OBJC,
        "mm" => &L_OBJCPP,
        "js" | "mjs" | "cjs" | "jsx" => &L_JS,
        "ts" | "mts" | "cts" | "tsx" => &L_TS,
        "php" | "phtml" => &L_PHP,
        "py" | "pyi" | "pyw" => &L_PYTHON,
        "rb" | "rake" | "gemspec" | "ru" => &L_RUBY,
        "pl" | "pm" | "t" | "psgi" => &L_PERL,
        "sh" | "bash" | "zsh" | "ksh" | "bats" => &L_SHELL,
        "ps1" | "psm1" | "psd1" => &L_POWERSHELL,
        "lua" => &L_LUA,
        "sql" => &L_SQL,
        "hs" | "hs-boot" => &L_HASKELL,
        "ex" | "exs" => &L_ELIXIR,
        "erl" | "hrl" | "escript" => &L_ERLANG,
        "clj" | "cljs" | "cljc" | "edn" => &L_CLOJURE,
        "lisp" | "lsp" | "cl" | "el" | "scm" | "ss" | "rkt" | "sld" => &L_LISP,
        "r" => &L_R,
        "jl" => &L_JULIA,
        "dart" => &L_DART,
        "zig" | "zon" => &L_ZIG,
        "nim" | "nims" | "nimble" => &L_NIM,
        "ml" | "mli" | "mll" | "mly" => &L_OCAML,
        "fs" | "fsi" | "fsx" => &L_FSHARP,
        "yml" | "yaml" => &L_YAML,
        "toml" => &L_TOML,
        "dockerfile" | "containerfile" => &L_DOCKERFILE,
        "mk" | "mak" | "make" => &L_MAKEFILE,
        "cmake" => &L_CMAKE,
        "tf" | "tfvars" | "hcl" | "nomad" => &L_HCL,
        "html" | "htm" | "xhtml" | "vue" | "svelte" => &L_HTML,
        "xml" | "xsd" | "xsl" | "xslt" | "svg" | "plist" | "csproj" | "fsproj" | "vbproj"
        | "props" | "targets" | "resx" | "xaml" | "wsdl" => &L_XML,
        "css" => &L_CSS,
        "scss" | "sass" | "less" => &L_SCSS,
        "tex" | "sty" | "cls" | "ltx" | "dtx" => &L_TEX,
        "proto" => &L_PROTOBUF,
        "graphql" | "graphqls" | "gql" => &L_GRAPHQL,
        "md" | "markdown" | "mdown" | "mkd" => &L_MARKDOWN,
        _ => return None,
    })
}

/// The file name part of a `/`-separated path.
pub(crate) fn file_name(path: &str) -> &str {
    // A byte loop: names are short, shorter than a `memrchr` call.
    match path.bytes().rposition(|b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Chooses the language of a path by exact file name, then by extension
/// (ASCII case-insensitive). Returns `None` for unknown files.
pub(crate) fn detect(path: &str) -> Option<&'static Language> {
    let name = file_name(path);
    if let Some(lang) = by_file_name(name) {
        return Some(lang);
    }
    if name.starts_with("Dockerfile.") || name.starts_with("Containerfile.") {
        return Some(&L_DOCKERFILE);
    }
    let dot = name.bytes().rposition(|b| b == b'.')?;
    if dot == 0 {
        return None;
    }
    let ext = &name[dot + 1..];
    if ext.is_empty() || ext.len() > 16 {
        return None;
    }
    let mut buf = [0u8; 16];
    let lower = &mut buf[..ext.len()];
    lower.copy_from_slice(ext.as_bytes());
    lower.make_ascii_lowercase();
    let lower = std::str::from_utf8(lower).ok()?;
    by_extension(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_name_and_extension() {
        assert_eq!(detect("src/main.rs").map(|l| l.name), Some("Rust"));
        assert_eq!(detect("a/Dockerfile").map(|l| l.name), Some("Dockerfile"));
        assert_eq!(detect("Dockerfile.dev").map(|l| l.name), Some("Dockerfile"));
        assert_eq!(detect("x/CMakeLists.txt").map(|l| l.name), Some("CMake"));
        assert_eq!(detect("analysis.R").map(|l| l.name), Some("R"));
        assert_eq!(detect("README.md").map(|l| l.name), Some("Markdown"));
        assert!(detect("notes.txt").is_none());
        assert!(detect(".gitignore").is_none());
        assert!(detect("Makefile.bak").is_none());
        assert!(detect("weird.\u{e9}\u{e9}").is_none());
    }
}
