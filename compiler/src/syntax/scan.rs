//! The bytes of a schema that are code, as the grammar reads them: `//`
//! comments (doc comments included) and string literals left out. The
//! pre-passes that look at brackets before pest runs (the nesting bound and
//! the split into declarations) share it, so a brace in a comment or a
//! string never counts in one and not the other.

/// Each byte outside comments and strings, with its offset. A string ends at
/// its closing quote or, unterminated, at the end of its line (the grammar's
/// strings never span lines); `\` escapes the byte after it, except a newline.
pub(super) fn code_bytes(text: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            let b = *bytes.get(i)?;
            match b {
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        if bytes[i] == b'\\' && bytes.get(i + 1).is_some_and(|b| *b != b'\n') {
                            i += 1;
                        }
                        i += 1;
                    }
                    // Past the closing quote; an unterminated string's
                    // newline is code again.
                    if i < bytes.len() && bytes[i] == b'"' {
                        i += 1;
                    }
                }
                _ => {
                    i += 1;
                    return Some((i - 1, b));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::code_bytes;

    fn code(text: &str) -> String {
        code_bytes(text).map(|(_, b)| b as char).collect()
    }

    #[test]
    fn comments_and_strings_are_left_out() {
        assert_eq!(code("a { // } x\nb \"{ \\\" }\" c"), "a { \nb  c");
        assert_eq!(code("/// doc {\n}"), "\n}");
    }

    #[test]
    fn an_unterminated_string_ends_at_its_line() {
        assert_eq!(code("\"abc {\n}"), "\n}");
        assert_eq!(code("\"abc \\\n}"), "\n}");
        assert_eq!(code("\"abc"), "");
    }

    #[test]
    fn offsets_are_the_bytes_own() {
        let text = "x \"é\" }";
        let offsets: Vec<usize> = code_bytes(text).map(|(i, _)| i).collect();
        assert_eq!(offsets, [0, 1, 6, 7]);
        assert!(code_bytes(text).all(|(i, b)| text.as_bytes()[i] == b));
    }
}
