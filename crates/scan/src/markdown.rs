//! Markdown: task list items and HTML comments.
//!
//! Markdown is parsed with `pulldown-cmark` (CommonMark plus task lists):
//! `- [ ]` items become pending tasks, `- [x]` / `- [X]` completed tasks
//! (kind [`ItemKind::Task`], tag [`TASK_TAG`]); a task nested under another
//! task gets the enclosing task as `parent`. Code blocks are ignored. HTML
//! (blocks and inline) is lexed for `<!-- TODO ... -->` comments, which
//! become ordinary comment items.

use crate::extract::{ExtractBuffers, LineCounter, Opts, Tags, extract_code, normalize_ws};
use crate::item::{Item, ItemKind, Priority, TASK_TAG};
use crate::lang::HTML_SYNTAX;
use memchr::memmem;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

struct Frame {
    item: Option<usize>,
    collecting: bool,
    text: String,
}

/// Extracts tasks (if `tasks`) and HTML comment items from Markdown bytes.
pub(crate) fn extract_markdown(bytes: &[u8], tags: &Tags, opts: Opts, tasks: bool) -> Vec<Item> {
    extract_markdown_with(bytes, tags, opts, tasks, true)
}

/// Like [`extract_markdown`]; `windows` allows parsing only the regions
/// around task lists (see [`task_windows`]) when there is no HTML comment
/// to look at.
fn extract_markdown_with(
    bytes: &[u8],
    tags: &Tags,
    opts: Opts,
    tasks: bool,
    windows: bool,
) -> Vec<Item> {
    let (task_marker, html_comment) = markers_and_comments(bytes);
    let has_tasks = tasks && task_marker;
    let has_comments = html_comment && !tags.candidates(bytes, false).is_empty();
    if !has_tasks && !has_comments {
        return Vec::new();
    }
    // `from_utf8` checks ASCII a word at a time; the lossy conversion is
    // only needed for the rare file that is not UTF-8.
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    let src = text.as_bytes();
    let cands = if has_comments {
        tags.candidates(src, false)
    } else {
        Vec::new()
    };
    let regions = if windows && !has_comments {
        task_windows(src)
    } else {
        vec![(0, src.len())]
    };
    let mut items: Vec<Item> = Vec::new();
    let mut html: Vec<(usize, usize)> = Vec::new();
    let mut lines = LineCounter::new(src);
    for (ws, we) in regions {
        let Some(window) = text.get(ws..we) else {
            continue;
        };
        parse_window(
            window,
            ws,
            tasks.then_some(tags.task_priority),
            !cands.is_empty(),
            &mut lines,
            &mut items,
            &mut html,
        );
    }
    if !cands.is_empty() && !html.is_empty() {
        html.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, e) in html {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut hl = LineCounter::new(src);
        let mut bufs = ExtractBuffers::default();
        for r in merged {
            extract_code(
                HTML_SYNTAX,
                src,
                r,
                &cands,
                tags,
                opts,
                &mut hl,
                &mut bufs,
                &mut items,
            );
        }
    }
    items
}

