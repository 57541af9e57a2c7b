//! Two-byte message headers and the order the compiler hands them out in.
//!
//! The same two ASCII bytes start text and binary frames, so both bytes come
//! from a 64-symbol alphabet that needs no escaping anywhere: 4,096 headers,
//! of which the 64 starting with `_` are reserved for runtime control messages.

use std::fmt;

/// Assignment order: `aa`, `ab`, … `az`, `aA`, … `a9`, `a-`, `a_`, `ba`, …
pub const ALPHABET: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// First byte of the headers the runtime keeps for itself.
pub const RESERVED_PREFIX: u8 = b'_';

/// Headers an application can use: 63 first bytes × 64 second bytes.
pub const APPLICATION_HEADERS: usize = 63 * 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Header([u8; 2]);

/// Why a text is not a header. New rules may add reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    #[error("a header is exactly 2 characters, this one has {0}")]
    Length(usize),
    #[error("`{0}` is not a header character (use a-z, A-Z, 0-9, `-` or `_`)")]
    Character(char),
    #[error("headers starting with `_` are reserved for the runtime's control messages")]
    Reserved,
}

impl Header {
    /// Parses an application header as written in a schema or lock file.
    pub fn parse(text: &str) -> Result<Header, HeaderError> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() != 2 {
            return Err(HeaderError::Length(chars.len()));
        }
        for &c in &chars {
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(HeaderError::Character(c));
            }
        }
        let bytes = [chars[0] as u8, chars[1] as u8];
        if bytes[0] == RESERVED_PREFIX {
            return Err(HeaderError::Reserved);
        }
        Ok(Header(bytes))
    }

    /// The header at a position in assignment order (0 is `aa`).
    pub fn from_index(index: usize) -> Option<Header> {
        if index >= APPLICATION_HEADERS {
            return None;
        }
        Some(Header([ALPHABET[index / 64], ALPHABET[index % 64]]))
    }

    /// Position in assignment order.
    pub fn index(self) -> usize {
        let position = |b: u8| ALPHABET.iter().position(|&a| a == b).unwrap_or(0);
        position(self.0[0]) * 64 + position(self.0[1])
    }

    pub fn bytes(self) -> [u8; 2] {
        self.0
    }

    pub fn as_str(&self) -> &str {
        // Both bytes come from ALPHABET, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_order_follows_the_article() {
        let first: Vec<String> = (0..4)
            .filter_map(Header::from_index)
            .map(|h| h.to_string())
            .collect();
        assert_eq!(first, ["aa", "ab", "ac", "ad"]);
        assert_eq!(
            Header::from_index(63).map(|h| h.to_string()).as_deref(),
            Some("a_")
        );
        assert_eq!(
            Header::from_index(64).map(|h| h.to_string()).as_deref(),
            Some("ba")
        );
        assert_eq!(
            Header::from_index(APPLICATION_HEADERS - 1)
                .map(|h| h.to_string())
                .as_deref(),
            Some("-_")
        );
        assert_eq!(Header::from_index(APPLICATION_HEADERS), None);
    }

    #[test]
    fn index_round_trips() {
        for i in 0..APPLICATION_HEADERS {
            let header = Header::from_index(i).expect("in range");
            assert_eq!(header.index(), i);
            assert_eq!(Header::parse(header.as_str()), Ok(header));
        }
    }

    #[test]
    fn rejects_malformed_and_reserved() {
        assert_eq!(Header::parse("a"), Err(HeaderError::Length(1)));
        assert_eq!(Header::parse("abc"), Err(HeaderError::Length(3)));
        assert_eq!(Header::parse("a|"), Err(HeaderError::Character('|')));
        assert_eq!(Header::parse("é1"), Err(HeaderError::Character('é')));
        assert_eq!(Header::parse("_a"), Err(HeaderError::Reserved));
        assert!(Header::parse("a_").is_ok());
    }
}
