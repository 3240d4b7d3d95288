//! A table-driven byte lexer that finds the comments of a source file.
//!
//! The lexer works on raw bytes (no UTF-8 assumption) and knows just enough
//! about each language's string, character and raw-string syntax to never
//! mistake the inside of a literal for a comment. It is pull-based: each
//! call to [`Lexer::next_comment`] advances only as far as the next comment,
//! so the scanner can stop as soon as it has seen every candidate tag.
//! In code it jumps between "interesting" bytes with `memchr`, so plain code
//! is skipped at memory speed. The handlers of rare constructs (heredocs,
//! raw strings, markup, POD, ...) are kept out of line so that the loop
//! over the common ones (quotes, comment markers) stays small.

use crate::byteset::ByteSet;
use crate::lang::{
    BlockComment, BlockKind, Esc, HereStyle, LineComment, LineRule, Markup, SCRIPT_SYNTAX,
    SCSS_SYNTAX, STYLE_SYNTAX, Str, Syntax,
};
use memchr::{memchr, memchr2, memmem};

/// One comment found in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Comment {
    /// Offset of the opening marker.
    pub start: usize,
    /// Offset just past the comment (the `\n` of a line comment, past the
    /// closing marker of a block comment).
    pub end: usize,
    /// Offset of the text after the opening marker.
    pub body_start: usize,
    /// Offset just past the text before the closing marker.
    pub body_end: usize,
    /// `true` for block comments.
    pub block: bool,
    /// Bytes stripped as decoration at the start of each line of the body.
    pub strip: &'static [u8],
}

/// Whether a byte can be part of an identifier (non-ASCII bytes count as
/// identifier bytes, so a tag glued to a non-ASCII letter is not a word).
#[inline]
pub(crate) fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

const K_BLOCK: u8 = 1;
const K_LINE: u8 = 2;
const K_STR: u8 = 4;
const K_ESC: u8 = 8;
const K_MARKUP: u8 = 16;

/// For each byte, which kinds of construct can start with it.
fn kinds(syn: &Syntax) -> [u8; 256] {
    let mut k = [0u8; 256];
    for lcm in syn.line {
        if let Some(&b) = lcm.marker.first() {
            k[b as usize] |= K_LINE;
        }
    }
    for bcm in syn.block {
        if let Some(&b) = bcm.open.first() {
            k[b as usize] |= K_BLOCK;
        }
    }
    for s in syn.strings {
        let bytes: &[u8] = match s {
            Str::Quote { q, .. } | Str::WordQuote { q, .. } | Str::Triple { q, .. } => {
                std::slice::from_ref(q)
            }
            Str::Char => b"'",
            Str::CharPrefix(p) => &p[..1.min(p.len())],
            Str::RustRaw | Str::CppRaw | Str::SwiftRaw | Str::Verbatim => b"\"",
            Str::DartRaw => b"'\"",
            Str::LongBracket => b"[",
            Str::Heredoc(_) => b"<",
            Str::ZigLine => b"\\",
            Str::OcamlQuoted => b"{",
            Str::JsRegex => b"/",
        };
        for &b in bytes {
            k[b as usize] |= K_STR;
        }
    }
    if syn.code_escape {
        k[b'\\' as usize] |= K_ESC;
    }
    if syn.markup != Markup::None {
        k[b'<' as usize] |= K_MARKUP;
    }
    k
}

/// The byte set that ends a quoted string body.
fn quote_set(q: u8, esc: Esc, multiline: bool) -> ByteSet {
    let mut bytes = vec![q];
    match esc {
        Esc::Backslash => bytes.push(b'\\'),
        Esc::Backtick => bytes.push(b'`'),
        Esc::None | Esc::Doubled => {}
    }
    if !multiline {
        bytes.push(b'\n');
    }
    ByteSet::new(&bytes)
}