/// Parses one region of the document (starting at offset `base`), adding
/// task items (with priority `tasks`, unless that is `None`) to `items`
/// and the ranges of raw HTML to `html`.
fn parse_window(
    text: &str,
    base: usize,
    tasks: Option<Priority>,
    want_html: bool,
    lines: &mut LineCounter<'_>,
    items: &mut Vec<Item>,
    html: &mut Vec<(usize, usize)>,
) {
    let mut stack: Vec<Frame> = Vec::new();
    let mut in_code = 0usize;
    let parser = Parser::new_ext(text, Options::ENABLE_TASKLISTS).into_offset_iter();
    for (ev, range) in parser {
        match ev {
            Event::Start(Tag::Item) => stack.push(Frame {
                item: None,
                collecting: true,
                text: String::new(),
            }),
            Event::End(TagEnd::Item) => {
                if let Some(f) = stack.pop()
                    && let Some(it) = f.item.and_then(|i| items.get_mut(i))
                {
                    it.text = normalize_ws(&f.text);
                }
            }
            Event::TaskListMarker(checked) if let Some(priority) = tasks => {
                let parent = stack.iter().rev().skip(1).find_map(|f| f.item);
                if let Some(top) = stack.last_mut()
                    && top.item.is_none()
                {
                    top.item = Some(items.len());
                    items.push(Item {
                        kind: ItemKind::Task,
                        tag: TASK_TAG.to_string(),
                        text: String::new(),
                        path: String::new(),
                        line: lines.line_at(base + range.start),
                        author: None,
                        issue: None,
                        checked: Some(checked),
                        parent,
                        fingerprint: String::new(),
                        priority,
                    });
                }
            }
            Event::Start(Tag::List(_)) => {
                if let Some(top) = stack.last_mut() {
                    top.collecting = false;
                }
            }
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Text(t) | Event::Code(t) if in_code == 0 => {
                if let Some(top) = stack.last_mut()
                    && top.collecting
                    && top.item.is_some()
                {
                    top.text.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(top) = stack.last_mut()
                    && top.collecting
                    && top.item.is_some()
                {
                    top.text.push(' ');
                }
            }
            Event::Start(Tag::HtmlBlock) | Event::InlineHtml(_) | Event::Html(_) if want_html => {
                html.push((base + range.start, base + range.end));
            }
            _ => {}
        }
    }
}

/// What the line scanner of [`task_windows`] believes is open.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    /// Nothing that can span a blank line.
    None,
    /// A top-level fenced code block (fence byte, fence length).
    Fence(u8, usize),
    /// An HTML block that ends at a line containing the given text.
    Html(&'static [u8]),
    /// Something starting with `<` that ends at the next blank line (or is
    /// inline HTML in a paragraph).
    HtmlUntilBlank,
    /// Unsure: no more restart points in this document.
    Stuck,
}

/// The end marker of an HTML block that may span blank lines (CommonMark
/// kinds 1 to 5) starting at `rest`, which begins with `<`.
fn html_block_end(rest: &[u8]) -> Option<&'static [u8]> {
    let lower: Vec<u8> = rest.iter().take(10).map(u8::to_ascii_lowercase).collect();
    for (open, close) in [
        (&b"<script"[..], &b"</script>"[..]),
        (b"<pre", b"</pre>"),
        (b"<style", b"</style>"),
        (b"<textarea", b"</textarea>"),
    ] {
        if lower.starts_with(open)
            && lower
                .get(open.len())
                .is_none_or(|c| matches!(c, b' ' | b'\t' | b'>' | b'\r'))
        {
            return Some(close);
        }
    }
    if rest.starts_with(b"<!--") {
        return Some(b"-->");
    }
    if rest.starts_with(b"<?") {
        return Some(b"?>");
    }
    if rest.starts_with(b"<![CDATA[") {
        return Some(b"]]>");
    }
    if rest.starts_with(b"<!") && rest.get(2).is_some_and(u8::is_ascii_alphabetic) {
        return Some(b">");
    }
    None
}

/// Leading indentation in columns (a tab counts as four) and the rest.
fn split_indent(line: &[u8]) -> (usize, &[u8]) {
    let mut cols = 0;
    for (k, &b) in line.iter().enumerate() {
        match b {
            b' ' => cols += 1,
            b'\t' => cols += 4,
            _ => return (cols, &line[k..]),
        }
    }
    (cols, &[])
}

/// A fence opener: (byte, length) when `rest` starts a fenced code block.
fn fence_open(rest: &[u8]) -> Option<(u8, usize)> {
    let c = *rest.first()?;
    if c != b'`' && c != b'~' {
        return None;
    }
    let n = rest.iter().take_while(|&&b| b == c).count();
    if n < 3 || (c == b'`' && rest[n..].contains(&b'`')) {
        return None;
    }
    Some((c, n))
}

/// Whether `rest` starts like a fence line (opener or closer).
fn fence_like(rest: &[u8]) -> bool {
    matches!(rest.first(), Some(b'`' | b'~'))
        && rest.iter().take_while(|&&b| b == rest[0]).count() >= 3
}

