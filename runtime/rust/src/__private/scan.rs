//! Hot helpers of the text codec, found by profiling the codec benchmark
//! (bench/codecs): byte searches eight bytes at a time (memchr's vector
//! loops for long strings), decimal integer
//! output without `core::fmt` (itoa: its digits need no UTF-8 check, where
//! building them here would either check them or push them one by one), and a short path for floats that are a
//! multiple of 1/1024 (pixels, half and quarter pixels, pressures in 1/256).

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` equal to `c`, except that bytes above a
/// match may be false positives: only the lowest set bit is exact.
#[inline]
fn eq_mask(x: u64, c: u8) -> u64 {
    let y = x ^ (LO * u64::from(c));
    y.wrapping_sub(LO) & !y & HI
}

#[inline]
fn word(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_le_bytes(w)
}

/// From this length on a search goes to memchr's vector loops; below it
/// the call and their set-up cost more than the eight-byte loop here.
const VECTOR_FROM: usize = 64;

/// Index of the first byte of `bytes` equal to `c`.
#[inline]
pub(crate) fn find_byte(bytes: &[u8], c: u8) -> Option<usize> {
    if bytes.len() >= VECTOR_FROM {
        return memchr::memchr(c, bytes);
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let m = eq_mask(word(chunk), c);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == c)
        .map(|i| at + i)
}

/// Index of the first byte of `bytes` equal to any of `set`.
#[inline]
pub(crate) fn find_any(bytes: &[u8], set: [u8; 4]) -> Option<usize> {
    if bytes.len() >= VECTOR_FROM {
        // memchr searches for three bytes at most: the fourth is looked for
        // only before the first of the other three.
        let first = memchr::memchr3(set[0], set[1], set[2], bytes);
        let before = first.map_or(bytes, |i| &bytes[..i]);
        return memchr::memchr(set[3], before).or(first);
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let x = word(chunk);
        let m = eq_mask(x, set[0]) | eq_mask(x, set[1]) | eq_mask(x, set[2]) | eq_mask(x, set[3]);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| set.contains(b))
        .map(|i| at + i)
}

/// Appends `v` in decimal, formatted at its own width (32-bit values take
/// 32-bit divisions).
#[inline]
pub(crate) fn push_int<T: itoa::Integer>(out: &mut String, v: T) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Writes a finite, non-negative-zero `v` exactly as JavaScript's
/// `Number#toString` would, when `v` is a multiple of 1/1024 below 2^20 in
/// magnitude, and returns whether it did.
///
/// Such a value is `n / 1024`: its exact decimal has at most 10 fractional
/// digits, the last of them a 5 when there are any. No shorter decimal reads
/// back to it: one with fewer digits is at least 5·10⁻¹⁰ away, while doubles
/// below 2^20 are at most 2^-32 (2.3·10⁻¹⁰) apart. So the exact decimal is
/// the shortest round-trip spelling, and JavaScript writes it in fixed
/// notation (it lies between 10⁻⁷ and 10²¹).
#[inline]
pub(crate) fn push_dyadic(out: &mut String, v: f64) -> bool {
    if !v.is_finite() || v.abs() >= 1_048_576.0 {
        return false;
    }
    let scaled = v * 1024.0;
    // |scaled| < 2^30, so the cast truncates exactly, and comparing back
    // tests for a fraction without `f64::fract` (a libm call on baseline
    // x86-64, which has no rounding instruction).
    #[allow(clippy::cast_possible_truncation)]
    let n = scaled as i64;
    if n as f64 != scaled {
        return false;
    }
    if n < 0 {
        out.push('-');
    }
    let a = n.unsigned_abs();
    // Below 2^20 (checked above), so the integer part fits a u32.
    push_int(out, (a >> 10) as u32);
    let frac = a & 1023;
    if frac != 0 {
        out.push('.');
        // frac / 1024 = m / 2^k with m odd, = m · 5^k / 10^k: exactly k
        // fractional digits, the last of them not 0, so no trailing zeros
        // to strip.
        let tz = frac.trailing_zeros();
        let k = 10 - tz;
        let digits = (frac >> tz) * 5u64.pow(k);
        for _ in digits.ilog10() + 1..k {
            out.push('0');
        }
        push_int(out, digits);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_agree_with_iterators() {
        let text = b"abc|def\\ghijklmnop|qrstuvwxyz\r0123456789\nxyz";
        for start in 0..text.len() {
            for end in start..=text.len() {
                let s = &text[start..end];
                assert_eq!(find_byte(s, b'|'), s.iter().position(|&b| b == b'|'));
                let set = [b'\\', b'|', b'\n', b'\r'];
                assert_eq!(find_any(s, set), s.iter().position(|b| set.contains(b)));
            }
        }
        // Long enough for the vector search: each byte of the set alone at
        // every position, and ahead of or behind another one of the set.
        for len in [VECTOR_FROM, 200] {
            for at in 0..len {
                for (i, &c) in [b'\\', b'|', b'\n', b'\r'].iter().enumerate() {
                    let mut s = vec![b'a'; len];
                    s[at] = c;
                    if at + 7 < len {
                        s[at + 7] = [b'\r', b'\n', b'|', b'\\'][i];
                    }
                    let set = [b'\\', b'|', b'\n', b'\r'];
                    assert_eq!(find_any(&s, set), Some(at), "{len} {at} {c}");
                    assert_eq!(find_byte(&s, c), s.iter().position(|&b| b == c));
                }
                assert_eq!(
                    find_any(&vec![b'a'; len], [b'\\', b'|', b'\n', b'\r']),
                    None
                );
            }
        }
        // A byte just above a match must not hide the match (borrow across bytes).
        assert_eq!(find_byte(&[0x7C, 0x7D, 0, 0, 0, 0, 0, 0], 0x7C), Some(0));
        assert_eq!(find_byte(&[1, 0x7B, 0x7C, 0, 0, 0, 0, 0], 0x7C), Some(2));
    }

    #[test]
    fn integers() {
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            12345,
            u64::MAX,
            u64::MAX - 1,
        ] {
            let mut s = String::new();
            push_int(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        for v in [0, -1, -10, i64::MIN, i64::MAX, -128, 42] {
            let mut s = String::new();
            push_int(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }

    #[test]
    fn dyadic_floats_match_ryu_js() {
        let check = |v: f64| {
            let mut s = String::new();
            if push_dyadic(&mut s, v) {
                assert_eq!(s, ryu_js::Buffer::new().format(v), "{v:e}");
            }
        };
        for n in -5000i64..5000 {
            check(n as f64 / 1024.0);
            check(n as f64 / 8.0);
            check(n as f64 * 211.0);
        }
        for n in [
            1_048_575.0,
            1_048_575.999_023_437_5,
            1_048_576.0,
            0.1,
            1e-7,
            3.5e20,
        ] {
            check(n);
            check(-n);
        }
        let mut s = String::new();
        assert!(!push_dyadic(&mut s, 0.1));
        assert!(!push_dyadic(&mut s, 1_048_576.0));
        assert!(s.is_empty());
    }
}