/// The per-syntax lookup tables of the lexer, built once per syntax (see
/// [`Syntax::tables`]) rather than for every file.
#[derive(Debug)]
pub(crate) struct LexTables {
    kinds: [u8; 256],
    finder: ByteSet,
    /// End-of-string sets, parallel to `syn.strings`.
    quote_sets: Box<[Option<ByteSet>]>,
    /// Searchers for the closing markers of block comments, parallel to
    /// `syn.block`: a license header has a `*` on every line, which a
    /// search for the marker's first byte would stop at.
    block_closers: Box<[memmem::Finder<'static>]>,
}

impl LexTables {
    fn new(syn: &Syntax) -> LexTables {
        let kinds = kinds(syn);
        let interesting: Vec<u8> = (0u8..=255).filter(|&b| kinds[b as usize] != 0).collect();
        let quote_sets = syn
            .strings
            .iter()
            .map(|s| match *s {
                Str::Quote { q, esc, multiline } => Some(quote_set(q, esc, multiline)),
                Str::WordQuote { q, esc } => Some(quote_set(q, esc, true)),
                _ => None,
            })
            .collect();
        let block_closers = syn
            .block
            .iter()
            .map(|b| memmem::Finder::new(b.close).into_owned())
            .collect();
        LexTables {
            kinds,
            finder: ByteSet::new(&interesting),
            quote_sets,
            block_closers,
        }
    }
}

/// A pull-based comment lexer over `src[start..end]`.
pub(crate) struct Lexer<'a> {
    syn: &'static Syntax,
    src: &'a [u8],
    pos: usize,
    end: usize,
    tables: &'static LexTables,
    inner: Option<Box<Lexer<'a>>>,
}

impl<'a> Lexer<'a> {
    /// A lexer for `src[start..end]` with the given syntax.
    pub(crate) fn new(syn: &'static Syntax, src: &'a [u8], start: usize, end: usize) -> Self {
        let end = end.min(src.len());
        Lexer {
            syn,
            src,
            pos: start.min(end),
            end,
            tables: syn.tables.get_or_init(|| LexTables::new(syn)),
            inner: None,
        }
    }

    /// The next comment that starts before `limit`, or `None` (leaving the
    /// lexer at a code position before `limit`-or-later so lexing can resume).
    pub(crate) fn next_comment(&mut self, limit: usize) -> Option<Comment> {
        self.next_comment_ending_after(limit, 0)
    }

    /// Like [`Lexer::next_comment`], passing over the comments that end at
    /// or before `after`: the caller looks for the comment that holds a
    /// candidate at `after`, and most comments hold none.
    pub(crate) fn next_comment_ending_after(
        &mut self,
        limit: usize,
        after: usize,
    ) -> Option<Comment> {
        loop {
            if let Some(inner) = self.inner.as_mut() {
                if let Some(c) = inner.next_comment_ending_after(limit, after) {
                    return Some(c);
                }
                if inner.pos < inner.end {
                    // Stopped at the limit inside the embedded block.
                    return None;
                }
                self.inner = None;
            }
            if self.pos >= self.end {
                return None;
            }
            let i = match self.tables.finder.find(&self.src[self.pos..self.end]) {
                Some(k) => self.pos + k,
                None => {
                    self.pos = self.end;
                    return None;
                }
            };
            if i >= limit {
                self.pos = i;
                return None;
            }
            let b = self.src[i];
            let kind = self.tables.kinds[b as usize];
            if kind & K_MARKUP != 0 {
                match self.markup(i) {
                    MarkupStep::Comment(c) => {
                        self.pos = c.end;
                        if c.end <= after {
                            continue;
                        }
                        return Some(c);
                    }
                    MarkupStep::Skip(p) => {
                        self.pos = p;
                        continue;
                    }
                    MarkupStep::None => {}
                }
            }
            if kind & K_BLOCK != 0
                && let Some(c) = self.block_comment(i, b)
            {
                self.pos = c.end;
                if c.end <= after {
                    continue;
                }
                return Some(c);
            }
            if kind & K_LINE != 0
                && let Some(c) = self.line_comment(i, b)
            {
                self.pos = c.end;
                if c.end <= after {
                    continue;
                }
                return Some(c);
            }
            if kind & K_ESC != 0 {
                self.pos = (i + 2).min(self.end);
                continue;
            }
            if kind & K_STR == 0 {
                self.pos = i + 1;
                continue;
            }
            self.pos = match self.string(i, b) {
                Some(p) => p.clamp(i + 1, self.end),
                None => i + 1,
            };
        }
    }

    #[inline]
    fn at(&self, i: usize) -> Option<u8> {
        if i < self.end {
            Some(self.src[i])
        } else {
            None
        }
    }

    #[inline]
    fn starts_with(&self, i: usize, pat: &[u8]) -> bool {
        if i > self.end || self.end - i < pat.len() {
            return false;
        }
        // A byte loop: patterns are a few bytes long, shorter than a call.
        let mut k = 0;
        while k < pat.len() {
            if self.src[i + k] != pat[k] {
                return false;
            }
            k += 1;
        }
        true
    }

    /// Offset of the first occurrence of `pat` at or after `from` (short
    /// patterns: a byte search plus a check, cheaper than building a
    /// substring searcher).
    fn find_seq(&self, mut from: usize, pat: &[u8]) -> Option<usize> {
        let &first = pat.first()?;
        while from < self.end {
            let j = from + memchr(first, &self.src[from..self.end])?;
            if self.starts_with(j, pat) {
                return Some(j);
            }
            from = j + 1;
        }
        None
    }