/// Regions of the document to parse for tasks: for every line holding a
/// task marker, the stretch between the closest restart points around it.
///
/// A restart point is the start of a line that begins in column 0 with a
/// non-blank byte right after a blank line, outside fenced code and outside
/// HTML blocks. At such a line every open CommonMark block has ended (a
/// blank line ends paragraphs and HTML blocks of kinds 6 and 7; an
/// unindented line ends list items, block quotes and indented code), so
/// parsing from there gives the same list structure as parsing the whole
/// document. Whenever the scanner cannot be sure (an indented fence, a fence
/// inside something that starts with `<`), it stops producing restart
/// points, which only makes the regions larger.
fn task_windows(src: &[u8]) -> Vec<(usize, usize)> {
    let mut restarts: Vec<usize> = vec![0];
    let mut marker_lines: Vec<usize> = Vec::new();
    // One search over the document rather than one per line; a marker
    // never spans lines, so the markers inside a line are the same.
    let markers = task_markers(src);
    let mut next_marker = 0;
    let mut open = Open::None;
    let mut prev_blank = false;
    let mut ls = 0;
    while ls < src.len() {
        let le = memchr::memchr(b'\n', &src[ls..]).map_or(src.len(), |k| ls + k);
        let line = &src[ls..le];
        let blank = line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'));
        let (indent, rest) = split_indent(line);
        while markers.get(next_marker).is_some_and(|&m| m < ls) {
            next_marker += 1;
        }
        if markers.get(next_marker).is_some_and(|&m| m < le) {
            marker_lines.push(ls);
        }
        open = match open {
            Open::None => {
                if prev_blank && !blank && indent == 0 {
                    restarts.push(ls);
                }
                if indent > 3 || blank {
                    Open::None
                } else if let Some((c, n)) = fence_open(rest) {
                    if indent == 0 {
                        Open::Fence(c, n)
                    } else {
                        Open::Stuck
                    }
                } else if fence_like(rest) {
                    Open::Stuck
                } else if rest.first() == Some(&b'<') {
                    match html_block_end(rest) {
                        Some(close) if memmem::find(&rest[1..], close).is_some() => Open::None,
                        Some(close) => Open::Html(close),
                        None => Open::HtmlUntilBlank,
                    }
                } else {
                    Open::None
                }
            }
            Open::Fence(c, n) => {
                let run = rest.iter().take_while(|&&b| b == c).count();
                if indent <= 3
                    && run >= n
                    && rest[run..]
                        .iter()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r'))
                {
                    Open::None
                } else {
                    open
                }
            }
            Open::Html(close) => {
                if memmem::find(line, close).is_some() {
                    Open::None
                } else {
                    open
                }
            }
            Open::HtmlUntilBlank => {
                if blank {
                    Open::None
                } else if fence_like(rest)
                    || (rest.first() == Some(&b'<') && html_block_end(rest).is_some())
                {
                    Open::Stuck
                } else {
                    open
                }
            }
            Open::Stuck => Open::Stuck,
        };
        prev_blank = blank;
        ls = le + 1;
    }
    let mut out: Vec<(usize, usize)> = Vec::new();
    for m in marker_lines {
        let k = restarts.partition_point(|&r| r <= m);
        let start = restarts[k.saturating_sub(1)];
        let end = restarts.get(k).copied().unwrap_or(src.len());
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// Whether some line looks like a task list item: `[ ]`, `[x]` or `[X]`
/// whose previous non-blank byte on the line ends a list marker (`-`, `*`,
/// `+`, `1.`, `1)`). Files without one cannot contain tasks, so they are not
/// parsed.
fn has_task_marker(bytes: &[u8]) -> bool {
    let mut found = false;
    for_each_task_marker(bytes, |_| {
        found = true;
        false
    });
    found
}

/// Offsets of the task boxes that [`has_task_marker`] looks for, in order.
fn task_markers(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    for_each_task_marker(bytes, |i| {
        out.push(i);
        true
    });
    out
}

/// Calls `f` with the offset of each plausible task box, in order, while it
/// returns true.
fn for_each_task_marker(bytes: &[u8], mut f: impl FnMut(usize) -> bool) {
    let plausible = |i: usize| plausible_task_box(bytes, i);
    if let Some(searcher) = TASK_BOXES.as_ref() {
        for m in searcher.find_iter(bytes) {
            if plausible(m.start()) && !f(m.start()) {
                return;
            }
        }
        return;
    }
    let mut from = 0;
    while let Some(k) = memchr::memchr(b'[', &bytes[from..]) {
        let i = from + k;
        from = i + 1;
        if matches!(bytes.get(i + 1), Some(b' ' | b'x' | b'X'))
            && bytes.get(i + 2) == Some(&b']')
            && plausible(i)
            && !f(i)
        {
            return;
        }
    }
}

/// Whether the document has a plausible task box (see [`has_task_marker`])
/// and whether it opens an HTML comment, found in one pass over it.
fn markers_and_comments(bytes: &[u8]) -> (bool, bool) {
    let Some(searcher) = BOXES_AND_COMMENTS.as_ref() else {
        return (
            has_task_marker(bytes),
            memmem::find(bytes, b"<!--").is_some(),
        );
    };
    let (mut task, mut comment) = (false, false);
    for m in searcher.find_iter(bytes) {
        if m.pattern().as_usize() == 3 {
            comment = true;
        } else if !task && plausible_task_box(bytes, m.start()) {
            task = true;
        }
        if task && comment {
            break;
        }
    }
    (task, comment)
}

/// [`TASK_BOXES`] plus `<!--` (pattern 3).
static BOXES_AND_COMMENTS: std::sync::LazyLock<Option<aho_corasick::packed::Searcher>> =
    std::sync::LazyLock::new(|| aho_corasick::packed::Searcher::new(["[ ]", "[x]", "[X]", "<!--"]));

/// Whether the box at `i` follows a list marker and blanks (`- [ ]`,
/// `1. [x]`), as a task box must.
fn plausible_task_box(bytes: &[u8], i: usize) -> bool {
    let mut j = i;
    while j > 0 && matches!(bytes[j - 1], b' ' | b'\t') {
        j -= 1;
    }
    j < i && j > 0 && matches!(bytes[j - 1], b'-' | b'*' | b'+' | b'.' | b')')
}

/// Vectorised search for `[ ]`, `[x]`, `[X]` (when the CPU supports it).
static TASK_BOXES: std::sync::LazyLock<Option<aho_corasick::packed::Searcher>> =
    std::sync::LazyLock::new(|| aho_corasick::packed::Searcher::new(["[ ]", "[x]", "[X]"]));

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "- [ ] a",
        "- [x] b",
        "  - [ ] c",
        "    - [X] d",
        "* [ ] e",
        "1. [ ] f",
        "> - [ ] g",
        "```",
        "~~~",
        "    ```",
        "<!--",
        "-->",
        "<pre>",
        "</pre>",
        "<div>",
        "text",
        "# h",
        "    code",
        "\t- [ ] t",
        "",
        "",
        "",
        "- plain",
        "  more",
        "<!X",
        ">",
        "`x`",
        "```foo```",
        "  ```",
        "- ```",
        "> ```",
        "<span>",
        "</pre>",
        "~~~~",
        "```x`y",
        "\t```",
        "<script>",
        "</script>",
        "- [ ] <pre>",
        "1) [x] n",
        "-->",
        "<?",
        "?>",
        "   ~~~",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

        /// Parsing only the task windows gives the same items as parsing
        /// the whole document.
        #[test]
        fn windows_match_full_parse(lines in prop::collection::vec(prop::sample::select(PIECES), 0..40)) {
            let doc = lines.join("\n");
            let tags = Tags::new(&["TODO".to_string()]);
            let opts = Opts { max_continuation_lines: 8 };
            let full = extract_markdown_with(doc.as_bytes(), &tags, opts, true, false);
            let windowed = extract_markdown_with(doc.as_bytes(), &tags, opts, true, true);
            prop_assert_eq!(full, windowed, "{}", doc);
        }

        /// One search over the document finds a marker on exactly the lines
        /// where a search of the line alone finds one.
        #[test]
        fn document_markers_match_line_markers(lines in prop::collection::vec(prop::sample::select(PIECES), 0..40)) {
            let doc = lines.join("\n");
            let bytes = doc.as_bytes();
            let markers = task_markers(bytes);
            let mut start = 0;
            for line in doc.split('\n') {
                let end = start + line.len();
                let in_doc = markers.iter().any(|&m| m >= start && m < end);
                prop_assert_eq!(in_doc, has_task_marker(line.as_bytes()), "{:?}", line);
                start = end + 1;
            }
        }

        /// The combined search agrees with the two separate ones.
        #[test]
        fn one_pass_finds_boxes_and_comments(lines in prop::collection::vec(prop::sample::select(PIECES), 0..40)) {
            let doc = lines.join("\n");
            let bytes = doc.as_bytes();
            prop_assert_eq!(
                markers_and_comments(bytes),
                (has_task_marker(bytes), memmem::find(bytes, b"<!--").is_some())
            );
        }
    }

    #[test]
    fn task_marker_prefilter() {
        assert!(has_task_marker(b"- [ ] a"));
        assert!(has_task_marker(b"text\n  * [x] a"));
        assert!(has_task_marker(b"> 1. [X] a"));
        assert!(!has_task_marker(b"see [x] and [link](u)"));
        assert!(!has_task_marker(b"-[ ] glued"));
        assert!(!has_task_marker(b"[ ]"));
    }
}
