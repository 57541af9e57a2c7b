//! Hot helpers of the text codec, found by profiling the codec benchmark
//! (bench/codecs): byte searches eight bytes at a time, decimal integer
//! output without `core::fmt`, and a short path for floats that are a
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

/// Index of the first byte of `bytes` equal to `c`.
#[inline]
pub(crate) fn find_byte(bytes: &[u8], c: u8) -> Option<usize> {
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

const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `v` in decimal.
#[inline]
pub(crate) fn push_u64(out: &mut String, mut v: u64) {
    if v < 10 {
        out.push(char::from(b'0' + v as u8));
        return;
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    // Char by char: ASCII pushes are cheaper than validating the buffer as UTF-8.
    out.reserve(buf.len() - i);
    out.extend(buf[i..].iter().map(|&b| char::from(b)));
}

/// Appends `v` in decimal.
#[inline]
pub(crate) fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_u64(out, v.unsigned_abs());
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
    let scaled = v * 1024.0;
    if !v.is_finite() || v.abs() >= 1_048_576.0 || scaled.fract() != 0.0 {
        return false;
    }
    #[allow(clippy::cast_possible_truncation)]
    let n = scaled as i64;
    if n < 0 {
        out.push('-');
    }
    let a = n.unsigned_abs();
    push_u64(out, a >> 10);
    let frac = a & 1023;
    if frac != 0 {
        out.push('.');
        // frac / 1024 = frac · 5^10 / 10^10: ten digits, then drop trailing zeros.
        let mut digits = frac * 9_765_625;
        let mut width = 10;
        while digits.is_multiple_of(10) {
            digits /= 10;
            width -= 1;
        }
        let len = digits.ilog10() + 1;
        for _ in len..width {
            out.push('0');
        }
        push_u64(out, digits);
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
            push_u64(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        for v in [0, -1, -10, i64::MIN, i64::MAX, -128, 42] {
            let mut s = String::new();
            push_i64(&mut s, v);
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