    fn at_line_start(&self, i: usize) -> bool {
        i == 0 || self.src[i - 1] == b'\n'
    }

    fn only_space_before(&self, i: usize) -> bool {
        let mut j = i;
        while j > 0 {
            match self.src[j - 1] {
                b'\n' => return true,
                b' ' | b'\t' | b'\r' => j -= 1,
                _ => return false,
            }
        }
        true
    }

    /// Offset of the next `\n` at or after `i`, or the end.
    fn line_end(&self, i: usize) -> usize {
        if i >= self.end {
            return self.end;
        }
        memchr(b'\n', &self.src[i..self.end]).map_or(self.end, |k| i + k)
    }

    #[inline]
    fn line_comment(&self, i: usize, b: u8) -> Option<Comment> {
        for lcm in self.syn.line {
            if lcm.marker.first() != Some(&b) || !self.starts_with(i, lcm.marker) {
                continue;
            }
            if !self.line_rule_ok(i, lcm) {
                continue;
            }
            let body_start = i + lcm.marker.len();
            let nl = self.line_end(body_start);
            let mut body_end = nl;
            if body_end > body_start && self.src[body_end - 1] == b'\r' {
                body_end -= 1;
            }
            return Some(Comment {
                start: i,
                end: nl,
                body_start,
                body_end,
                block: false,
                strip: lcm.marker,
            });
        }
        None
    }

    #[inline]
    fn line_rule_ok(&self, i: usize, lcm: &LineComment) -> bool {
        let prev = if i > 0 { Some(self.src[i - 1]) } else { None };
        match lcm.rule {
            LineRule::Anywhere => true,
            LineRule::AfterSpace => {
                matches!(prev, None | Some(b' ' | b'\t' | b'\n' | b'\r' | b';'))
            }
            LineRule::LineStart => self.only_space_before(i),
            LineRule::NotFollowedBy(c) => self.at(i + lcm.marker.len()) != Some(c),
            LineRule::NotPrecededBy(c) => prev != Some(c),
            LineRule::Haskell => {
                const SYM: &[u8] = b"!#$%&*+./<=>?@\\^|~:";
                if prev.is_some_and(|p| SYM.contains(&p)) {
                    return false;
                }
                let mut j = i;
                while self.at(j) == Some(b'-') {
                    j += 1;
                }
                !self.at(j).is_some_and(|c| SYM.contains(&c))
            }
        }
    }

    #[inline]
    fn block_comment(&self, i: usize, b: u8) -> Option<Comment> {
        for (k, bcm) in self.syn.block.iter().enumerate() {
            if bcm.open.first() != Some(&b) || !self.starts_with(i, bcm.open) {
                continue;
            }
            let c = match bcm.kind {
                BlockKind::Plain => Some(self.plain_block(i, k, bcm)),
                BlockKind::NotFollowedBy(c) => {
                    if self.at(i + bcm.open.len()) == Some(c) {
                        None
                    } else {
                        Some(self.plain_block(i, k, bcm))
                    }
                }
                BlockKind::LineStart => self.line_start_block(i, bcm),
                BlockKind::Pod => self.pod_block(i),
                BlockKind::LongBracket => self.long_bracket_comment(i, bcm),
            };
            if c.is_some() {
                return c;
            }
        }
        None
    }

    /// The block comment opened at `i` by `syn.block[k]`.
    fn plain_block(&self, i: usize, k: usize, bcm: &BlockComment) -> Comment {
        let body_start = (i + bcm.open.len()).min(self.end);
        let strip: &'static [u8] = if bcm.close.contains(&b'*') { b"*" } else { b"" };
        let (body_end, end) = if bcm.nested {
            self.nested_close(body_start, bcm.open, bcm.close)
        } else {
            let found = match self.tables.block_closers.get(k) {
                Some(closer) => closer
                    .find(&self.src[body_start..self.end])
                    .map(|j| body_start + j),
                None => self.find_seq(body_start, bcm.close),
            };
            match found {
                Some(j) => (j, j + bcm.close.len()),
                None => (self.end, self.end),
            }
        };
        Comment {
            start: i,
            end,
            body_start,
            body_end,
            block: true,
            strip,
        }
    }

