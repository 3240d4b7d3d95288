//! Finds tag words in a file by classifying 64 bytes at a time.
//!
//! Every byte of every file passes through the tag search, so it sets the
//! scanner's floor. A general multi-literal searcher (aho-corasick's Teddy,
//! which ripgrep's regex engine uses too) cannot exploit what tags are:
//! short words of ASCII word bytes. This searcher can. It gives every ASCII
//! byte a class, bit `k` of which says "this byte is the `k`-th byte of
//! some tag", looks up the classes of 64 bytes in one instruction (AVX-512
//! VBMI's two-table byte permute), and keeps only the positions where the
//! first three classes line up. Those positions are rare in source code
//! (`FIX`, `HAD`, `TOD`, ... in upper case) and are checked against the
//! tags one by one.
//!
//! Files held in memory usually sit in separate allocations, and a
//! hardware prefetcher stops following a stream at each page boundary, so
//! the search asks for a file's first [`PREFETCH_DISTANCE`] bytes when it
//! starts and then for the bytes that far ahead of where it reads: every
//! line is requested once, early, and a scan of files in memory runs
//! closer to the speed of the classification than to the latency of
//! memory.
//!
//! The classifier serves tag lists whose every byte is an ASCII word byte
//! (letters, digits, `_`), on x86-64 CPUs with AVX-512 VBMI. Everything
//! else goes to aho-corasick (see [`crate::extract::Tags`]). For such tag
//! lists both give the same whole-word occurrences: the classifier reports
//! the longest tag at every position, aho-corasick the leftmost-longest
//! non-overlapping ones, and the two differ only at positions glued to a
//! word byte on the left, which no whole word starts at.

/// How far ahead of the bytes being classified the search asks the memory
/// system for data. Large enough to cover a memory round trip at the speed
/// the classification runs, small enough to stay inside most files.
#[cfg(target_arch = "x86_64")]
const PREFETCH_DISTANCE: usize = 2048;

/// The tags, classified for the vectorised search.
#[derive(Clone)]
pub(crate) struct TagClassifier {
    /// For each ASCII byte: bit `k` set when some tag has it at offset `k`
    /// (`k < 3`).
    classes: [u8; 128],
    /// How many leading bytes of a tag the classes test: three, or the
    /// length of the shortest tag when that is less.
    width: usize,
    /// The tags, longest first, so that the first one found at a position
    /// is the longest.
    tags: Vec<Tag>,
}

/// A tag with its first eight bytes as a little-endian word and a mask of
/// them, so that checking a position is one load and one compare.
#[derive(Clone)]
struct Tag {
    bytes: Box<[u8]>,
    head: u64,
    head_mask: u64,
}

impl Tag {
    fn new(bytes: &[u8]) -> Tag {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        Tag {
            bytes: bytes.into(),
            head: u64::from_le_bytes(word),
            head_mask: if n == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            },
        }
    }

    /// Whether the tag is at the start of `rest`, given `rest`'s first
    /// eight bytes when it has that many.
    #[inline(always)]
    fn is_at(&self, rest: &[u8], word: Option<u64>) -> bool {
        match word {
            Some(w) if self.bytes.len() <= 8 => w & self.head_mask == self.head,
            _ => rest.starts_with(&self.bytes),
        }
    }
}

impl TagClassifier {
    /// A classifier for `tags`, or `None` when this CPU lacks the
    /// instructions or a tag is empty or holds a byte other than an ASCII
    /// letter, digit or `_`.
    pub(crate) fn new(tags: &[String]) -> Option<TagClassifier> {
        if !cpu_supported() {
            return None;
        }
        TagClassifier::for_tags(tags)
    }

    /// The classifier's tables, whatever the CPU.
    fn for_tags(tags: &[String]) -> Option<TagClassifier> {
        let word_byte = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
        if tags.is_empty()
            || tags
                .iter()
                .any(|t| t.is_empty() || !t.bytes().all(|b| word_byte(&b)))
        {
            return None;
        }
        let mut classes = [0u8; 128];
        for tag in tags {
            for (k, &b) in tag.as_bytes().iter().take(3).enumerate() {
                classes[usize::from(b)] |= 1 << k;
            }
        }
        let width = tags.iter().map(String::len).min().unwrap_or(1).min(3);
        let mut list: Vec<&[u8]> = tags.iter().map(|t| t.as_bytes()).collect();
        list.sort_by_key(|t| std::cmp::Reverse(t.len()));
        list.dedup();
        let list = list.into_iter().map(Tag::new).collect();
        Some(TagClassifier {
            classes,
            width,
            tags: list,
        })
    }

