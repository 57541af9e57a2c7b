//! Unpadded, strict base64url (RFC 4648 §5).
//!
//! Hand-written rather than taken from the `base64` crate: it is ~60 lines,
//! the strictness rules (no padding, canonical trailing bits) are exactly the
//! SPEC's and easy to see here, and encoding appends straight into the
//! caller's `String` with no intermediate buffer.

const ENCODE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

fn symbol(v: u32) -> char {
    char::from(ENCODE[(v & 63) as usize])
}

/// Appends the unpadded base64url form of `bytes` to `out`.
pub(crate) fn encode(bytes: &[u8], out: &mut String) {
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.push(symbol(n >> 18));
        out.push(symbol(n >> 12));
        out.push(symbol(n >> 6));
        out.push(symbol(n));
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.push(symbol(n >> 18));
            out.push(symbol(n >> 12));
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.push(symbol(n >> 18));
            out.push(symbol(n >> 12));
            out.push(symbol(n >> 6));
        }
        _ => {}
    }
}

/// Number of bytes `len` base64url characters decode to, or `None` when no
/// unpadded encoding has that length.
pub(crate) fn decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        0 => Some(len / 4 * 3),
        2 => Some(len / 4 * 3 + 1),
        3 => Some(len / 4 * 3 + 2),
        _ => None,
    }
}

/// Decodes strictly; `None` for padding, foreign characters, impossible
/// lengths or non-zero unused trailing bits.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(decoded_len(text.len())?);
    let mut chunks = text.chunks_exact(4);
    for c in &mut chunks {
        let n = (value(c[0])? << 18) | (value(c[1])? << 12) | (value(c[2])? << 6) | value(c[3])?;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    match *chunks.remainder() {
        [] => {}
        [a, b] => {
            let n = (value(a)? << 18) | (value(b)? << 12);
            if n & 0xFFFF != 0 {
                return None;
            }
            out.push((n >> 16) as u8);
        }
        [a, b, c] => {
            let n = (value(a)? << 18) | (value(b)? << 12) | (value(c)? << 6);
            if n & 0xFF != 0 {
                return None;
            }
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]);
        }
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(b: &[u8]) -> String {
        let mut s = String::new();
        encode(b, &mut s);
        s
    }

    #[test]
    fn spec_examples() {
        assert_eq!(enc(b""), "");
        assert_eq!(enc(&[0xFF]), "_w");
        assert_eq!(enc(&[0xDE, 0xAD, 0xBE, 0xEF]), "3q2-7w");
        assert_eq!(enc(&[0, 1, 2]), "AAEC");
        assert_eq!(enc(&[0xFB, 0xFF]), "-_8");
    }

    #[test]
    fn round_trips_every_length_and_byte() {
        let data: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
        for len in 0..data.len() {
            let e = enc(&data[..len]);
            assert_eq!(decode(e.as_bytes()).as_deref(), Some(&data[..len]));
        }
    }

    #[test]
    fn rejects_non_canonical_forms() {
        for bad in [
            "_w==", "_x", "3q2-7x", "A", "AAAAA", "ab+c", "ab/c", "ab c", "ab.c", "-_9",
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad}");
        }
    }
}
