//! Turns the comments of a source file into work items.
//!
//! Extraction has two steps. First a fast multi-literal search
//! ([`Tags::candidates`]) finds every whole-word occurrence of a tag in the
//! file; a file with none is done. Otherwise the comment lexer runs only as
//! far as the last candidate, and each comment (or run of consecutive line
//! comments) that holds a candidate is decoded line by line: decoration is
//! stripped, tags are recognised, metadata (`TODO(alice)`, `#123`,
//! `JIRA-1`, URLs, trailing `/alice`) is parsed, and continuation lines are
//! folded into the text. Continuation stops at a blank line, a line holding
//! a tag, a line starting with `@` (doc-comment tags such as `@param`) or
//! `<` (XML doc tags), or after the configured number of lines.
//!
//! A tag counts when it is the first word of a comment line (optionally
//! prefixed with `@`), or when something new starts before it inside the
//! line (a sentence, a dash, the end of a nested comment) and it is directly
//! followed by `:` or `(` (`see below. FIXME: ...`); prose that merely names
//! the word (`the Master TODO: …`) does not count, and neither does a tag
//! inside an inline code span or a quoted phrase of the comment. It must be a whole word: `TODO_LIST`,
//! `myTODO`, `TODOs`, `TODO.md`, `/TODO/` do not count.

use crate::item::{Item, ItemKind};
use crate::lang::Syntax;
use crate::lexer::{Comment, Lexer, is_ident, trim_end, trim_start};
use crate::tagsearch::TagClassifier;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// The configured tags and the automaton that finds them.
#[derive(Debug, Clone)]
pub(crate) struct Tags {
    list: Vec<String>,
    /// Priority of each tag of `list`, decided once rather than per item.
    priorities: Vec<crate::Priority>,
    /// Priority of Markdown task items ([`crate::TASK_TAG`]).
    pub(crate) task_priority: crate::Priority,
    /// Vectorised classifier, when the CPU and the tags allow it; it
    /// replaces `packed` and `ac` in [`Tags::candidates`].
    classifier: Option<TagClassifier>,
    /// Vectorised (Teddy) searcher, when the CPU supports it.
    packed: Option<aho_corasick::packed::Searcher>,
    /// General automaton, used when `packed` is unavailable.
    ac: Option<AhoCorasick>,
    /// First bytes of the tags.
    first: [bool; 256],
}

