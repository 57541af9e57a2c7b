//! `@pattern("…")`: the regular expressions a schema may use.
//!
//! A pattern must mean the same thing, and cost time linear in its input, in
//! every Tagwire implementation: Rust's `regex` crate (a finite-automaton
//! engine, linear whatever the pattern) and JavaScript's `RegExp` (a
//! backtracking engine). So the compiler accepts a portable subset, parsed
//! with `regex-syntax` (the `regex` crate's own parser), and writes the
//! JavaScript form itself rather than trusting the two syntaxes to agree:
//!
//! - literals, `.` (any character but `\n`, in both), bracketed classes of
//!   literals and ranges (negated too), groups, alternation, `^` and `$`
//!   (start and end of the whole string: no flags, so no multi-line mode);
//! - `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`, greedy or lazy, but no repetition
//!   inside an unbounded repetition (`(a+)+`, `(a*b?)*`): a backtracking
//!   engine can take exponential time on those;
//! - not: flags (`(?i)`: case folding differs between engines), `\d`, `\w`,
//!   `\s`, `\b` (ASCII in JavaScript, Unicode in Rust), `\p{…}` (property
//!   names differ), class set operations (`&&`, `--`), POSIX classes
//!   (`[[:alpha:]]`), `\A`/`\z` (write `^`/`$`). Look-around and
//!   backreferences are refused by the parser itself.
//!
//! Matching is a search, as `Regex::is_match` and `RegExp.test`: anchor with
//! `^…$` to match the whole string.

use regex_syntax::ast::{
    self, AssertionKind, Ast, ClassSet, ClassSetItem, GroupKind, RepetitionKind, RepetitionRange,
};

/// Longest pattern accepted, in bytes: patterns are written by people.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// Largest compiled program the Rust side accepts (the `regex` crate's
/// `size_limit`), so `a{1000}{1000}` is a schema error, not a slow start-up.
pub const SIZE_LIMIT: usize = 1 << 20;

/// Why a pattern is refused: a message, and the byte range within the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub message: String,
    pub range: std::ops::Range<usize>,
    /// The pattern is valid for the `regex` crate but outside the portable subset.
    pub unsupported: bool,
}

/// Checks `pattern` and returns its JavaScript source (for `new RegExp(source, "u")`).
///
/// # Errors
///
/// The first problem found, with where it is in the pattern.
pub fn check(pattern: &str) -> Result<String, PatternError> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(PatternError {
            message: format!(
                "the pattern is {} bytes; the limit is {MAX_PATTERN_BYTES}",
                pattern.len()
            ),
            range: 0..pattern.len(),
            unsupported: false,
        });
    }
    let parsed = ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| parse_error(pattern, &e))?;
    let mut js = String::new();
    Js { out: &mut js }.ast(&parsed, false)?;
    compile(pattern).map_err(|message| PatternError {
        message,
        range: 0..pattern.len(),
        unsupported: false,
    })?;
    Ok(js)
}

/// Compiles a checked pattern as the Rust runtime does (same size limit).
///
/// # Errors
///
/// The `regex` crate's message.
pub fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => {
                format!("the pattern compiles to more than {limit} bytes; simplify its repetitions")
            }
            other => other.to_string(),
        })
}

fn parse_error(pattern: &str, e: &ast::Error) -> PatternError {
    let span = e.span();
    let mut message = e.kind().to_string();
    let mut unsupported = false;
    let at = pattern.get(span.start.offset..).unwrap_or("");
    if at.starts_with("(?=")
        || at.starts_with("(?!")
        || at.starts_with("(?<=")
        || at.starts_with("(?<!")
    {
        message = "look-around is not supported (it cannot run in linear time)".into();
        unsupported = true;
    } else if matches!(e.kind(), ast::ErrorKind::UnsupportedBackreference) {
        message = "backreferences are not supported (they cannot run in linear time)".into();
        unsupported = true;
    }
    PatternError {
        message,
        range: span.start.offset..span.end.offset.max(span.start.offset),
        unsupported,
    }
}

