//! Finds tag words in a file by classifying 64 bytes at a time.
//!
//! Every byte of every file passes through the tag search, so it sets the
//! scanner's floor. A general multi-literal searcher (aho-corasick's Teddy,
//! which ripgrep's regex engine uses too) cannot exploit what tags are:
//! short words of ASCII word bytes. This searcher can. It gives every ASCII
//! byte a class, bit `k` of which says "this byte is the `k`-th byte of
//! some tag", looks up the classes of 64 bytes in one instruction (AVX-512
//! VBMI's two-table byte permute; on CPUs with AVX2 only, one 16-entry
//! shuffle per high nibble that tag bytes have, 32 bytes at a time), and
//! keeps only the positions where the first three classes line up. Those positions are rare in source code
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
//! (letters, digits, `_`), on x86-64 CPUs with AVX-512 VBMI or AVX2.
//! Everything else (other CPUs, such as ARM, and other tags) goes to
//! aho-corasick (see [`crate::extract::Tags`]). For such tag
//! lists both give the same whole-word occurrences: the classifier reports
//! the longest tag at every position, aho-corasick the leftmost-longest
//! non-overlapping ones, and the two differ only at positions glued to a
//! word byte on the left, which no whole word starts at.

// Off x86-64 no classifier is ever built (aho-corasick serves every tag
// list there), so most of this module goes unused.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

/// How far ahead of the bytes being classified the search asks the memory
/// system for data. Large enough to cover a memory round trip at the speed
/// the classification runs, small enough to stay inside most files.
#[cfg(target_arch = "x86_64")]
const PREFETCH_DISTANCE: usize = 2048;

/// The instructions a classifier runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// One 128-entry byte permute classifies 64 bytes (AVX-512 VBMI).
    Avx512Vbmi,
    /// One 16-entry byte shuffle per distinct high nibble of the tag bytes
    /// classifies 32 bytes (AVX2).
    Avx2,
}

/// The tags, classified for the vectorised search.
#[derive(Clone)]
pub(crate) struct TagClassifier {
    engine: Engine,
    /// For each ASCII byte: bit `k` set when some tag has it at offset `k`
    /// (`k < 3`).
    classes: [u8; 128],
    /// `classes` split by high nibble, for the AVX2 shuffles: the high
    /// nibbles that occur in tag bytes, each with the classes of its 16
    /// bytes.
    nibbles: Vec<(u8, [u8; 16])>,
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

/// The class masks of one 64-byte block (bit `i` of `masks[k]`: byte `i`
/// can be the `k`-th byte of a tag) and, while the binary check looks,
/// whether the block holds a NUL byte where it counts.
struct Block {
    masks: [u64; 3],
    nul: bool,
}

impl TagClassifier {
    /// A classifier for `tags` on the best engine this CPU has, or `None`
    /// when it has none or a tag is empty or holds a byte other than an
    /// ASCII letter, digit or `_`.
    pub(crate) fn new(tags: &[String]) -> Option<TagClassifier> {
        TagClassifier::on(best_engine()?, tags)
    }