impl Tags {
    pub(crate) fn new(tags: &[String]) -> Tags {
        let mut list: Vec<String> = tags.iter().filter(|t| !t.is_empty()).cloned().collect();
        list.sort();
        list.dedup();
        let mut first = [false; 256];
        for t in &list {
            if let Some(&b) = t.as_bytes().first() {
                first[b as usize] = true;
            }
        }
        let packed = if list.is_empty() {
            None
        } else {
            aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostLongest)
                .builder()
                .extend(&list)
                .build()
        };
        let ac = if list.is_empty() || packed.is_some() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&list)
                .ok()
        };
        Tags {
            classifier: TagClassifier::new(&list),
            priorities: vec![crate::Priority::default(); list.len()],
            task_priority: crate::Priority::default(),
            list,
            packed,
            ac,
            first,
        }
    }

    /// The same tags, with priorities (and that of Markdown tasks) given by
    /// `priority_of`.
    pub(crate) fn with_priorities(mut self, priority_of: impl Fn(&str) -> crate::Priority) -> Tags {
        self.priorities = self.list.iter().map(|t| priority_of(t)).collect();
        self.task_priority = priority_of(crate::TASK_TAG);
        self
    }

    /// The same tags, searched with aho-corasick only.
    #[cfg(test)]
    pub(crate) fn without_classifier(mut self) -> Tags {
        self.classifier = None;
        self
    }

    /// Offsets of every occurrence of a tag that is not glued to identifier
    /// bytes, in increasing order.
    ///
    /// With `strict`, occurrences that no comment could turn into a tag
    /// under the rules above are dropped as well (see [`could_be_tag`]);
    /// that is exact for every syntax whose comment openers end in
    /// punctuation, which [`Syntax::openers_end_in_punctuation`] tells.
    pub(crate) fn candidates(&self, src: &[u8], strict: bool) -> Vec<usize> {
        let mut out = Vec::new();
        self.search(src, strict, 0, &mut out);
        out
    }

    /// [`Tags::candidates`] into `out` (cleared first), reusing its
    /// memory; also returns whether the first `nul_probe` bytes of `src`
    /// hold a NUL byte, which the binary-file check asks and the search
    /// can tell while it reads the bytes.
    pub(crate) fn search(
        &self,
        src: &[u8],
        strict: bool,
        nul_probe: usize,
        out: &mut Vec<usize>,
    ) -> bool {
        out.clear();
        let mut push = |s: usize, e: usize| {
            if (s == 0 || !is_ident(src[s - 1]))
                && (e == src.len() || !is_ident(src[e]))
                && (!strict || could_be_tag(src, s, e))
            {
                out.push(s);
            }
        };
        if let Some(c) = &self.classifier {
            return c.for_each(src, nul_probe, push);
        }
        if let Some(p) = &self.packed {
            for m in p.find_iter(src) {
                push(m.start(), m.end());
            }
        } else if let Some(ac) = &self.ac {
            for m in ac.find_iter(src) {
                push(m.start(), m.end());
            }
        }
        memchr::memchr(0, &src[..src.len().min(nul_probe)]).is_some()
    }

    /// Tag occurrences in one decorated comment line, appended to `out` as
    /// `(start, end, index in the tag list)` of the tag word, in order.
    fn find_in_line(&self, text: &[u8], out: &mut Vec<(usize, usize, usize)>) {
        let mut p = 0;
        while p < text.len() {
            if !self.first[text[p] as usize] {
                p += 1;
                continue;
            }
            match self.tag_at(text, p) {
                Some((e, k)) => {
                    out.push((p, e, k));
                    p = e;
                }
                None => p += 1,
            }
        }
    }

    /// Whether a comment line holds a tag.
    fn has_tag_in_line(&self, text: &[u8]) -> bool {
        (0..text.len()).any(|p| self.first[text[p] as usize] && self.tag_at(text, p).is_some())
    }

    /// The tag that counts at `text[p..]`, as (end offset, index in the tag
    /// list).
    fn tag_at(&self, text: &[u8], p: usize) -> Option<(usize, usize)> {
        self.list.iter().enumerate().find_map(|(k, tag)| {
            let e = p + tag.len();
            (text[p..].starts_with(tag.as_bytes()) && self.is_tag_at(text, p, e)).then_some((e, k))
        })
    }

    fn is_tag_at(&self, text: &[u8], s: usize, e: usize) -> bool {
        if s > 0 {
            let l = text[s - 1];
            if is_ident(l) || b"/.\\-$".contains(&l) {
                return false;
            }
        }
        if let Some(&r) = text.get(e) {
            let next_alnum = text.get(e + 1).is_some_and(|c| c.is_ascii_alphanumeric());
            if is_ident(r) || r == b'/' || ((r == b'.' || r == b'-') && next_alnum) {
                return false;
            }
        }
        let before = if s > 0 && text[s - 1] == b'@' {
            &text[..s - 1]
        } else {
            &text[..s]
        };
        if before.iter().all(|c| c.is_ascii_whitespace()) {
            return true;
        }
        // Inside an inline code span or a quoted phrase the word is
        // mentioned, not used: "a `TODO:` line", "write \"FIXME: x\"".
        let count = |b: u8| before.iter().filter(|&&c| c == b).count();
        if count(b'`') % 2 == 1 || count(b'"') % 2 == 1 {
            return false;
        }
        // Mid-line, `TAG:` or `TAG(` counts only where something new starts:
        // a sentence ("see below. FIXME: …"), a dash ("x - TODO: …"), or the
        // end of a nested comment ("/* a /* b */ TODO: …"); prose that names
        // the word ("the Master TODO: …") does not.
        if !matches!(text.get(e), Some(b':' | b'(')) {
            return false;
        }
        let mut end = before.len();
        while end > 0 && before[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        let before = &before[..end];
        const NESTED_COMMENT_ENDS: [&[u8]; 7] = [b"*/", b"-}", b"*)", b"|#", b"=#", b"]#", b"+/"];
        let sentence_end = matches!(before.last(), Some(b'.' | b';' | b'!' | b'?'));
        let dash = before.ends_with(b" -") || before == b"-";
        sentence_end || dash || NESTED_COMMENT_ENDS.iter().any(|c| before.ends_with(c))
    }
}

