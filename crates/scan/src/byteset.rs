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
    __m128i, _mm_add_epi64, _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_movemask_epi8,
    _mm_or_si128, _mm_sad_epu8, _mm_set1_epi8, _mm_setzero_si128, _mm_srli_si128, _mm_sub_epi8,
};

/// Counts the bytes of `hay` equal to `needle`.
pub(crate) fn count_byte(hay: &[u8], needle: u8) -> usize {
    #[cfg(target_arch = "x86_64")]
    let (counted, rest) = count_byte_sse2(hay, needle);
    #[cfg(not(target_arch = "x86_64"))]
    let (counted, rest) = (0usize, hay);
    counted + rest.iter().filter(|&&b| b == needle).count()
}

/// Counts `needle` in the longest prefix of `hay` made of whole 16-byte
/// blocks; returns that count and the rest of `hay`.
#[cfg(target_arch = "x86_64")]
fn count_byte_sse2(hay: &[u8], needle: u8) -> (usize, &[u8]) {
    let len = hay.len();
    let mut i = 0;
    // SAFETY: SSE2 is part of the x86-64 baseline; every load reads the
    // 16 bytes at `i..i + 16` with `i + 16 <= len`.
    let total = unsafe {
        let n = _mm_set1_epi8(i8::from_ne_bytes([needle]));
        let zero = _mm_setzero_si128();
        let mut sums = zero;
        while i + 16 <= len {
            // Each lane of `acc` counts at most 255 matches.
            let mut acc = zero;
            let mut k = 0;
            while k < 255 && i + 16 <= len {
                let v = _mm_loadu_si128(hay.as_ptr().add(i).cast::<__m128i>());
                acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, n));
                i += 16;
                k += 1;
            }
            sums = _mm_add_epi64(sums, _mm_sad_epu8(acc, zero));
        }
        let lo = _mm_cvtsi128_si64(sums) as u64;
        let hi = _mm_cvtsi128_si64(_mm_srli_si128::<8>(sums)) as u64;
        usize::try_from(lo + hi).unwrap_or(usize::MAX)
    };
    (total, &hay[i..])
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
    use super::{ByteSet, count_byte};

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
            assert_eq!(
                count_byte(&s, b'\n'),
                s.iter().filter(|&&b| b == b'\n').count()
            );
            let all = vec![b'\n'; n];
            assert_eq!(count_byte(&all, b'\n'), n);
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
