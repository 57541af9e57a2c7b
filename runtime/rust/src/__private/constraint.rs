//! What generated `validate` functions call (SPEC §6.4): one function per
//! kind of constraint, returning a [`Violation`] whose path is built only
//! when the value fails.

use crate::Violation;

pub use regex::Regex;

/// Largest compiled pattern, as the compiler checked it: a pattern the
/// compiler accepted always compiles.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a pattern the compiler checked (`None` cannot happen, and then
/// every value fails the pattern rather than the program panicking).
#[must_use]
pub fn compile_pattern(pattern: &str) -> Option<Regex> {
    regex::RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .ok()
}

/// A string's length as `@len` counts it: Unicode scalar values.
#[must_use]
pub fn char_count(s: &str) -> usize {
    s.chars().count()
}

/// `@len`: `n` within `min..=max`.
///
/// # Errors
///
/// `length N is outside R`, at `path()`.
#[inline]
pub fn check_len(
    n: usize,
    min: u64,
    max: Option<u64>,
    range: &'static str,
    path: impl FnOnce() -> String,
) -> Result<(), Violation> {
    let n64 = n as u64;
    if n64 >= min && max.is_none_or(|m| n64 <= m) {
        return Ok(());
    }
    Err(Violation {
        path: path(),
        message: format!("length {n} is outside {range}"),
    })
}

/// `@range` on an integer.
///
/// # Errors
///
/// `V is outside R`, at `path()`.
#[inline]
pub fn check_int(
    v: i128,
    min: Option<i128>,
    max: Option<i128>,
    range: &'static str,
    path: impl FnOnce() -> String,
) -> Result<(), Violation> {
    if min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m) {
        return Ok(());
    }
    Err(Violation {
        path: path(),
        message: format!("{v} is outside {range}"),
    })
}

/// `@range` on a float: NaN is outside every range.
///
/// # Errors
///
/// `V is outside R` (`V` as the text encoding writes it), at `path()`.
#[inline]
pub fn check_float(
    v: f64,
    min: Option<f64>,
    max: Option<f64>,
    range: &'static str,
    path: impl FnOnce() -> String,
) -> Result<(), Violation> {
    if min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m) {
        return Ok(());
    }
    let mut text = String::new();
    super::codec::Writer::f64(
        &mut super::text::TextWriter::new(&mut text, crate::Header::new(*b"aa")),
        v,
    );
    Err(Violation {
        path: path(),
        message: format!("{} is outside {range}", &text[3..]),
    })
}

/// `@pattern`: the pattern matches somewhere in `s`.
///
/// # Errors
///
/// `does not match "P"`, at `path()`.
pub fn check_pattern(
    pattern: &Option<Regex>,
    s: &str,
    quoted: &'static str,
    path: impl FnOnce() -> String,
) -> Result<(), Violation> {
    if pattern.as_ref().is_some_and(|re| re.is_match(s)) {
        return Ok(());
    }
    Err(Violation {
        path: path(),
        message: format!("does not match {quoted}"),
    })
}

/// A violation inside a struct or union value, seen from the field that holds it.
#[must_use]
pub fn within(prefix: String, inner: Violation) -> Violation {
    let path = if inner.path.is_empty() {
        prefix
    } else if inner.path.starts_with('[') || prefix.is_empty() {
        prefix + &inner.path
    } else {
        prefix + "." + &inner.path
    };
    Violation {
        path,
        message: inner.message,
    }
}

/// A map key's violation: the map's path, the key in the message.
#[must_use]
pub fn key_violation(key: String, inner: Violation) -> Violation {
    Violation {
        path: inner.path,
        message: format!("key {key}: {}", inner.message),
    }
}

/// A string map key in a path, as canonical JSON writes it (`"a\"b"`).
#[must_use]
pub fn quote_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 2);
    push_json_string(key, &mut out);
    out
}

/// Appends `s` as a JSON string, escaped as `JSON.stringify` does: `"`, `\`
/// and control characters only, short escapes where JSON has them.
///
/// The one escaper of JSON strings: canonical JSON (SPEC §8), the paths of
/// constraint violations and the compiler's messages all quote through it,
/// so they agree with the TypeScript runtime to the byte. It lives here, not
/// in the `json` module, because violation paths need it without that feature.
pub(crate) fn push_json_string(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn violations_say_what_and_where() {
        let at = || "name".to_string();
        assert!(check_len(3, 1, Some(3), "1..=3", at).is_ok());
        let e = check_len(4, 1, Some(3), "1..=3", at).unwrap_err();
        assert_eq!(e.to_string(), "name: length 4 is outside 1..=3");
        assert!(check_int(-5, Some(-5), None, "-5..", at).is_ok());
        assert_eq!(
            check_int(-6, Some(-5), None, "-5..", at)
                .unwrap_err()
                .message,
            "-6 is outside -5.."
        );
        assert!(check_float(f64::NAN, None, Some(1.0), "..=1", at).is_err());
        assert!(check_float(f64::INFINITY, Some(0.0), None, "0..", at).is_ok());
        assert_eq!(
            check_float(100.5, None, Some(100.0), "..=100", at)
                .unwrap_err()
                .message,
            "100.5 is outside ..=100"
        );
        let re = compile_pattern("^[a-z]+$");
        assert!(check_pattern(&re, "abc", "\"^[a-z]+$\"", at).is_ok());
        assert_eq!(
            check_pattern(&re, "ab1", "\"^[a-z]+$\"", at)
                .unwrap_err()
                .message,
            "does not match \"^[a-z]+$\""
        );
        assert_eq!(char_count("é😀"), 2);
    }

    #[test]
    fn paths_join_like_the_spec_says() {
        let leaf = Violation {
            path: "radius".into(),
            message: "m".into(),
        };
        let v = within("circle".into(), leaf);
        let v = within("shapes[3]".into(), v);
        assert_eq!(v.path, "shapes[3].circle.radius");
        let v = within(
            "levels".into(),
            Violation {
                path: "[1][0]".into(),
                message: "m".into(),
            },
        );
        assert_eq!(v.path, "levels[1][0]");
        assert_eq!(quote_key("a\"\n"), "\"a\\\"\\n\"");
        assert_eq!(key_violation("\"k\"".into(), v).message, "key \"k\": m");
    }
}