/// Whether the occurrence `src[s..e]` could be a tag in some comment: it is
/// followed by `:` or `(` (rule b), or (rule a) only whitespace, comment
/// markers and decoration can precede it on its line, i.e. the previous
/// non-blank byte on the line (before an optional `@`) is the line start or
/// punctuation that can end a comment opener or decoration. Quotes, closing
/// brackets, `,`, `.` and word bytes cannot, so `"the TODO list"`,
/// `x = TODO` or `"TODO"` are rejected without lexing the file.
fn could_be_tag(src: &[u8], s: usize, e: usize) -> bool {
    if matches!(src.get(e), Some(b':' | b'(')) {
        return true;
    }
    let mut j = s;
    if j > 0 && src[j - 1] == b'@' {
        j -= 1;
    }
    while j > 0 && matches!(src[j - 1], b' ' | b'\t' | b'\r' | 0x0C) {
        j -= 1;
    }
    if j == 0 {
        return true;
    }
    let p = src[j - 1];
    !(p.is_ascii_alphanumeric() || p >= 0x80 || b"_\"'`)]},.".contains(&p))
}

/// Extraction options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opts {
    pub max_continuation_lines: usize,
}

/// Maps offsets to 1-based line numbers; queries must be non-decreasing to
/// be cheap (earlier offsets are recounted from the start).
pub(crate) struct LineCounter<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    newlines: crate::byteset::ByteCounter,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(src: &'a [u8]) -> Self {
        LineCounter {
            src,
            pos: 0,
            line: 1,
            newlines: crate::byteset::ByteCounter::new(b'\n'),
        }
    }

    pub(crate) fn line_at(&mut self, pos: usize) -> u32 {
        let pos = pos.min(self.src.len());
        if pos < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        let n = self.newlines.count(&self.src[self.pos..pos]);
        self.line = self
            .line
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        self.pos = pos;
        self.line
    }
}

/// One decorated line of a comment: its line number and where its text
/// sits in the file.
#[derive(Debug, Clone, Copy)]
struct CLine {
    line: u32,
    start: usize,
    end: usize,
}

impl CLine {
    /// The line for `text`, a part of `src`.
    fn new(src: &[u8], line: u32, text: &[u8]) -> CLine {
        let start = text.as_ptr().addr().wrapping_sub(src.as_ptr().addr());
        // `text` is always cut from `src`; were it not, the line would read
        // as empty rather than as other bytes.
        debug_assert!(start <= src.len() && text.len() <= src.len() - start);
        if start > src.len() || text.len() > src.len() - start {
            return CLine {
                line,
                start: 0,
                end: 0,
            };
        }
        CLine {
            line,
            start,
            end: start + text.len(),
        }
    }

    fn text<'a>(&self, src: &'a [u8]) -> &'a [u8] {
        src.get(self.start..self.end).unwrap_or_default()
    }
}

/// Buffers that extraction reuses from comment to comment and from file to
/// file, so that a file with items costs no allocations besides the items'
/// own.
#[derive(Debug, Default)]
pub(crate) struct ExtractBuffers {
    lines: Vec<CLine>,
    members: Vec<Comment>,
    found: Vec<(usize, usize, usize)>,
}