    fn nested_close(&self, from: usize, open: &[u8], close: &[u8]) -> (usize, usize) {
        let (Some(&o), Some(&c)) = (open.first(), close.first()) else {
            return (self.end, self.end);
        };
        let mut depth = 1usize;
        let mut p = from;
        while p < self.end {
            let Some(k) = memchr2(o, c, &self.src[p..self.end]) else {
                break;
            };
            let j = p + k;
            if self.starts_with(j, close) {
                depth -= 1;
                if depth == 0 {
                    return (j, j + close.len());
                }
                p = j + close.len();
            } else if self.starts_with(j, open) {
                depth += 1;
                p = j + open.len();
            } else {
                p = j + 1;
            }
        }
        (self.end, self.end)
    }

    /// Ruby `=begin` ... `=end`, both at the start of a line.
    #[inline(never)]
    fn line_start_block(&self, i: usize, bcm: &BlockComment) -> Option<Comment> {
        if !self.at_line_start(i) {
            return None;
        }
        let after = i + bcm.open.len();
        if self.at(after).is_some_and(|c| !c.is_ascii_whitespace()) {
            return None;
        }
        let body_start = after;
        let mut p = self.line_end(body_start);
        while p < self.end {
            let ls = p + 1;
            if self.starts_with(ls, bcm.close)
                && self
                    .at(ls + bcm.close.len())
                    .is_none_or(|c| c.is_ascii_whitespace())
            {
                return Some(Comment {
                    start: i,
                    end: self.line_end(ls),
                    body_start,
                    body_end: ls,
                    block: true,
                    strip: b"",
                });
            }
            p = self.line_end(ls);
        }
        Some(Comment {
            start: i,
            end: self.end,
            body_start,
            body_end: self.end,
            block: true,
            strip: b"",
        })
    }