    /// Calls `found(start, end)` for the longest tag at every position of
    /// `hay` that starts one, in increasing order of `start`, and returns
    /// whether the first `nul_probe` bytes of `hay` hold a NUL byte (the
    /// binary-file check, nearly free while the bytes pass by anyway).
    #[inline]
    pub(crate) fn for_each(
        &self,
        hay: &[u8],
        nul_probe: usize,
        mut found: impl FnMut(usize, usize),
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a classifier is only built (by `new`) when the CPU has
        // the instructions `search` is compiled for.
        unsafe {
            match self.width {
                1 => self.search::<1>(hay, nul_probe, &mut found),
                2 => self.search::<2>(hay, nul_probe, &mut found),
                _ => self.search::<3>(hay, nul_probe, &mut found),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (hay, nul_probe, &mut found);
            unreachable!("a classifier is only built on x86-64");
        }
    }

    /// The longest tag at `hay[start..]`, reported to `found`.
    #[inline(always)]
    fn verify(&self, hay: &[u8], start: usize, found: &mut impl FnMut(usize, usize)) {
        let rest = &hay[start..];
        let word = rest.first_chunk::<8>().map(|w| u64::from_le_bytes(*w));
        if let Some(tag) = self.tags.iter().find(|t| t.is_at(rest, word)) {
            found(start, start + tag.bytes.len());
        }
    }

    /// The search over 64-byte blocks. A tag is reported where the block
    /// holds its `W`-th byte, so that a tag crossing into the next block
    /// needs only the class masks of the previous block, not a look ahead.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VBMI.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn search<const W: usize>(
        &self,
        hay: &[u8],
        nul_probe: usize,
        found: &mut impl FnMut(usize, usize),
    ) -> bool {
        use std::arch::x86_64::{
            _MM_HINT_T0, _mm_prefetch, _mm512_loadu_si512, _mm512_maskz_loadu_epi8,
            _mm512_maskz_permutex2var_epi8, _mm512_movepi8_mask, _mm512_set1_epi8,
            _mm512_test_epi8_mask,
        };
        let mut nul = false;
        // SAFETY (whole body): the table loads read the 128 bytes of
        // `classes`; every block load is masked to the bytes of `hay`, and
        // masked-off bytes are neither read nor able to fault; a prefetch
        // is a hint that never faults, and its address is formed with
        // `wrapping_add`, so it need not stay inside `hay`.
        unsafe {
            let low = _mm512_loadu_si512(self.classes.as_ptr().cast());
            let high = _mm512_loadu_si512(self.classes.as_ptr().add(64).cast());
            let (bit0, bit1, bit2) = (
                _mm512_set1_epi8(1),
                _mm512_set1_epi8(2),
                _mm512_set1_epi8(4),
            );
            // The loop below asks for the bytes `PREFETCH_DISTANCE` ahead;
            // ask for the ones before that now, so that every line of the
            // file is requested once and early.
            let head = hay.len().min(PREFETCH_DISTANCE);
            let mut line = 0;
            while line < head {
                _mm_prefetch::<_MM_HINT_T0>(hay.as_ptr().add(line).cast());
                line += 64;
            }
            let (mut prev0, mut prev1) = (0u64, 0u64);
            let mut at = 0;
            while at < hay.len() {
                let rest = hay.len() - at;
                let in_hay = if rest >= 64 {
                    u64::MAX
                } else {
                    (1u64 << rest) - 1
                };
                let block = hay.as_ptr().add(at);
                _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(PREFETCH_DISTANCE).cast());
                let v = _mm512_maskz_loadu_epi8(in_hay, block.cast());
                if at < nul_probe {
                    let probed = if nul_probe - at >= 64 {
                        in_hay
                    } else {
                        in_hay & ((1u64 << (nul_probe - at)) - 1)
                    };
                    nul |= _mm512_test_epi8_mask(v, v) & probed != probed;
                }
                // The permute looks at the low 7 bits of each byte only;
                // bytes >= 0x80 get class 0 through the mask.
                let ascii = !_mm512_movepi8_mask(v);
                let class = _mm512_maskz_permutex2var_epi8(ascii, low, v, high);
                let m0 = _mm512_test_epi8_mask(class, bit0);
                let ends = match W {
                    1 => m0,
                    2 => _mm512_test_epi8_mask(class, bit1) & ((m0 << 1) | (prev0 >> 63)),
                    _ => {
                        let m1 = _mm512_test_epi8_mask(class, bit1);
                        let m2 = _mm512_test_epi8_mask(class, bit2);
                        let ends = m2 & ((m1 << 1) | (prev1 >> 63)) & ((m0 << 2) | (prev0 >> 62));
                        prev1 = m1;
                        ends
                    }
                };
                prev0 = m0;
                let mut ends = ends;
                while ends != 0 {
                    let last = ends.trailing_zeros() as usize;
                    ends &= ends - 1;
                    self.verify(hay, at + last + 1 - W, found);
                }
                at += 64;
            }
        }
        nul
    }
}