/// Extracts comment items from `src[start..end]` lexed with `syn`.
/// `cands` are candidate tag offsets (sorted); `lines` maps offsets to lines.
// The arguments are the file, the part to lex and the per-file state the
// caller threads through; bundling them would only add a struct.
#[allow(clippy::too_many_arguments)]
pub(crate) fn extract_code(
    syn: &'static Syntax,
    src: &[u8],
    range: (usize, usize),
    cands: &[usize],
    tags: &Tags,
    opts: Opts,
    lines: &mut LineCounter<'_>,
    bufs: &mut ExtractBuffers,
    out: &mut Vec<Item>,
) {
    let mut ci = cands.partition_point(|&c| c < range.0);
    if ci >= cands.len() || cands[ci] >= range.1 {
        return;
    }
    let mut lx = Lexer::new(syn, src, range.0, range.1);
    let mut pending: Option<Comment> = None;
    let ExtractBuffers {
        lines: cl,
        members,
        found,
    } = bufs;
    while ci < cands.len() && cands[ci] < range.1 {
        let c = match pending.take() {
            Some(c) => c,
            // Comments that end before the candidate cannot hold it.
            None => match lx.next_comment_ending_after(cands[ci] + 1, cands[ci]) {
                Some(c) => c,
                None => {
                    // No comment starts at or before the next candidate: it
                    // is in code or a string.
                    ci += 1;
                    continue;
                }
            },
        };
        while ci < cands.len() && cands[ci] < c.body_start {
            ci += 1;
        }
        if ci >= cands.len() || cands[ci] >= c.body_end {
            continue;
        }
        cl.clear();
        if c.block {
            block_lines(src, &c, lines, cl);
            ci = cands.partition_point(|&x| x < c.end);
        } else {
            members.clear();
            members.push(c);
            let mut since_tagged = 0usize;
            while let Some(last) = members.last().copied() {
                let next_start = last.end + 1;
                if next_start >= range.1 {
                    break;
                }
                let limit = memchr::memchr(b'\n', &src[next_start..range.1])
                    .map_or(range.1, |k| next_start + k);
                match lx.next_comment(limit) {
                    Some(n)
                        if !n.block
                            && n.start >= next_start
                            && src[next_start..n.start]
                                .iter()
                                .all(|&b| b == b' ' || b == b'\t') =>
                    {
                        let k = cands.partition_point(|&x| x < n.body_start);
                        if k < cands.len() && cands[k] < n.body_end {
                            since_tagged = 0;
                        } else {
                            since_tagged += 1;
                        }
                        members.push(n);
                        if since_tagged >= opts.max_continuation_lines {
                            break;
                        }
                    }
                    Some(n) => {
                        pending = Some(n);
                        break;
                    }
                    None => break,
                }
            }
            for m in members.iter() {
                let line = lines.line_at(m.body_start);
                let text = decorate_line(&src[m.body_start..m.body_end], m.strip);
                cl.push(CLine::new(src, line, text));
            }
            let end = members.last().map_or(c.end, |m| m.end);
            ci = cands.partition_point(|&x| x < end);
        }
        items_from_lines(src, cl, tags, opts, found, out);
    }
}

fn block_lines(src: &[u8], c: &Comment, lines: &mut LineCounter<'_>, out: &mut Vec<CLine>) {
    let body = &src[c.body_start..c.body_end];
    let mut line = lines.line_at(c.body_start);
    for (k, raw) in body.split(|&b| b == b'\n').enumerate() {
        let mut t = trim_start(raw);
        if k == 0 || !c.strip.is_empty() {
            while let [f, rest @ ..] = t {
                if c.strip.contains(f) {
                    t = rest;
                } else {
                    break;
                }
            }
            if k == 0
                && let [b'!', rest @ ..] = t
            {
                t = rest;
            }
        }
        let mut t = trim_end(trim_start(t));
        if !c.strip.is_empty() {
            while let [rest @ .., l] = t {
                if c.strip.contains(l) {
                    t = rest;
                } else {
                    break;
                }
            }
        }
        out.push(CLine::new(src, line, trim_end(t)));
        line = line.saturating_add(1);
    }
}