    /// A classifier for `tags` on `engine`, or `None` when this CPU does
    /// not support the engine or the tags are not all words.
    fn on(engine: Engine, tags: &[String]) -> Option<TagClassifier> {
        let word_byte = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
        if !supported(engine)
            || tags.is_empty()
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
        let nibbles = (0u8..8)
            .filter_map(|high| {
                let start = usize::from(high) * 16;
                let table: [u8; 16] = classes[start..start + 16].try_into().ok()?;
                table.iter().any(|&c| c != 0).then_some((high, table))
            })
            .collect();
        let width = tags.iter().map(String::len).min().unwrap_or(1).min(3);
        let mut list: Vec<&[u8]> = tags.iter().map(|t| t.as_bytes()).collect();
        list.sort_by_key(|t| std::cmp::Reverse(t.len()));
        list.dedup();
        let list = list.into_iter().map(Tag::new).collect();
        Some(TagClassifier {
            engine,
            classes,
            nibbles,
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
        // SAFETY: a classifier is only built (by `on`) for an engine this
        // CPU supports.
        unsafe {
            match (self.engine, self.width) {
                (Engine::Avx512Vbmi, 1) => self.search_avx512::<1>(hay, nul_probe, &mut found),
                (Engine::Avx512Vbmi, 2) => self.search_avx512::<2>(hay, nul_probe, &mut found),
                (Engine::Avx512Vbmi, _) => self.search_avx512::<3>(hay, nul_probe, &mut found),
                (Engine::Avx2, 1) => self.search_avx2::<1>(hay, nul_probe, &mut found),
                (Engine::Avx2, 2) => self.search_avx2::<2>(hay, nul_probe, &mut found),
                (Engine::Avx2, _) => self.search_avx2::<3>(hay, nul_probe, &mut found),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (hay, nul_probe, &mut found);
            unreachable!("a classifier is only built on x86-64");
        }
    }

    /// Runs `classify` over the 64-byte blocks of `hay` and reports the
    /// tags it finds; the part of the search both engines share.
    /// `classify(at, in_hay, probe)` returns the masks of the block at
    /// `hay[at..]`, of which the bytes under `in_hay` belong to `hay` (the
    /// others must have class 0), and looks for a NUL byte under `probe`.
    ///
    /// A tag is reported where the block holds its `W`-th byte, so that a
    /// tag crossing into the next block needs only the masks of the
    /// previous block, not a look ahead. The search asks for the first
    /// [`PREFETCH_DISTANCE`] bytes up front and then for the bytes that far
    /// ahead of each block, so that every line is requested once, early.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn blocks<const W: usize>(
        &self,
        hay: &[u8],
        nul_probe: usize,
        found: &mut impl FnMut(usize, usize),
        mut classify: impl FnMut(usize, u64, u64) -> Block,
    ) -> bool {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let prefetch = |offset: usize| {
            // SAFETY: SSE is part of the x86-64 baseline; a prefetch is a
            // hint that never faults, and the address is formed with
            // `wrapping_add`, so it need not stay inside `hay`.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(hay.as_ptr().wrapping_add(offset).cast());
            }
        };
        let mut line = 0;
        while line < hay.len().min(PREFETCH_DISTANCE) {
            prefetch(line);
            line += 64;
        }
        let mut nul = false;
        let (mut prev0, mut prev1) = (0u64, 0u64);
        let mut at = 0;
        while at < hay.len() {
            let rest = hay.len() - at;
            let in_hay = if rest >= 64 {
                u64::MAX
            } else {
                (1u64 << rest) - 1
            };
            let probe = if at >= nul_probe {
                0
            } else if nul_probe - at >= 64 {
                in_hay
            } else {
                in_hay & ((1u64 << (nul_probe - at)) - 1)
            };
            prefetch(at + PREFETCH_DISTANCE);
            let Block {
                masks: [m0, m1, m2],
                nul: block_nul,
            } = classify(at, in_hay, probe);
            nul |= block_nul;
            let ends = match W {
                1 => m0,
                2 => m1 & ((m0 << 1) | (prev0 >> 63)),
                _ => m2 & ((m1 << 1) | (prev1 >> 63)) & ((m0 << 2) | (prev0 >> 62)),
            };
            prev0 = m0;
            prev1 = m1;
            if ends != 0 {
                self.verify_block::<W>(hay, at, ends, found);
            }
            at += 64;
        }
        nul
    }

    /// Verifies the positions a block's masks single out: bit `i` of
    /// `ends` set means a tag may end its first `W` bytes at `at + i`.
    /// Kept out of the block loop, which runs far more often, so that the
    /// loop keeps its state in registers.
    #[cold]
    #[inline(never)]
    fn verify_block<const W: usize>(
        &self,
        hay: &[u8],
        at: usize,
        mut ends: u64,
        found: &mut impl FnMut(usize, usize),
    ) {
        while ends != 0 {
            let last = ends.trailing_zeros() as usize;
            ends &= ends - 1;
            self.verify(hay, at + last + 1 - W, found);
        }
    }

    /// The longest tag at `hay[start..]`, reported to `found`.
    #[inline(always)]
    fn verify(&self, hay: &[u8], start: usize, found: &mut impl FnMut(usize, usize)) {
        let Some(rest) = hay.get(start..) else {
            return;
        };
        let word = rest.first_chunk::<8>().map(|w| u64::from_le_bytes(*w));
        if let Some(tag) = self.tags.iter().find(|t| t.is_at(rest, word)) {
            found(start, start + tag.bytes.len());
        }
    }

    /// [`TagClassifier::blocks`] with AVX-512: one byte permute over the
    /// 128 classes classifies 64 bytes.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VBMI.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn search_avx512<const W: usize>(
        &self,
        hay: &[u8],
        nul_probe: usize,
        found: &mut impl FnMut(usize, usize),
    ) -> bool {
        use std::arch::x86_64::{
            _mm512_loadu_si512, _mm512_maskz_loadu_epi8, _mm512_maskz_permutex2var_epi8,
            _mm512_movepi8_mask, _mm512_set1_epi8, _mm512_test_epi8_mask,
        };
        // SAFETY: the table loads read the 128 bytes of `classes`.
        let (low, high) = unsafe {
            (
                _mm512_loadu_si512(self.classes.as_ptr().cast()),
                _mm512_loadu_si512(self.classes.as_ptr().add(64).cast()),
            )
        };
        let bits = [
            _mm512_set1_epi8(1),
            _mm512_set1_epi8(2),
            _mm512_set1_epi8(4),
        ];
        self.blocks::<W>(hay, nul_probe, found, |at, in_hay, probe| {
            // SAFETY: the load is masked to the bytes of `hay`; masked-off
            // bytes are neither read nor able to fault.
            let v = unsafe { _mm512_maskz_loadu_epi8(in_hay, hay.as_ptr().add(at).cast()) };
            // The permute looks at the low 7 bits of each byte only;
            // bytes >= 0x80 get class 0 through the mask.
            let ascii = !_mm512_movepi8_mask(v);
            let class = _mm512_maskz_permutex2var_epi8(ascii, low, v, high);
            Block {
                masks: [
                    _mm512_test_epi8_mask(class, bits[0]),
                    _mm512_test_epi8_mask(class, bits[1]),
                    _mm512_test_epi8_mask(class, bits[2]),
                ],
                nul: probe != 0 && _mm512_test_epi8_mask(v, v) & probe != probe,
            }
        })
    }

