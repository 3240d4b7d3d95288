//! Fast search for the first occurrence of any byte of a small set.
//!
//! The lexer spends its time jumping from one "interesting" byte (a quote,
//! a comment marker's first byte, ...) to the next. Calling `memchr` for
//! each jump costs more than the jump itself when the distance is a few
//! dozen bytes, so this searcher is inlined and compares 16 bytes at a time
//! with SSE2 (always available on x86-64), with a lookup table for the tail
//! and for other architectures.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
};

/// Counts the occurrences of one byte (line counting).
pub(crate) struct ByteCounter {
    /// memchr's AVX2 counter, when the CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
    portable: memchr::arch::all::memchr::One,
}

impl ByteCounter {
    pub(crate) fn new(needle: u8) -> Self {
        ByteCounter {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(needle),
            portable: memchr::arch::all::memchr::One::new(needle),
        }
    }

    /// Counts the bytes of `hay` equal to the needle.
    pub(crate) fn count(&self, hay: &[u8]) -> usize {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = &self.avx2 {
            return avx2.count(hay);
        }
        self.portable.count(hay)
    }
}

/// A set of bytes to search for.
#[derive(Clone)]
pub(crate) struct ByteSet {
    table: [bool; 256],
    #[cfg(target_arch = "x86_64")]
    needles: [__m128i; 8],
    /// Number of distinct bytes; the vector path handles up to 8.
    n: usize,
}

impl ByteSet {
    /// The set of the given bytes.
    pub(crate) fn new(bytes: &[u8]) -> ByteSet {
        let mut table = [false; 256];
        let mut distinct: Vec<u8> = Vec::with_capacity(8);
        for &b in bytes {
            if !table[b as usize] {
                table[b as usize] = true;
                distinct.push(b);
            }
        }
        let first = distinct.first().copied().unwrap_or(0);
        #[cfg(target_arch = "x86_64")]
        let needles: [__m128i; 8] = std::array::from_fn(|k| {
            let b = distinct.get(k).copied().unwrap_or(first);
            // SAFETY: SSE2 is part of the x86-64 baseline, so the
            // instruction is always available.
            unsafe { _mm_set1_epi8(i8::from_ne_bytes([b])) }
        });
        #[cfg(not(target_arch = "x86_64"))]
        let _ = first;
        ByteSet {
            table,
            #[cfg(target_arch = "x86_64")]
            needles,
            n: distinct.len(),
        }
    }

    /// Offset of the first byte of `hay` in the set.
    #[inline(always)]
    pub(crate) fn find(&self, hay: &[u8]) -> Option<usize> {
        if self.n == 0 {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if self.n <= 8 && hay.len() >= 16 {
            return self.find_sse2(hay);
        }
        hay.iter().position(|&b| self.table[b as usize])
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn mask(&self, hay: &[u8], at: usize) -> u32 {
        debug_assert!(at + 16 <= hay.len());
        let n = &self.needles;
        // SAFETY: SSE2 is part of the x86-64 baseline, so the intrinsics are
        // always available; callers guarantee `at + 16 <= hay.len()`, so the
        // unaligned 16-byte load reads only bytes of `hay`.
        unsafe {
            let v = _mm_loadu_si128(hay.as_ptr().add(at).cast::<__m128i>());
            let mut m = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, n[0]), _mm_cmpeq_epi8(v, n[1])),
                _mm_or_si128(_mm_cmpeq_epi8(v, n[2]), _mm_cmpeq_epi8(v, n[3])),
            );
            if self.n > 4 {
                m = _mm_or_si128(
                    m,
                    _mm_or_si128(
                        _mm_or_si128(_mm_cmpeq_epi8(v, n[4]), _mm_cmpeq_epi8(v, n[5])),
                        _mm_or_si128(_mm_cmpeq_epi8(v, n[6]), _mm_cmpeq_epi8(v, n[7])),
                    ),
                );
            }
            _mm_movemask_epi8(m) as u32
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn find_sse2(&self, hay: &[u8]) -> Option<usize> {
        let len = hay.len();
        let mut i = 0;
        while i + 16 <= len {
            let m = self.mask(hay, i);
            if m != 0 {
                return Some(i + m.trailing_zeros() as usize);
            }
            i += 16;
        }
        if i < len {
            // Overlapping final load; ignore the bytes already checked.
            let start = len - 16;
            let m = self.mask(hay, start) >> (i - start);
            if m != 0 {
                return Some(i + m.trailing_zeros() as usize);
            }
        }
        None
    }
}

impl std::fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes: Vec<u8> = (0u8..=255).filter(|&b| self.table[b as usize]).collect();
        f.debug_struct("ByteSet").field("bytes", &bytes).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{ByteCounter, ByteSet};

    #[test]
    fn counts_like_a_scalar_count() {
        for n in [
            0usize,
            1,
            15,
            16,
            17,
            255 * 16 - 1,
            255 * 16,
            255 * 16 + 33,
            20_000,
        ] {
            let s: Vec<u8> = (0..n)
                .map(|i| if i % 3 == 0 { b'\n' } else { b'a' })
                .collect();
            let lines = ByteCounter::new(b'\n');
            assert_eq!(lines.count(&s), s.iter().filter(|&&b| b == b'\n').count());
            let all = vec![b'\n'; n];
            assert_eq!(lines.count(&all), n);
        }
    }

    #[test]
    fn finds_like_a_scalar_search() {
        let sets: [&[u8]; 4] = [b"", b"\"", b"/\"'`", b"#'\"<\\=?`["];
        let hay: Vec<u8> = (0..300u32).map(|i| (i * 7 % 97 + 20) as u8).collect();
        for set in sets {
            let bs = ByteSet::new(set);
            for start in 0..hay.len() {
                for end in start..hay.len().min(start + 40) {
                    let h = &hay[start..end];
                    assert_eq!(
                        bs.find(h),
                        h.iter().position(|b| set.contains(b)),
                        "{set:?} {start}..{end}"
                    );
                }
            }
        }
    }
}