fn decorate_line<'a>(body: &'a [u8], strip: &[u8]) -> &'a [u8] {
    let mut t = body;
    while let [f, rest @ ..] = t {
        if strip.contains(f) {
            t = rest;
        } else {
            break;
        }
    }
    if let [b'!', rest @ ..] = t {
        t = rest;
    }
    trim_end(trim_start(t))
}

fn items_from_lines(
    src: &[u8],
    cl: &[CLine],
    tags: &Tags,
    opts: Opts,
    found: &mut Vec<(usize, usize, usize)>,
    out: &mut Vec<Item>,
) {
    for (i, l) in cl.iter().enumerate() {
        let line_text = l.text(src);
        found.clear();
        tags.find_in_line(line_text, found);
        for (k, &(_, e, tag)) in found.iter().enumerate() {
            let seg_end = match found.get(k + 1) {
                Some(&(ns, _, _)) => {
                    if ns > 0 && line_text[ns - 1] == b'@' {
                        ns - 1
                    } else {
                        ns
                    }
                }
                None => line_text.len(),
            };
            let rest = lossy(&line_text[e..seg_end]);
            let mut meta = parse_meta(&rest);
            // The last tag of a line takes the continuation lines that follow.
            let continuation: &[CLine] = if k + 1 == found.len() {
                let next = &cl[i + 1..];
                let taken = next
                    .iter()
                    .take(opts.max_continuation_lines)
                    .take_while(|n| {
                        let t = n.text(src);
                        !(t.is_empty()
                            || t.starts_with(b"@")
                            || t.starts_with(b"<")
                            || tags.has_tag_in_line(t))
                    })
                    .count();
                &next[..taken]
            } else {
                &[]
            };
            let capacity = continuation
                .iter()
                .fold(meta.text.len(), |n, c| n + 1 + (c.end - c.start));
            let mut text = String::with_capacity(capacity);
            push_normalized(&mut text, meta.text);
            for next in continuation {
                push_normalized(&mut text, &lossy(next.text(src)));
            }
            if meta.author.is_none() {
                meta.author = split_trailing_author(&mut text);
            }
            out.push(Item {
                kind: ItemKind::Comment,
                tag: tags.list.get(tag).cloned().unwrap_or_default(),
                priority: tags.priorities.get(tag).copied().unwrap_or_default(),
                text,
                path: String::new(),
                line: l.line,
                author: meta.author,
                issue: meta.issue,
                checked: None,
                parent: None,
                fingerprint: String::new(),
            });
        }
    }
}

struct Meta<'a> {
    author: Option<String>,
    issue: Option<String>,
    text: &'a str,
}

fn is_issue_key(s: &str) -> bool {
    let Some((key, num)) = s.split_once('-') else {
        return false;
    };
    let mut kb = key.bytes();
    kb.next().is_some_and(|c| c.is_ascii_uppercase())
        && kb.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
        && !num.is_empty()
        && num.bytes().all(|c| c.is_ascii_digit())
}