    /// Perl POD: `=word` at a line start up to a line starting with `=cut`.
    #[inline(never)]
    fn pod_block(&self, i: usize) -> Option<Comment> {
        if !self.at_line_start(i) || !self.at(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let body_start = self.line_end(i);
        let mut p = body_start;
        while p < self.end {
            let ls = p + 1;
            if self.starts_with(ls, b"=cut") {
                return Some(Comment {
                    start: i,
                    end: self.line_end(ls),
                    body_start,
                    body_end: ls,
                    block: true,
                    strip: b"",
                });
            }
            p = self.line_end(ls);
        }
        Some(Comment {
            start: i,
            end: self.end,
            body_start,
            body_end: self.end,
            block: true,
            strip: b"",
        })
    }

    /// Parses a long bracket `[`, `=`*n, `[` at `i`; returns n.
    fn long_bracket_open(&self, i: usize) -> Option<usize> {
        if self.at(i) != Some(b'[') {
            return None;
        }
        let mut j = i + 1;
        while self.at(j) == Some(b'=') {
            j += 1;
        }
        if self.at(j) == Some(b'[') {
            Some(j - i - 1)
        } else {
            None
        }
    }

    /// Finds `]`, `=`*level, `]` from `from`; returns (start, end) of the close.
    fn long_bracket_close(&self, from: usize, level: usize) -> (usize, usize) {
        let mut p = from;
        while p < self.end {
            let Some(k) = memchr(b']', &self.src[p..self.end]) else {
                break;
            };
            let j = p + k;
            let mut e = j + 1;
            while e < self.end && e - j - 1 < level && self.src[e] == b'=' {
                e += 1;
            }
            if e - j - 1 == level && self.at(e) == Some(b']') {
                return (j, e + 1);
            }
            p = j + 1;
        }
        (self.end, self.end)
    }

    #[inline(never)]
    fn long_bracket_comment(&self, i: usize, bcm: &BlockComment) -> Option<Comment> {
        let open_at = i + bcm.open.len();
        let level = self.long_bracket_open(open_at)?;
        let body_start = open_at + level + 2;
        let (body_end, end) = self.long_bracket_close(body_start, level);
        Some(Comment {
            start: i,
            end,
            body_start,
            body_end,
            block: true,
            strip: b"",
        })
    }

    /// Tries each string syntax starting at `i`; returns the offset after the
    /// literal.
    #[inline]
    fn string(&self, i: usize, b: u8) -> Option<usize> {
        for (k, s) in self.syn.strings.iter().enumerate() {
            let r = match *s {
                Str::Quote { q, esc, .. } if q == b => match self.tables.quote_sets.get(k) {
                    Some(Some(set)) => Some(self.quoted_in(set, i + 1, q, esc)),
                    _ => None,
                },
                Str::WordQuote { q, esc } if q == b => {
                    if i > 0 && is_ident(self.src[i - 1]) {
                        return None;
                    }
                    match self.tables.quote_sets.get(k) {
                        Some(Some(set)) => Some(self.quoted_in(set, i + 1, q, esc)),
                        _ => None,
                    }
                }
                Str::Triple { q, esc } if q == b => {
                    if self.starts_with(i, &[q, q, q]) {
                        Some(self.triple(i + 3, q, esc))
                    } else {
                        None
                    }
                }
                Str::Char if b == b'\'' => return self.char_literal(i),
                Str::CharPrefix(p) if p.first() == Some(&b) => self.char_prefix(i, p),
                Str::RustRaw if b == b'"' => self.rust_raw(i),
                Str::CppRaw if b == b'"' => self.cpp_raw(i),
                Str::SwiftRaw if b == b'"' => self.swift_raw(i),
                Str::Verbatim if b == b'"' => self.verbatim(i),
                Str::DartRaw if b == b'"' || b == b'\'' => self.dart_raw(i, b),
                Str::LongBracket if b == b'[' => self.long_bracket_open(i).map(|level| {
                    let (_, end) = self.long_bracket_close(i + level + 2, level);
                    end
                }),
                Str::Heredoc(style) if b == b'<' => self.heredoc(i, style),
                Str::ZigLine if b == b'\\' => {
                    if self.at(i + 1) == Some(b'\\') {
                        Some(self.line_end(i))
                    } else {
                        None
                    }
                }
                Str::OcamlQuoted if b == b'{' => self.ocaml_quoted(i),
                Str::JsRegex if b == b'/' => self.js_regex(i),
                _ => None,
            };
            if r.is_some() {
                return r;
            }
        }
        None
    }

    /// Scans a quoted string body from `p`; returns the offset after it.
    fn quoted(&self, p: usize, q: u8, esc: Esc, multiline: bool) -> usize {
        self.quoted_in(&quote_set(q, esc, multiline), p, q, esc)
    }

    /// Like [`Lexer::quoted`] with a precomputed end-of-string set.
    #[inline]
    fn quoted_in(&self, set: &ByteSet, mut p: usize, q: u8, esc: Esc) -> usize {
        while p < self.end {
            let Some(k) = set.find(&self.src[p..self.end]) else {
                return self.end;
            };
            let j = p + k;
            let c = self.src[j];
            if c == q {
                if esc == Esc::Doubled && self.at(j + 1) == Some(q) {
                    p = j + 2;
                    continue;
                }
                return j + 1;
            }
            if c == b'\n' {
                return j + 1;
            }
            p = j + 2;
        }
        self.end
    }

    #[inline(never)]
    fn triple(&self, mut p: usize, q: u8, esc: Esc) -> usize {
        let esc_byte = match esc {
            Esc::Backslash => Some(b'\\'),
            Esc::Backtick => Some(b'`'),
            Esc::None | Esc::Doubled => None,
        };
        while p < self.end {
            let hay = &self.src[p..self.end];
            let found = match esc_byte {
                Some(e) => memchr2(q, e, hay),
                None => memchr(q, hay),
            };
            let Some(k) = found else {
                return self.end;
            };
            let j = p + k;
            if self.src[j] == q {
                if self.starts_with(j, &[q, q, q]) {
                    return j + 3;
                }
                p = j + 1;
            } else {
                p = j + 2;
            }
        }
        self.end
    }

    /// The identifier that ends just before `i`.
    fn word_before(&self, i: usize) -> &[u8] {
        let mut j = i;
        while j > 0 && is_ident(self.src[j - 1]) {
            j -= 1;
        }
        &self.src[j..i]
    }

    fn char_literal(&self, i: usize) -> Option<usize> {
        if i > 0 && is_ident(self.src[i - 1]) {
            let w = self.word_before(i);
            if !matches!(w, b"L" | b"u" | b"U" | b"u8" | b"b") {
                return None;
            }
        }
        match self.at(i + 1)? {
            b'\\' => {
                let from = i + 3;
                let to = (from + 12).min(self.end);
                if from >= to {
                    return None;
                }
                let k = memchr2(b'\'', b'\n', &self.src[from..to])?;
                if self.src[from + k] == b'\'' {
                    Some(from + k + 1)
                } else {
                    None
                }
            }
            b'\'' | b'\n' => None,
            c => {
                let len = utf8_len(c);
                if self.at(i + 1 + len) == Some(b'\'') {
                    Some(i + 2 + len)
                } else {
                    None
                }
            }
        }
    }

    #[inline(never)]
    fn char_prefix(&self, i: usize, prefix: &[u8]) -> Option<usize> {
        if !self.starts_with(i, prefix) {
            return None;
        }
        if prefix == b"?" && i > 0 && is_ident(self.src[i - 1]) {
            return None;
        }
        let p = i + prefix.len();
        let c = self.at(p)?;
        if c == b'\\' && prefix != b"\\" && prefix != b"#\\" {
            return Some(p + 2);
        }
        Some(p + utf8_len(c))
    }

    fn rust_raw(&self, i: usize) -> Option<usize> {
        let mut j = i;
        while j > 0 && self.src[j - 1] == b'#' {
            j -= 1;
        }
        let hashes = i - j;
        if j == 0 || self.src[j - 1] != b'r' {
            return None;
        }
        let r = j - 1;
        let ok = r == 0
            || !is_ident(self.src[r - 1])
            || (matches!(self.src[r - 1], b'b' | b'c') && (r == 1 || !is_ident(self.src[r - 2])));
        if !ok {
            return None;
        }
        Some(self.find_quote_hashes(i + 1, b"\"", hashes))
    }

    /// Finds `close` followed by `hashes` `#` bytes from `p`; returns the
    /// offset after them (or the end).
    fn find_quote_hashes(&self, mut p: usize, close: &[u8], hashes: usize) -> usize {
        while p < self.end {
            let Some(at) = self.find_seq(p, close) else {
                return self.end;
            };
            let k = at - p;
            let j = at + close.len();
            let mut e = j;
            while e < self.end && e - j < hashes && self.src[e] == b'#' {
                e += 1;
            }
            if e - j == hashes {
                return e;
            }
            p = p + k + 1;
        }
        self.end
    }

    #[inline(never)]
    fn cpp_raw(&self, i: usize) -> Option<usize> {
        if i == 0 || self.src[i - 1] != b'R' {
            return None;
        }
        let w = self.word_before(i);
        if !matches!(w, b"R" | b"u8R" | b"uR" | b"UR" | b"LR") {
            return None;
        }
        let d_start = i + 1;
        let mut d_end = d_start;
        while d_end < self.end && d_end - d_start <= 16 {
            match self.src[d_end] {
                b'(' => break,
                b' ' | b')' | b'\\' | b'\t' | b'\n' | b'"' => return None,
                _ => d_end += 1,
            }
        }
        if self.at(d_end) != Some(b'(') {
            return None;
        }
        let delim = &self.src[d_start..d_end];
        let mut p = d_end + 1;
        while p < self.end {
            let Some(k) = memchr(b')', &self.src[p..self.end]) else {
                return Some(self.end);
            };
            let j = p + k + 1;
            if self.starts_with(j, delim) && self.at(j + delim.len()) == Some(b'"') {
                return Some(j + delim.len() + 1);
            }
            p = p + k + 1;
        }
        Some(self.end)
    }

    #[inline(never)]
    fn swift_raw(&self, i: usize) -> Option<usize> {
        let mut j = i;
        while j > 0 && self.src[j - 1] == b'#' {
            j -= 1;
        }
        let hashes = i - j;
        if hashes == 0 {
            return None;
        }
        if self.starts_with(i, b"\"\"\"") {
            Some(self.find_quote_hashes(i + 3, b"\"\"\"", hashes))
        } else {
            Some(self.find_quote_hashes(i + 1, b"\"", hashes))
        }
    }

    #[inline(never)]
    fn verbatim(&self, i: usize) -> Option<usize> {
        let prev = if i > 0 { self.src[i - 1] } else { 0 };
        let prev2 = if i > 1 { self.src[i - 2] } else { 0 };
        if prev == b'@' || (prev == b'$' && prev2 == b'@') {
            Some(self.quoted(i + 1, b'"', Esc::Doubled, true))
        } else {
            None
        }
    }

    #[inline(never)]
    fn dart_raw(&self, i: usize, q: u8) -> Option<usize> {
        if i == 0 || self.src[i - 1] != b'r' || (i > 1 && is_ident(self.src[i - 2])) {
            return None;
        }
        if self.starts_with(i, &[q, q, q]) {
            Some(self.triple(i + 3, q, Esc::None))
        } else {
            Some(self.quoted(i + 1, q, Esc::None, false))
        }
    }

    #[inline(never)]
    fn ocaml_quoted(&self, i: usize) -> Option<usize> {
        let mut j = i + 1;
        while self
            .at(j)
            .is_some_and(|c| c.is_ascii_lowercase() || c == b'_')
        {
            j += 1;
        }
        if self.at(j) != Some(b'|') {
            return None;
        }
        let id = &self.src[i + 1..j];
        let mut p = j + 1;
        while p < self.end {
            let Some(k) = memchr(b'|', &self.src[p..self.end]) else {
                return Some(self.end);
            };
            let e = p + k + 1;
            if self.starts_with(e, id) && self.at(e + id.len()) == Some(b'}') {
                return Some(e + id.len() + 1);
            }
            p = e;
        }
        Some(self.end)
    }

    #[inline(never)]
    fn js_regex(&self, i: usize) -> Option<usize> {
        if matches!(self.at(i + 1), Some(b'/' | b'*') | None) {
            return None;
        }
        // Find the previous significant byte.
        let mut j = i;
        let floor = i.saturating_sub(256);
        while j > floor && self.src[j - 1].is_ascii_whitespace() {
            j -= 1;
        }
        let regex_ok = if j == 0 {
            true
        } else {
            let p = self.src[j - 1];
            if is_ident(p) {
                matches!(
                    self.word_before(j),
                    b"return"
                        | b"typeof"
                        | b"case"
                        | b"do"
                        | b"else"
                        | b"in"
                        | b"of"
                        | b"yield"
                        | b"await"
                        | b"void"
                        | b"delete"
                        | b"throw"
                        | b"new"
                        | b"instanceof"
                )
            } else {
                b"(,=:[!&|?{};+-*%~^".contains(&p)
            }
        };
        if !regex_ok {
            return None;
        }
        let mut p = i + 1;
        let mut class = false;
        while p < self.end {
            match self.src[p] {
                b'\\' => p += 2,
                b'\n' => return None,
                b'[' => {
                    class = true;
                    p += 1;
                }
                b']' => {
                    class = false;
                    p += 1;
                }
                b'/' if !class => {
                    p += 1;
                    while self.at(p).is_some_and(|c| c.is_ascii_alphabetic()) {
                        p += 1;
                    }
                    return Some(p);
                }
                _ => p += 1,
            }
        }
        None
    }

    #[inline(never)]
    fn heredoc(&self, i: usize, style: HereStyle) -> Option<usize> {
        if self.at(i + 1) != Some(b'<') {
            return None;
        }
        let mut p = i + 2;
        let mut indent = false;
        match style {
            HereStyle::Php => {
                if self.at(p) != Some(b'<') {
                    return None;
                }
                p += 1;
                while matches!(self.at(p), Some(b' ' | b'\t')) {
                    p += 1;
                }
                indent = true;
            }
            _ => {
                if self.at(p) == Some(b'<') || (i > 0 && self.src[i - 1] == b'<') {
                    return None;
                }
                match self.at(p) {
                    Some(b'-') if style != HereStyle::Perl => {
                        indent = true;
                        p += 1;
                    }
                    Some(b'~') if matches!(style, HereStyle::Ruby | HereStyle::Perl) => {
                        indent = true;
                        p += 1;
                    }
                    _ => {}
                }
                if style == HereStyle::Shell {
                    while matches!(self.at(p), Some(b' ' | b'\t')) {
                        p += 1;
                    }
                    if self.at(p) == Some(b'\\') {
                        p += 1;
                    }
                }
            }
        }
        let (word, after) = match self.at(p)? {
            qc @ (b'"' | b'\'') => {
                let ws = p + 1;
                let k = memchr2(qc, b'\n', &self.src[ws..self.end])?;
                if self.src[ws + k] != qc || k == 0 {
                    return None;
                }
                (&self.src[ws..ws + k], ws + k + 1)
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut e = p;
                while self
                    .at(e)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    e += 1;
                }
                let w = &self.src[p..e];
                let plain_ruby_like = matches!(style, HereStyle::Ruby | HereStyle::Perl) && !indent;
                if plain_ruby_like
                    && !w
                        .iter()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
                {
                    return None;
                }
                (w, e)
            }
            _ => return None,
        };
        // The body starts on the next line; find the terminator line.
        let mut ls = self.line_end(after) + 1;
        while ls < self.end {
            let le = self.line_end(ls);
            let mut line = &self.src[ls..le];
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            let t = if indent || style == HereStyle::Php {
                trim_start(line)
            } else {
                line
            };
            let hit = if style == HereStyle::Php {
                t.starts_with(word) && t.get(word.len()).is_none_or(|c| !is_ident(*c))
            } else {
                trim_end(t) == word
            };
            if hit {
                return Some(le);
            }
            ls = le + 1;
        }
        None
    }

