//! Work items, their priorities and their stable fingerprints.

use std::collections::HashMap;

/// How urgent a work item is; derived from its tag (see
/// [`ScanConfig::priorities`](crate::ScanConfig::priorities)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// `HACK`, `XXX` by default.
    Low,
    /// `TODO` and Markdown tasks by default.
    #[default]
    Medium,
    /// `FIXME`, `BUG` by default.
    High,
    /// Not used by default; available for custom tags.
    Critical,
}

/// Where a work item comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// A tagged comment in source code (or an HTML comment in Markdown).
    Comment,
    /// A Markdown task list item (`- [ ]` / `- [x]`).
    Task,
}

/// The tag given to Markdown task list items.
pub const TASK_TAG: &str = "TASK";

/// One work item found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Comment or task.
    pub kind: ItemKind,
    /// The tag as written (`TODO`, `FIXME`, ...), or [`TASK_TAG`] for tasks.
    pub tag: String,
    /// The text after the tag and its metadata, continuation lines folded in,
    /// whitespace collapsed to single spaces.
    pub text: String,
    /// Repository-relative path of the file.
    pub path: String,
    /// 1-based line of the tag (or of the task's checkbox).
    pub line: u32,
    /// Author from `TODO(alice)`, `TODO(@alice)`, `TODO @alice:` or a
    /// trailing ` /alice`.
    pub author: Option<String>,
    /// Issue reference: `#123`, `JIRA-123` or a URL.
    pub issue: Option<String>,
    /// For tasks: whether the box is checked. `None` for comments.
    pub checked: Option<bool>,
    /// For nested tasks: index (in the same returned `Vec`) of the
    /// enclosing task item.
    pub parent: Option<usize>,
    /// Stable identity of the item; see [`fingerprint`].
    pub fingerprint: String,
    /// Priority derived from the tag.
    pub priority: Priority,
}

/// The fingerprint of an item: the first 32 hex digits of the BLAKE3 hash
/// of the tag, the whitespace-normalised text, the path and the occurrence
/// index among items with the same tag, text and path in the file
/// (0 for the first, as a little-endian `u64`). The line number is deliberately not part of it, so
/// moving an item within its file, re-indenting it or inserting lines above
/// it keeps its fingerprint; editing its text changes it.
///
/// ```
/// let a = todovault_scan::fingerprint("TODO", "fix  the\tparser", "src/lib.rs", 0);
/// let b = todovault_scan::fingerprint("TODO", "fix the parser", "src/lib.rs", 0);
/// assert_eq!(a, b);
/// assert_eq!(a.len(), 32);
/// assert_ne!(a, todovault_scan::fingerprint("TODO", "fix the parser", "src/lib.rs", 1));
/// ```
pub fn fingerprint(tag: &str, text: &str, path: &str, occurrence: usize) -> String {
    let mut h = blake3::Hasher::new();
    h.update(tag.as_bytes());
    h.update(&[0]);
    let mut first = true;
    for w in text.split_whitespace() {
        if !first {
            h.update(b" ");
        }
        first = false;
        h.update(w.as_bytes());
    }
    h.update(&[0]);
    h.update(path.as_bytes());
    h.update(&[0]);
    h.update(&(occurrence as u64).to_le_bytes());
    let hex = h.finalize().to_hex();
    hex.as_str()[..32].to_string()
}