fn unsupported<T>(span: &ast::Span, message: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError {
        message: message.into(),
        range: span.start.offset..span.end.offset,
        unsupported: true,
    })
}

struct Js<'a> {
    out: &'a mut String,
}

impl Js<'_> {
    /// `inside_unbounded`: an enclosing repetition has no upper bound.
    fn ast(&mut self, node: &Ast, inside_unbounded: bool) -> Result<(), PatternError> {
        match node {
            Ast::Empty(_) => Ok(()),
            Ast::Flags(f) => unsupported(
                &f.span,
                "flags are not supported (case folding and line modes differ between engines)",
            ),
            Ast::Literal(l) => {
                literal(self.out, l.c, false);
                Ok(())
            }
            // JavaScript's `.` also stops at `\r`, U+2028 and U+2029; Rust's only at `\n`.
            Ast::Dot(_) => {
                self.out.push_str("[^\\n]");
                Ok(())
            }
            Ast::Assertion(a) => match a.kind {
                AssertionKind::StartLine => {
                    self.out.push('^');
                    Ok(())
                }
                AssertionKind::EndLine => {
                    self.out.push('$');
                    Ok(())
                }
                AssertionKind::StartText | AssertionKind::EndText => {
                    unsupported(&a.span, "write `^` and `$` instead of `\\A` and `\\z`")
                }
                _ => unsupported(
                    &a.span,
                    "word boundaries are not supported (`\\b` is ASCII in JavaScript, Unicode in Rust)",
                ),
            },
            Ast::ClassUnicode(c) => unsupported(
                &c.span,
                "Unicode classes are not supported (property names differ between engines); list the characters in `[…]`",
            ),
            Ast::ClassPerl(c) => unsupported(
                &c.span,
                "`\\d`, `\\w` and `\\s` are not supported (ASCII in JavaScript, Unicode in Rust); write `[0-9]`, `[A-Za-z0-9_]` or the characters you mean",
            ),
            Ast::ClassBracketed(c) => self.bracketed(c),
            Ast::Repetition(r) => {
                let (text, unbounded) = match &r.op.kind {
                    RepetitionKind::ZeroOrOne => ("?".to_string(), false),
                    RepetitionKind::ZeroOrMore => ("*".to_string(), true),
                    RepetitionKind::OneOrMore => ("+".to_string(), true),
                    RepetitionKind::Range(RepetitionRange::Exactly(n)) => {
                        (format!("{{{n}}}"), false)
                    }
                    RepetitionKind::Range(RepetitionRange::AtLeast(n)) => {
                        (format!("{{{n},}}"), true)
                    }
                    RepetitionKind::Range(RepetitionRange::Bounded(a, b)) => {
                        (format!("{{{a},{b}}}"), false)
                    }
                };
                let repeats = !matches!(
                    r.op.kind,
                    RepetitionKind::ZeroOrOne
                        | RepetitionKind::Range(RepetitionRange::Exactly(0 | 1))
                        | RepetitionKind::Range(RepetitionRange::Bounded(_, 0 | 1))
                );
                if inside_unbounded && repeats {
                    return unsupported(
                        &r.span,
                        "a repetition inside an unbounded repetition (`(a+)+`) can take exponential time in a backtracking engine",
                    );
                }
                self.out.push_str("(?:");
                self.ast(&r.ast, inside_unbounded || unbounded)?;
                self.out.push(')');
                self.out.push_str(&text);
                if !r.greedy {
                    self.out.push('?');
                }
                Ok(())
            }
            Ast::Group(g) => {
                if let GroupKind::NonCapturing(flags) = &g.kind
                    && !flags.items.is_empty()
                {
                    return unsupported(
                        &flags.span,
                        "flags are not supported (case folding and line modes differ between engines)",
                    );
                }
                self.out.push_str("(?:");
                self.ast(&g.ast, inside_unbounded)?;
                self.out.push(')');
                Ok(())
            }
            Ast::Alternation(a) => {
                for (i, branch) in a.asts.iter().enumerate() {
                    if i > 0 {
                        self.out.push('|');
                    }
                    self.ast(branch, inside_unbounded)?;
                }
                Ok(())
            }
            Ast::Concat(c) => {
                for part in &c.asts {
                    self.ast(part, inside_unbounded)?;
                }
                Ok(())
            }
        }
    }

    fn bracketed(&mut self, class: &ast::ClassBracketed) -> Result<(), PatternError> {
        self.out.push('[');
        if class.negated {
            self.out.push('^');
        }
        match &class.kind {
            ClassSet::Item(item) => self.class_item(item)?,
            ClassSet::BinaryOp(op) => {
                return unsupported(
                    &op.span,
                    "class set operations (`&&`, `--`, `~~`) are not supported",
                );
            }
        }
        self.out.push(']');
        Ok(())
    }

    fn class_item(&mut self, item: &ClassSetItem) -> Result<(), PatternError> {
        match item {
            ClassSetItem::Empty(_) => Ok(()),
            ClassSetItem::Literal(l) => {
                literal(self.out, l.c, true);
                Ok(())
            }
            ClassSetItem::Range(r) => {
                literal(self.out, r.start.c, true);
                self.out.push('-');
                literal(self.out, r.end.c, true);
                Ok(())
            }
            ClassSetItem::Union(u) => {
                for item in &u.items {
                    self.class_item(item)?;
                }
                Ok(())
            }
            ClassSetItem::Ascii(a) => unsupported(
                &a.span,
                "POSIX classes (`[:alpha:]`) are not supported; list the ranges",
            ),
            ClassSetItem::Unicode(c) => unsupported(
                &c.span,
                "Unicode classes are not supported (property names differ between engines)",
            ),
            ClassSetItem::Perl(c) => unsupported(
                &c.span,
                "`\\d`, `\\w` and `\\s` are not supported (ASCII in JavaScript, Unicode in Rust); write the ranges",
            ),
            ClassSetItem::Bracketed(b) => unsupported(&b.span, "nested classes are not supported"),
        }
    }
}