    #[inline(never)]
    fn markup(&mut self, i: usize) -> MarkupStep {
        if self.starts_with(i, b"<!--") {
            let body_start = i + 4;
            let (body_end, end) = match self.find_seq(body_start, b"-->") {
                Some(j) => (j, j + 3),
                None => (self.end, self.end),
            };
            return MarkupStep::Comment(Comment {
                start: i,
                end,
                body_start,
                body_end,
                block: true,
                strip: b"",
            });
        }
        if self.starts_with(i, b"<![CDATA[") {
            let from = i + 9;
            return MarkupStep::Skip(
                memmem::find(&self.src[from..self.end], b"]]>").map_or(self.end, |k| from + k + 3),
            );
        }
        if self.syn.markup != Markup::Html {
            return MarkupStep::None;
        }
        let (tag, sub) = if self.starts_with_ci(i + 1, b"script") {
            (&b"script"[..], SCRIPT_SYNTAX)
        } else if self.starts_with_ci(i + 1, b"style") {
            (&b"style"[..], STYLE_SYNTAX)
        } else {
            return MarkupStep::None;
        };
        let after = i + 1 + tag.len();
        if !matches!(self.at(after), Some(b' ' | b'\t' | b'\n' | b'\r' | b'>')) {
            return MarkupStep::None;
        }
        let Some(k) = memchr(b'>', &self.src[after..self.end]) else {
            return MarkupStep::Skip(self.end);
        };
        let open_tag = &self.src[after..after + k];
        let sub = if tag == b"style"
            && (memmem::find(open_tag, b"scss").is_some()
                || memmem::find(open_tag, b"less").is_some())
        {
            SCSS_SYNTAX
        } else {
            sub
        };
        let inner_start = after + k + 1;
        let mut p = inner_start;
        let mut inner_end = self.end;
        while p < self.end {
            let Some(k) = memchr(b'<', &self.src[p..self.end]) else {
                break;
            };
            let j = p + k;
            if self.at(j + 1) == Some(b'/') && self.starts_with_ci(j + 2, tag) {
                inner_end = j;
                break;
            }
            p = j + 1;
        }
        self.inner = Some(Box::new(Lexer::new(sub, self.src, inner_start, inner_end)));
        MarkupStep::Skip(inner_end)
    }