fn is_hash_issue(s: &str) -> bool {
    s.strip_prefix('#')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Parses `(alice, #12)` style parenthesised metadata. Returns false if the
/// content does not look like metadata.
fn parse_paren(inner: &str, author: &mut Option<String>, issue: &mut Option<String>) -> bool {
    let mut a = None;
    let mut i = None;
    for part in inner.split(',') {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        if is_hash_issue(p)
            || p.starts_with("http://")
            || p.starts_with("https://")
            || is_issue_key(p)
        {
            if i.is_none() {
                i = Some(p.to_string());
            }
        } else if let Some(name) = p.strip_prefix('@') {
            if name.is_empty() || !name.chars().all(is_name_char) {
                return false;
            }
            a.get_or_insert_with(|| name.to_string());
        } else if p.chars().all(|c| is_name_char(c) || c == '@') {
            a.get_or_insert_with(|| p.to_string());
        } else {
            return false;
        }
    }
    if a.is_none() && i.is_none() {
        return false;
    }
    *author = a;
    *issue = i;
    true
}

fn parse_meta(rest: &str) -> Meta<'_> {
    let mut author = None;
    let mut issue = None;
    let mut r = rest;
    if let Some(inner_and_more) = r.strip_prefix('(')
        && let Some(close) = inner_and_more.find(')')
        && parse_paren(&inner_and_more[..close], &mut author, &mut issue)
    {
        r = &inner_and_more[close + 1..];
    }
    r = r.trim_start();
    if issue.is_none()
        && let Some(num) = r.strip_prefix('#')
    {
        let digits = num.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && !num[digits..].starts_with(|c: char| c.is_alphanumeric() || c == '_') {
            issue = Some(format!("#{}", &num[..digits]));
            r = num[digits..].trim_start();
        }
    }
    if author.is_none()
        && let Some(name_and_more) = r.strip_prefix('@')
    {
        let len = name_and_more
            .char_indices()
            .find(|&(_, c)| !is_name_char(c))
            .map_or(name_and_more.len(), |(k, _)| k);
        let name = name_and_more[..len].trim_end_matches('.');
        let after = &name_and_more[name.len()..];
        if !name.is_empty() && (after.is_empty() || after.starts_with([':', ' ', '\t'])) {
            author = Some(name.to_string());
            r = after.trim_start();
        }
    }
    if let Some(x) = r.strip_prefix(':') {
        r = x;
    } else if let Some(x) = r.strip_prefix('-') {
        if x.is_empty() || x.starts_with(char::is_whitespace) {
            r = x;
        }
    } else if let Some(x) = r
        .strip_prefix('\u{2013}')
        .or_else(|| r.strip_prefix('\u{2014}'))
    {
        r = x;
    }
    Meta {
        author,
        issue,
        text: r.trim(),
    }
}

/// Collapses runs of whitespace into single spaces and trims.
pub(crate) fn normalize_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_normalized(&mut out, s);
    out
}

/// `bytes` as text: borrowed when it is UTF-8, as nearly all comments are
/// (`from_utf8` checks ASCII a word at a time, much faster than the lossy
/// conversion's chunking), else with invalid sequences replaced.
fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Appends the words of `s` to `out`, separated by single spaces (and from
/// what `out` already holds by one space): appending pieces one by one
/// gives the same text as normalising the pieces joined by spaces.
fn push_normalized(out: &mut String, s: &str) {
    let mut push = |word: &str| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    };
    // Most comment text is already single-spaced: copy it in one go.
    if !s.is_empty() && crate::item::is_normalized_ascii(s) {
        push(s);
    } else {
        s.split_whitespace().for_each(push);
    }
}