/// Orders the items of one file, `items[start..]`, by line (stable) and
/// remaps their `parent` indices, which count from `start`.
pub(crate) fn sort_by_line(items: &mut Vec<Item>, start: usize) {
    let file = &items[start..];
    if file.windows(2).all(|w| w[0].line <= w[1].line) {
        return;
    }
    let mut order: Vec<usize> = (0..file.len()).collect();
    order.sort_by_key(|&i| file[i].line);
    let mut new_index = vec![0usize; file.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut taken: Vec<Option<Item>> = items.drain(start..).map(Some).collect();
    for &old in &order {
        if let Some(mut it) = taken[old].take() {
            it.parent = it.parent.and_then(|p| new_index.get(p).copied());
            items.push(it);
        }
    }
}

/// Fills in path and fingerprint of a file's items.
pub(crate) fn finalize(items: &mut [Item], path: &str, hashing: &mut Hashing) {
    // Files rarely hold more than a few items: comparing with the earlier
    // ones is cheaper than hashing every text.
    const SMALL: usize = 32;
    let counted = (items.len() > SMALL).then(|| occurrences(items));
    for k in 0..items.len() {
        let (earlier, rest) = items.split_at_mut(k);
        let Some(it) = rest.first_mut() else { break };
        let occurrence = match &counted {
            Some(counted) => counted[k],
            None => earlier
                .iter()
                .filter(|o| o.tag == it.tag && o.text == it.text)
                .count(),
        };
        it.fingerprint = hashing.fingerprint(&it.tag, &it.text, path, occurrence);
        it.path = path.to_string();
    }
}

/// For each item, the number of earlier items with the same tag and text.
fn occurrences(items: &[Item]) -> Vec<usize> {
    let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
    items
        .iter()
        .map(|it| {
            let n = seen.entry((it.tag.as_str(), it.text.as_str())).or_insert(0);
            let occurrence = *n;
            *n += 1;
            occurrence
        })
        .collect()
}

/// Computes [`fingerprint`]s through one scratch buffer, reused from item
/// to item and file to file.
#[derive(Debug, Default)]
pub(crate) struct Hashing {
    buf: Vec<u8>,
}

impl Hashing {
    /// [`fingerprint`]; when `text` is already whitespace-normalised ASCII
    /// (as extracted items are) it is hashed in one call, which gives the
    /// same bytes to hash.
    fn fingerprint(&mut self, tag: &str, text: &str, path: &str, occurrence: usize) -> String {
        if !is_normalized_ascii(text) {
            return fingerprint(tag, text, path, occurrence);
        }
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(tag.as_bytes());
        buf.push(0);
        buf.extend_from_slice(text.as_bytes());
        buf.push(0);
        buf.extend_from_slice(path.as_bytes());
        buf.push(0);
        buf.extend_from_slice(&(occurrence as u64).to_le_bytes());
        let hash = blake3::hash(buf);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 32];
        for (k, &b) in hash.as_bytes()[..16].iter().enumerate() {
            hex[2 * k] = HEX[usize::from(b >> 4)];
            hex[2 * k + 1] = HEX[usize::from(b & 15)];
        }
        // Only hex digits were written.
        std::str::from_utf8(&hex)
            .map(str::to_string)
            .unwrap_or_default()
    }
}

/// Whether `text` is printable ASCII and equal to its
/// whitespace-normalised form: words separated by single spaces, no other
/// whitespace, nothing leading or trailing. (Other control bytes are not
/// whitespace, but refusing them keeps the check a branch-free pass that
/// the compiler vectorises; such texts take the general path.)
pub(crate) fn is_normalized_ascii(text: &str) -> bool {
    let b = text.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return true;
    };
    if first == b' ' || last == b' ' || !(0x20..0x80).contains(&last) {
        return false;
    }
    let bad = b.iter().zip(&b[1..]).fold(false, |bad, (&c, &next)| {
        bad | !(0x20..0x80).contains(&c) | (c == b' ' && next == b' ')
    });
    !bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_fingerprint_matches_the_public_one() {
        let mut hashing = Hashing::default();
        for text in [
            "",
            "fix the parser",
            " fix",
            "fix ",
            "fix  the",
            "a\tb",
            "a\u{b}b",
            "caf\u{e9} au lait",
            "x\u{a0}y",
            "line\nbreak",
            "x",
            "a\u{1}b",
            "ab\t",
            "\u{7f}",
        ] {
            for occurrence in [0, 1, 7] {
                assert_eq!(
                    hashing.fingerprint("TODO", text, "src/a.rs", occurrence),
                    fingerprint("TODO", text, "src/a.rs", occurrence),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn normalized_ascii_means_what_it_says() {
        let pieces = [
            "a", "b", " ", "  ", "\t", "\n", "\u{b}", "\u{1}", "\u{7f}", "\u{e9}",
        ];
        for t in crate::test_support::texts_of_three(&pieces) {
            let printable = t.bytes().all(|b| (0x20..0x80).contains(&b));
            let normal = t == crate::test_support::normalized(&t);
            assert_eq!(is_normalized_ascii(&t), printable && normal, "{t:?}");
        }
    }

    #[test]
    fn occurrences_count_earlier_equal_items_in_small_and_large_files() {
        let item = |tag: &str, text: &str| Item {
            kind: ItemKind::Comment,
            tag: tag.to_string(),
            text: text.to_string(),
            path: String::new(),
            line: 1,
            author: None,
            issue: None,
            checked: None,
            parent: None,
            fingerprint: String::new(),
            priority: Priority::Medium,
        };
        for n in [3usize, 32, 33, 100] {
            let mut items: Vec<Item> = (0..n)
                .map(|k| item(["TODO", "FIXME"][k % 2], ["a", "b", "c"][k % 3]))
                .collect();
            let expected: Vec<usize> = (0..n).map(|k| k / 6).collect();
            assert_eq!(occurrences(&items), expected, "{n}");
            finalize(&mut items, "p", &mut Hashing::default());
            let fingerprints: Vec<String> = items.iter().map(|i| i.fingerprint.clone()).collect();
            let want: Vec<String> = items
                .iter()
                .zip(&expected)
                .map(|(i, &o)| fingerprint(&i.tag, &i.text, "p", o))
                .collect();
            assert_eq!(fingerprints, want, "{n}");
        }
    }
}