impl std::fmt::Debug for TagClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TagClassifier")
            .field("width", &self.width)
            .field("tags", &self.tags.len())
            .finish()
    }
}

/// Whether this CPU has what the vectorised search needs.
fn cpu_supported() -> bool {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi")
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every (start, end) of the longest tag at each position, by brute force.
    fn every_occurrence(tags: &[String], hay: &[u8]) -> Vec<(usize, usize)> {
        (0..hay.len())
            .filter_map(|s| {
                tags.iter()
                    .filter(|t| hay[s..].starts_with(t.as_bytes()))
                    .map(|t| (s, s + t.len()))
                    .max_by_key(|&(_, e)| e)
            })
            .collect()
    }

    fn found(c: &TagClassifier, hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let nul = c.for_each(hay, hay.len(), |s, e| out.push((s, e)));
        assert_eq!(nul, hay.contains(&0));
        out
    }

    fn strings(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn runs_on_cpus_that_have_the_instructions() {
        let tags = strings(&["TODO", "FIXME"]);
        assert_eq!(TagClassifier::new(&tags).is_some(), cpu_supported());
        if cfg!(target_arch = "x86_64") && std::is_x86_feature_detected!("avx512vbmi") {
            assert!(cpu_supported(), "AVX-512 VBMI present but not used");
        }
    }

    #[test]
    fn refuses_tags_it_cannot_serve() {
        for tags in [
            &[][..],
            &[""],
            &["TO DO"],
            &["TODO:"],
            &["ÄNDERN"],
            &["TODO", "@X"],
        ] {
            assert!(
                TagClassifier::for_tags(&strings(tags)).is_none(),
                "{tags:?}"
            );
        }
        assert!(TagClassifier::for_tags(&strings(&["TODO", "x_1"])).is_some());
    }

    #[test]
    fn finds_tags_across_block_boundaries_and_at_the_ends() {
        let Some(c) = TagClassifier::new(&strings(&["TODO", "FIXME", "XXX", "BUG"])) else {
            return assert!(!cpu_supported());
        };
        for len in [0usize, 1, 3, 63, 64, 65, 127, 128, 200] {
            for at in 0..len.saturating_sub(2) {
                let mut hay = vec![b'.'; len];
                for (k, &b) in b"XXX".iter().enumerate() {
                    if at + k < len {
                        hay[at + k] = b;
                    }
                }
                assert_eq!(found(&c, &hay), vec![(at, at + 3)], "len {len} at {at}");
            }
        }
        let hay = "é TODO€FIXME\u{80}BUG XXXX".as_bytes();
        let tags = strings(&["TODO", "FIXME", "XXX", "BUG"]);
        assert_eq!(found(&c, hay), every_occurrence(&tags, hay));
    }

    #[test]
    fn tells_whether_the_probed_head_holds_a_nul() {
        let Some(c) = TagClassifier::new(&strings(&["TODO"])) else {
            return assert!(!cpu_supported());
        };
        for len in [1usize, 63, 64, 65, 200] {
            for nul_at in 0..len {
                let mut hay = vec![b'a'; len];
                hay[nul_at] = 0;
                for probe in [0, 1, 63, 64, 65, 128, 300] {
                    assert_eq!(
                        c.for_each(&hay, probe, |_, _| {}),
                        nul_at < probe,
                        "len {len} NUL at {nul_at} probe {probe}"
                    );
                }
            }
        }
    }

    #[test]
    fn reports_the_longest_tag_and_short_tags() {
        let Some(c) = TagClassifier::new(&strings(&["TODO", "TODOS", "TO"])) else {
            return assert!(!cpu_supported());
        };
        assert_eq!(
            found(&c, b"TODOS TODO TO T"),
            vec![(0, 5), (6, 10), (11, 13)]
        );
        let Some(one) = TagClassifier::new(&strings(&["X"])) else {
            return assert!(!cpu_supported());
        };
        assert_eq!(found(&one, b"aXbX"), vec![(1, 2), (3, 4)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// The classifier finds exactly the longest tag at each position.
        #[test]
        fn matches_a_brute_force_search(
            tags in prop::collection::vec("[A-Z_0-9]{1,6}", 1..6),
            hay in prop::collection::vec(
                prop::sample::select(&b"TODOFIXMEXBUG_ \n\x00\x80\xffaz09"[..]), 0..300),
        ) {
            let Some(c) = TagClassifier::new(&tags) else {
                prop_assert!(!cpu_supported());
                return Ok(());
            };
            prop_assert_eq!(found(&c, &hay), every_occurrence(&tags, &hay));
        }
    }
}