    fn starts_with_ci(&self, i: usize, pat: &[u8]) -> bool {
        i <= self.end
            && self.src[i..self.end].len() >= pat.len()
            && self.src[i..i + pat.len()].eq_ignore_ascii_case(pat)
    }
}

enum MarkupStep {
    Comment(Comment),
    Skip(usize),
    None,
}

/// Length of the UTF-8 sequence introduced by `b` (1 for invalid bytes).
#[inline]
fn utf8_len(b: u8) -> usize {
    match b {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

pub(crate) fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

pub(crate) fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang;

    fn comments(path: &str, src: &str) -> Vec<String> {
        let syn = lang::detect(path)
            .and_then(|l| l.syntax)
            .expect("known language");
        let mut lx = Lexer::new(syn, src.as_bytes(), 0, src.len());
        let mut out = Vec::new();
        while let Some(c) = lx.next_comment(usize::MAX) {
            out.push(src[c.body_start..c.body_end].to_string());
        }
        out
    }

    #[test]
    fn rust_strings_chars_lifetimes() {
        let src = "fn f<'a>(x: &'a str) -> char { let s = r#\"// no\"#; let c = '\"'; // yes\n '/' } /* a /* b */ c */";
        assert_eq!(comments("a.rs", src), vec![" yes", " a /* b */ c "]);
    }

    #[test]
    fn python_triple_quotes() {
        let src = "x = \"\"\"\n# not\n\"\"\" # yes\ny = '#no' # and\n";
        assert_eq!(comments("a.py", src), vec![" yes", " and"]);
    }

    #[test]
    fn shell_heredoc_and_hash_rules() {
        let src = "echo $# ${#x} a#b # c1\ncat <<EOF\n# not\nEOF\n# c2\n";
        assert_eq!(comments("a.sh", src), vec![" c1", " c2"]);
    }

    #[test]
    fn lua_long_brackets() {
        let src = "s = [==[ -- no ]==] --[==[ yes ]] still ]==] -- line\n";
        assert_eq!(comments("a.lua", src), vec![" yes ]] still ", " line"]);
    }

    #[test]
    fn html_with_script() {
        let src = "<p>// no</p><!-- c1 --><script>var a = '<!-- no -->'; // c2\n</script>";
        assert_eq!(comments("a.html", src), vec![" c1 ", " c2"]);
    }

    #[test]
    fn limit_stops_and_resumes() {
        let src = "a // one\nb // two\n";
        let syn = lang::detect("a.rs").and_then(|l| l.syntax).expect("rust");
        let mut lx = Lexer::new(syn, src.as_bytes(), 0, src.len());
        assert!(lx.next_comment(1).is_none());
        assert_eq!(lx.next_comment(usize::MAX).map(|c| c.start), Some(2));
        assert_eq!(lx.next_comment(usize::MAX).map(|c| c.start), Some(11));
        assert!(lx.next_comment(usize::MAX).is_none());
    }
}
