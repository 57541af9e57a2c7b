//! Message headers: the 2 bytes in front of every frame.

use std::cmp::Ordering;
use std::fmt;

/// The 64 symbols a header byte may be, in assignment order.
///
/// Restricted to printable, URL-safe ASCII so that a header reads the same in
/// text frames, binary frames, SSE lines and logs (SPEC §1). The order is the
/// order in which the compiler hands out headers: `aa`, `ab`, … `a_`, `ba`, …
pub const ALPHABET: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// Number of distinct headers (64 × 64); raw 2-byte prefixes would give
/// 65,536, but a text frame cannot carry arbitrary bytes.
pub const HEADER_COUNT: u16 = 4096;

/// Index of the first reserved header, `_a`: every header from here on starts
/// with `_` and belongs to the runtime's control messages.
pub const FIRST_RESERVED_INDEX: u16 = 63 * 64;

/// Value of one alphabet symbol, or `None` for any other byte.
const fn symbol_value(b: u8) -> Option<u16> {
    match b {
        b'a'..=b'z' => Some((b - b'a') as u16),
        b'A'..=b'Z' => Some((b - b'A') as u16 + 26),
        b'0'..=b'9' => Some((b - b'0') as u16 + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// A validated message header: 2 bytes from [`ALPHABET`].
///
/// Holding a `Header` proves the bytes are valid, so generated code can
/// declare `const HEADER: Header = Header::new(*b"aa");` and `match` on it
/// (equality is derived, which is what const patterns need). Ordering follows
/// the header index, not ASCII, so sorted headers come out in assignment order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header([u8; 2]);

impl Header {
    /// Builds a header from 2 alphabet bytes.
    ///
    /// Meant for constants: in a `const` item an invalid header is a compile
    /// error. For bytes that come from outside use [`Header::from_bytes`].
    ///
    /// # Panics
    ///
    /// If either byte is not in [`ALPHABET`].
    #[must_use]
    pub const fn new(bytes: [u8; 2]) -> Header {
        match Header::from_bytes(bytes) {
            Some(h) => h,
            None => panic!("header bytes must come from the Tagwire alphabet"),
        }
    }

    /// Validates 2 bytes; `None` when either is not an alphabet symbol.
    #[must_use]
    #[inline]
    pub const fn from_bytes(bytes: [u8; 2]) -> Option<Header> {
        match (symbol_value(bytes[0]), symbol_value(bytes[1])) {
            (Some(_), Some(_)) => Some(Header(bytes)),
            _ => None,
        }
    }

    /// The header with this index (`0` → `aa`, `64` → `ba`); `None` past 4,095.
    #[must_use]
    pub const fn from_index(index: u16) -> Option<Header> {
        if index >= HEADER_COUNT {
            return None;
        }
        Some(Header([
            ALPHABET[(index / 64) as usize],
            ALPHABET[(index % 64) as usize],
        ]))
    }

    /// Position of this header in assignment order (`64 × first + second`).
    #[must_use]
    pub const fn index(self) -> u16 {
        match (symbol_value(self.0[0]), symbol_value(self.0[1])) {
            (Some(hi), Some(lo)) => hi * 64 + lo,
            // Unreachable: every constructor validated both bytes.
            _ => 0,
        }
    }

    /// The 2 header bytes exactly as they appear on the wire.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 2] {
        self.0
    }

    /// The header as text; always 2 ASCII characters.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Alphabet bytes are ASCII, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// Whether the runtime owns this header (first byte `_`), so applications
    /// may never be assigned it.
    #[must_use]
    pub const fn is_reserved(self) -> bool {
        self.0[0] == b'_'
    }
}

impl Ord for Header {
    fn cmp(&self, other: &Self) -> Ordering {
        self.index().cmp(&other.index())
    }
}

impl PartialOrd for Header {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Header({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_for_every_header() {
        for i in 0..HEADER_COUNT {
            let h = Header::from_index(i).expect("in range");
            assert_eq!(h.index(), i);
            assert_eq!(Header::from_bytes(h.to_bytes()), Some(h));
            assert_eq!(h.is_reserved(), i >= FIRST_RESERVED_INDEX);
        }
        assert_eq!(Header::from_index(HEADER_COUNT), None);
    }

    #[test]
    fn assignment_order_matches_spec_table() {
        let cases: [(&[u8; 2], u16); 10] = [
            (b"aa", 0),
            (b"ab", 1),
            (b"az", 25),
            (b"aA", 26),
            (b"a9", 61),
            (b"a-", 62),
            (b"a_", 63),
            (b"ba", 64),
            (b"_a", 4032),
            (b"__", 4095),
        ];
        for (bytes, index) in cases {
            assert_eq!(Header::new(*bytes).index(), index, "{bytes:?}");
        }
        assert!(Header::new(*b"aZ") < Header::new(*b"a0"));
        assert!(Header::new(*b"az") < Header::new(*b"aA"));
    }

    #[test]
    fn rejects_bytes_outside_the_alphabet() {
        for b in [b'|', b'~', b'+', b' ', b'\\', 0, 0xFF, b'=', b'/'] {
            assert_eq!(Header::from_bytes([b'a', b]), None);
            assert_eq!(Header::from_bytes([b, b'a']), None);
        }
    }

    #[test]
    fn display_and_debug() {
        const H: Header = Header::new(*b"aK");
        assert_eq!(H.to_string(), "aK");
        assert_eq!(format!("{H:?}"), "Header(\"aK\")");
        assert_eq!(H.as_str(), "aK");
    }
}