/// One character as JavaScript (`u` flag) reads it literally.
fn literal(out: &mut String, c: char, in_class: bool) {
    const SYNTAX: &str = "^$\\.*+?()[]{}|/";
    if SYNTAX.contains(c) || (in_class && c == '-') {
        out.push('\\');
        out.push(c);
    } else if c.is_ascii_graphic() || c == ' ' {
        out.push(c);
    } else {
        use std::fmt::Write as _;
        let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn portable_patterns_become_javascript() {
        assert_eq!(check("^[a-z][a-z0-9_]*$").unwrap(), "^[a-z](?:[a-z0-9_])*$");
        assert_eq!(check("a.b").unwrap(), "a[^\\n]b");
        assert_eq!(check("(ab|c){2,3}?").unwrap(), "(?:(?:ab|c)){2,3}?");
        assert_eq!(check("é\\.").unwrap(), "\\u{e9}\\.");
        assert_eq!(check("[^-a]").unwrap(), "[^\\-a]");
        assert_eq!(check("\\\"").unwrap(), "\"");
    }

    #[test]
    fn refused_patterns_say_why() {
        for (pattern, words) in [
            ("(a+)+$", "exponential"),
            ("(a*b?)*", "exponential"),
            ("\\d+", "`\\d`"),
            ("(?i)abc", "flags"),
            ("\\bword", "word boundaries"),
            ("\\p{Greek}", "Unicode classes"),
            ("[[:alpha:]]", "POSIX"),
            ("a(?=b)", "look-around"),
            ("(a)\\1", "backreferences"),
            ("[a-z&&[^x]]", "set operations"),
            ("a{1000}{1000}", "compiles to more than"),
            ("(", "unclosed"),
        ] {
            let e = check(pattern).unwrap_err();
            assert!(
                e.message.contains(words),
                "{pattern}: {} (wanted {words})",
                e.message
            );
        }
    }
}