    /// [`TagClassifier::blocks`] with AVX2: for each high nibble that tag
    /// bytes have, a 16-entry shuffle gives the classes of the bytes with
    /// that high nibble; 32 bytes at a time, two per block.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn search_avx2<const W: usize>(
        &self,
        hay: &[u8],
        nul_probe: usize,
        found: &mut impl FnMut(usize, usize),
    ) -> bool {
        use std::arch::x86_64::{
            __m256i, _mm_loadu_si128, _mm256_and_si256, _mm256_broadcastsi128_si256,
            _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
            _mm256_set1_epi8, _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_slli_epi16,
            _mm256_srli_epi16,
        };
        let mut tables = [_mm256_setzero_si256(); 8];
        let mut highs = [_mm256_setzero_si256(); 8];
        for (k, (high, table)) in self.nibbles.iter().enumerate().take(8) {
            // SAFETY: the load reads the 16 bytes of `table`.
            tables[k] =
                _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(table.as_ptr().cast()) });
            highs[k] = _mm256_set1_epi8(*high as i8);
        }
        let n = self.nibbles.len().min(8);
        let low_nibble = _mm256_set1_epi8(0x0F);
        let zero = _mm256_setzero_si256();
        // Masks of 32 bytes: bit `k` of each byte's class moved to its top
        // bit (a 16-bit shift cannot carry into a top bit from the byte
        // below by 7 or fewer places), and the NUL bytes.
        let half = |v: __m256i| -> ([u64; 3], u64) {
            let high = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low_nibble);
            let mut class = zero;
            for k in 0..n {
                // The shuffle gives 0 for bytes >= 0x80, whose high nibble
                // matches none of the tag bytes' anyway.
                let hit = _mm256_cmpeq_epi8(high, highs[k]);
                class = _mm256_or_si256(
                    class,
                    _mm256_and_si256(_mm256_shuffle_epi8(tables[k], v), hit),
                );
            }
            let bit = |m: i32| u64::from(m as u32);
            (
                [
                    bit(_mm256_movemask_epi8(_mm256_slli_epi16::<7>(class))),
                    bit(_mm256_movemask_epi8(_mm256_slli_epi16::<6>(class))),
                    bit(_mm256_movemask_epi8(_mm256_slli_epi16::<5>(class))),
                ],
                bit(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, zero))),
            )
        };
        self.blocks::<W>(hay, nul_probe, found, |at, in_hay, probe| {
            let (lo, hi) = if in_hay == u64::MAX {
                // SAFETY: the whole block, `hay[at..at + 64]`, is in `hay`.
                unsafe {
                    let p = hay.as_ptr().add(at);
                    (
                        _mm256_loadu_si256(p.cast()),
                        _mm256_loadu_si256(p.add(32).cast()),
                    )
                }
            } else {
                // The last, partial block, from a zeroed copy; the bytes
                // past `hay` are masked off by `blocks`.
                let mut tail = [0u8; 64];
                let rest = &hay[at..];
                tail[..rest.len()].copy_from_slice(rest);
                // SAFETY: both loads read inside `tail`.
                unsafe {
                    (
                        _mm256_loadu_si256(tail.as_ptr().cast()),
                        _mm256_loadu_si256(tail.as_ptr().add(32).cast()),
                    )
                }
            };
            let (lo_masks, lo_nul) = half(lo);
            let (hi_masks, hi_nul) = half(hi);
            Block {
                masks: [0, 1, 2].map(|k| lo_masks[k] | (hi_masks[k] << 32)),
                nul: (lo_nul | (hi_nul << 32)) & probe != 0,
            }
        })
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