/// Splits a trailing ` /alice` author off the normalised `text` (which
/// keeps what comes before it) and returns the name.
fn split_trailing_author(text: &mut String) -> Option<String> {
    let (keep, name) = match text.rfind(" /") {
        Some(k) => (k, &text[k + 2..]),
        None => (0, text.strip_prefix('/')?),
    };
    if name.is_empty() || !name.chars().all(is_name_char) {
        return None;
    }
    let name = name.to_string();
    text.truncate(keep);
    text.truncate(text.trim_end().len());
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_forms() {
        let m = parse_meta("(alice): fix it");
        assert_eq!(
            (m.author.as_deref(), m.issue.as_deref(), m.text),
            (Some("alice"), None, "fix it")
        );
        let m = parse_meta("(@bob, #12) - later");
        assert_eq!(
            (m.author.as_deref(), m.issue.as_deref(), m.text),
            (Some("bob"), Some("#12"), "later")
        );
        let m = parse_meta(" #123 thing");
        assert_eq!(
            (m.author, m.issue.as_deref(), m.text),
            (None, Some("#123"), "thing")
        );
        let m = parse_meta("(JIRA-77) x");
        assert_eq!(m.issue.as_deref(), Some("JIRA-77"));
        let m = parse_meta("(https://example.com/o/r/issues/5): y");
        assert_eq!(m.issue.as_deref(), Some("https://example.com/o/r/issues/5"));
        assert_eq!(m.text, "y");
        let m = parse_meta("(not metadata here) z");
        assert_eq!(
            (m.author, m.issue, m.text),
            (None, None, "(not metadata here) z")
        );
        let split = |t: &str| {
            let mut t = t.to_string();
            split_trailing_author(&mut t).map(|a| (t, a))
        };
        assert_eq!(
            split("do it /carol"),
            Some(("do it".into(), "carol".into()))
        );
        assert_eq!(split("/carol"), Some((String::new(), "carol".into())));
        assert_eq!(split("use a/b"), None);
    }

    #[test]
    fn ascii_normalisation_matches_split_whitespace() {
        let pieces = [
            "a", "bc", " ", "\t", "\n", "\u{b}", "\u{c}", "\r", "  ", "-", ".",
        ];
        for t in crate::test_support::texts_of_three(&pieces) {
            assert_eq!(
                normalize_ws(&t),
                crate::test_support::normalized(&t),
                "{t:?}"
            );
            let mut after = String::from("x");
            push_normalized(&mut after, &t);
            let joined = crate::test_support::normalized(&format!("x {t}"));
            assert_eq!(after, joined, "{t:?}");
        }
    }

    #[test]
    fn tag_positions() {
        let t = Tags::new(&["TODO".to_string(), "FIXME".to_string()]);
        let find = |line: &[u8]| {
            let mut found = Vec::new();
            t.find_in_line(line, &mut found);
            assert_eq!(t.has_tag_in_line(line), !found.is_empty());
            found
        };
        // The list is sorted: FIXME is tag 0, TODO tag 1.
        assert_eq!(find(b"TODO: x"), vec![(0, 4, 1)]);
        assert_eq!(find(b"@TODO x"), vec![(1, 5, 1)]);
        assert!(find(b"the TODO list").is_empty());
        assert!(find(b"TODO_LIST").is_empty());
        assert!(find(b"see TODO.md").is_empty());
        assert_eq!(find(b"a. FIXME: b"), vec![(3, 8, 0)]);
        assert_eq!(
            t.candidates(b"x TODO myTODO TODO_X FIXME", false),
            vec![2, 21]
        );
        let long = b"FIXME TODO x ".repeat(40);
        assert_eq!(t.candidates(&long, false).len(), 80);
        let src =
            b"s = \"the TODO list\"; t = \"TODO\"; let TODO = 1; // TODO a\n# @FIXME b\nf(TODO: 1)";
        let strict: Vec<&[u8]> = t
            .candidates(src, true)
            .iter()
            .map(|&p| &src[p..p + 4])
            .collect();
        assert_eq!(strict, vec![&b"TODO"[..], b"FIXM", b"TODO"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 400, ..Default::default() })]

        /// The vectorised classifier and aho-corasick's leftmost-longest
        /// search give the same whole-word candidates, overlapping and
        /// prefix-sharing tags included.
        #[test]
        fn classifier_and_aho_corasick_agree(
            tags in proptest::collection::vec("(TODO|TODOS|XXX|XX|X|FIX|FIXME|BUG|B_1)", 1..5),
            hay in proptest::collection::vec(proptest::sample::select(
                &b"TODOSFIXMEXBUG_1 \n:(@/.-\"\x00\x80\xffaz"[..]), 0..400),
            strict in proptest::bool::ANY,
        ) {
            let fast = Tags::new(&tags);
            let general = fast.clone().without_classifier();
            proptest::prop_assert_eq!(
                fast.candidates(&hay, strict),
                general.candidates(&hay, strict)
            );
        }
    }
}
