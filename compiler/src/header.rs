//! What the compiler adds to the runtime's message headers: reading a header
//! written in a schema or lock file, with a reason a diagnostic can show.
//!
//! The header itself, its 64-symbol alphabet and the assignment order are the
//! runtime's (`tagwire::Header`): generated code, the derive and the compiler
//! must agree on them to the byte, so there is one definition of them.

pub use tagwire::{ALPHABET, Header};

/// Headers an application can use: 63 first bytes × 64 second bytes; the
/// 64 starting with `_` are reserved for runtime control messages.
pub const APPLICATION_HEADERS: usize = tagwire::FIRST_RESERVED_INDEX as usize;

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

/// Parses an application header as written in a schema or lock file.
pub fn parse(text: &str) -> Result<Header, HeaderError> {
    let chars: Vec<char> = text.chars().collect();
    let &[first, second] = chars.as_slice() else {
        return Err(HeaderError::Length(chars.len()));
    };
    let symbol = |c: char| {
        u8::try_from(c)
            .ok()
            .filter(|b| ALPHABET.contains(b))
            .ok_or(HeaderError::Character(c))
    };
    let bytes = [symbol(first)?, symbol(second)?];
    let header = Header::from_bytes(bytes).ok_or(HeaderError::Character(first))?;
    if header.is_reserved() {
        return Err(HeaderError::Reserved);
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_headers_end_where_the_reserved_ones_begin() {
        let last = u16::try_from(APPLICATION_HEADERS - 1).expect("fits");
        assert_eq!(
            Header::from_index(last).map(|h| h.to_string()).as_deref(),
            Some("-_")
        );
        assert!(Header::from_index(last + 1).is_some_and(Header::is_reserved));
    }

    #[test]
    fn parse_round_trips_every_application_header() {
        for i in 0..tagwire::FIRST_RESERVED_INDEX {
            let header = Header::from_index(i).expect("in range");
            assert_eq!(parse(header.as_str()), Ok(header));
        }
    }

    #[test]
    fn rejects_malformed_and_reserved() {
        assert_eq!(parse("a"), Err(HeaderError::Length(1)));
        assert_eq!(parse("abc"), Err(HeaderError::Length(3)));
        assert_eq!(parse("a|"), Err(HeaderError::Character('|')));
        assert_eq!(parse("é1"), Err(HeaderError::Character('é')));
        assert_eq!(parse("_|"), Err(HeaderError::Character('|')));
        assert_eq!(parse("_a"), Err(HeaderError::Reserved));
        assert!(parse("a_").is_ok());
    }
}