/// The fastest engine this CPU supports, if any.
pub(crate) fn best_engine() -> Option<Engine> {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi")
        {
            return Some(Engine::Avx512Vbmi);
        }
        if std::is_x86_feature_detected!("avx2") {
            return Some(Engine::Avx2);
        }
    }
    None
}

/// Whether this CPU can run `engine`.
fn supported(engine: Engine) -> bool {
    matches!(
        (best_engine(), engine),
        (Some(Engine::Avx512Vbmi), _) | (Some(Engine::Avx2), Engine::Avx2)
    )
}

/// The engines this CPU supports, fastest first.
#[cfg(test)]
fn engines() -> Vec<Engine> {
    [Engine::Avx512Vbmi, Engine::Avx2]
        .into_iter()
        .filter(|&e| supported(e))
        .collect()
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

    /// A classifier for `tags` on each engine this CPU supports.
    fn classifiers(tags: &[&str]) -> Vec<TagClassifier> {
        let tags = strings(tags);
        engines()
            .into_iter()
            .map(|e| TagClassifier::on(e, &tags).expect("word tags"))
            .collect()
    }

    #[test]
    fn runs_on_the_best_engine_of_this_cpu() {
        let tags = strings(&["TODO", "FIXME"]);
        let built = TagClassifier::new(&tags).map(|c| c.engine);
        assert_eq!(built, best_engine());
        if cfg!(target_arch = "x86_64") {
            if std::is_x86_feature_detected!("avx512vbmi") {
                assert_eq!(built, Some(Engine::Avx512Vbmi));
            } else if std::is_x86_feature_detected!("avx2") {
                assert_eq!(built, Some(Engine::Avx2));
            }
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
            for engine in [Engine::Avx512Vbmi, Engine::Avx2] {
                assert!(
                    TagClassifier::on(engine, &strings(tags)).is_none(),
                    "{tags:?}"
                );
            }
        }
        for engine in [Engine::Avx512Vbmi, Engine::Avx2] {
            let built = TagClassifier::on(engine, &strings(&["TODO", "x_1"])).is_some();
            assert_eq!(built, supported(engine), "{engine:?}");
        }
    }

    #[test]
    fn finds_tags_across_block_boundaries_and_at_the_ends() {
        let tags = ["TODO", "FIXME", "XXX", "BUG"];
        for c in classifiers(&tags) {
            for len in [0usize, 1, 3, 31, 32, 33, 63, 64, 65, 127, 128, 200] {
                for at in 0..len.saturating_sub(2) {
                    let mut hay = vec![b'.'; len];
                    hay[at..at + 3].copy_from_slice(b"XXX");
                    assert_eq!(
                        found(&c, &hay),
                        vec![(at, at + 3)],
                        "{:?} len {len} at {at}",
                        c.engine
                    );
                }
            }
            let hay = "é TODO€FIXME\u{80}BUG XXXX".as_bytes();
            assert_eq!(found(&c, hay), every_occurrence(&strings(&tags), hay));
        }
    }

    #[test]
    fn tells_whether_the_probed_head_holds_a_nul() {
        for c in classifiers(&["TODO"]) {
            for len in [1usize, 31, 32, 33, 63, 64, 65, 200] {
                for nul_at in 0..len {
                    let mut hay = vec![b'a'; len];
                    hay[nul_at] = 0;
                    for probe in [0, 1, 31, 32, 63, 64, 65, 128, 300] {
                        assert_eq!(
                            c.for_each(&hay, probe, |_, _| {}),
                            nul_at < probe,
                            "{:?} len {len} NUL at {nul_at} probe {probe}",
                            c.engine
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn reports_the_longest_tag_and_short_tags() {
        for c in classifiers(&["TODO", "TODOS", "TO"]) {
            assert_eq!(
                found(&c, b"TODOS TODO TO T"),
                vec![(0, 5), (6, 10), (11, 13)]
            );
        }
        for c in classifiers(&["X"]) {
            assert_eq!(found(&c, b"aXbX"), vec![(1, 2), (3, 4)]);
        }
    }

    #[test]
    fn every_high_nibble_of_word_bytes_works() {
        // Digits (0x3_), upper case (0x4_, 0x5_, with `_`), lower case
        // (0x6_, 0x7_): the AVX2 engine keeps a table per high nibble.
        let tags = ["0a_", "Zz9", "todo", "_x"];
        for c in classifiers(&tags) {
            let hay = b"0a_ Zz9 todo _x 0A_ zZ9 Todo _X";
            assert_eq!(found(&c, hay), every_occurrence(&strings(&tags), hay));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// Each engine finds exactly the longest tag at each position.
        #[test]
        fn matches_a_brute_force_search(
            tags in prop::collection::vec("[A-Za-z_0-9]{1,6}", 1..6),
            hay in prop::collection::vec(
                prop::sample::select(&b"TODOFIXMEXBUG_ \n\x00\x80\xffaz09"[..]), 0..300),
        ) {
            for engine in engines() {
                let c = TagClassifier::on(engine, &tags).expect("word tags");
                prop_assert_eq!(found(&c, &hay), every_occurrence(&tags, &hay), "{:?}", engine);
            }
        }
    }
}
