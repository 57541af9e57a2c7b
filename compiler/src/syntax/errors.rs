//! Turns pest's "expected rule X" into words a schema author understands.

use super::Rule;
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::source::{FileId, Span};
use pest::error::{ErrorVariant, InputLocation};

/// Where pest stopped, in the text it was given.
pub(super) fn position(error: &pest::error::Error<Rule>) -> usize {
    match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
}

/// The error pest gave for a piece of `text` starting at `offset`, in words.
pub(super) fn to_diagnostic(
    file: FileId,
    text: &str,
    offset: usize,
    error: &pest::error::Error<Rule>,
) -> Diagnostic {
    let start = offset + position(error);
    let end = token_end(text, start);
    let found = describe_found(text, start);
    if let Some(diagnostic) = unterminated_string(file, text, start) {
        return diagnostic;
    }
    let message = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&'static str> =
                positives.iter().filter_map(|r| describe(*r)).collect();
            words.sort_unstable();
            words.dedup();
            format!("expected {}, found {found}", join_alternatives(&words))
        }
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let mut diagnostic = Diagnostic::error(DiagnosticCode::Syntax, message)
        .at(Span::new(file, start, end), "unexpected here");
    if let Some(help) = hint(text, start) {
        diagnostic = diagnostic.with_help(help);
    }
    diagnostic
}

/// The end of the word or character an error points at, so the underline covers the whole token.
fn token_end(text: &str, start: usize) -> usize {
    let rest = text.get(start..).unwrap_or("");
    let word: usize = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if word > 0 {
        return start + word;
    }
    rest.chars().next().map_or(start, |c| start + c.len_utf8())
}

/// The error lies inside a string that has no closing quote on its line: say
/// so, pointing at the opening quote, rather than what the grammar expected.
fn unterminated_string(file: FileId, text: &str, start: usize) -> Option<Diagnostic> {
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let mut open: Option<usize> = None;
    let mut escaped = false;
    for (offset, c) in text[line_start..line_end].char_indices() {
        let at = line_start + offset;
        match (open, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(_), '"') if !escaped => open = None,
            (None, '"') => open = Some(at),
            (None, '/') if text[at..].starts_with("//") => break,
            _ => {}
        }
        escaped = false;
    }
    let opening = open?;
    if opening > start {
        return None;
    }
    Some(
        Diagnostic::error(DiagnosticCode::Syntax, "unterminated string")
            .at(
                Span::new(file, opening, line_end),
                "this string has no closing `\"`",
            )
            .with_help("a string ends on the line it starts on"),
    )
}

fn describe_found(text: &str, at: usize) -> String {
    let rest = text.get(at..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return "end of file".to_string();
    };
    if first.is_ascii_alphanumeric() || first == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        format!("`{word}`")
    } else if first == '\n' || first == '\r' {
        "end of line".to_string()
    } else {
        format!("`{}`", first.escape_debug())
    }
}

fn join_alternatives(words: &[&str]) -> String {
    match words {
        [] => "something else".to_string(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A word for every rule that can be expected; `None` hides rules that only
/// add noise (doc comments may appear almost anywhere).
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::statement => {
            "a declaration (`package`, `import`, `struct`, `enum`, `union`, `message` or `presence`)"
        }
        Rule::package_decl | Rule::kw_package => "`package`",
        Rule::import_decl | Rule::kw_import => "`import`",
        Rule::struct_decl | Rule::kw_struct => "`struct`",
        Rule::enum_decl | Rule::kw_enum => "`enum`",
        Rule::union_decl | Rule::kw_union => "`union`",
        Rule::message_decl => "`message` or `presence`",
        Rule::kw_message => "`message`",
        Rule::kw_presence => "`presence`",
        Rule::field | Rule::fields => "a field name",
        Rule::enum_variant => "a variant name",
        Rule::union_variant => "a variant name",
        Rule::ident => "a name",
        Rule::type_expr
        | Rule::type_atom
        | Rule::type_name
        | Rule::list_type
        | Rule::map_type
        | Rule::kw_map => "a type",
        Rule::version => "a version (`v2`)",
        Rule::direction | Rule::kw_from => "`from server` or `from client`",
        Rule::kw_server | Rule::kw_client => "`server` or `client`",
        Rule::header_pin | Rule::at => "a pinned header (`@\"ab\"`)",
        Rule::string_lit => "a string in double quotes",
        Rule::int_lit => "a whole number",
        Rule::semi => "`;`",
        Rule::colon => "`:`",
        Rule::comma => "`,`",
        Rule::eq => "`=`",
        Rule::qmark => "`?`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::langle => "`<`",
        Rule::rangle => "`>`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::slash => "`/`",
        Rule::constraint | Rule::constraint_name => {
            "a constraint (`@len(…)`, `@range(…)` or `@pattern(\"…\")`)"
        }
        Rule::constraint_arg => "a range (`1..=64`), a number or a string",
        Rule::range | Rule::range_op => "a range (`1..=64`, `..=20`, `0..`)",
        Rule::number_lit => "a number",
        Rule::field_default => "a default (`= value`)",
        Rule::literal => "a value (a number, a string, `true`, `false` or an enum variant)",
        Rule::rate | Rule::kw_rate => "`@rate(10/s, burst 20)`",
        Rule::rate_unit => "a time unit (`s`, `m` or `h`)",
        Rule::kw_burst => "`burst`",
        Rule::docs
        | Rule::doc
        | Rule::doc_text
        | Rule::schema
        | Rule::declaration
        | Rule::string_inner => return None,
        Rule::WHITESPACE
        | Rule::COMMENT
        | Rule::doc_start
        | Rule::ident_start
        | Rule::ident_char => return None,
    })
}

/// Extra advice for mistakes people coming from other schema languages make.
fn hint(text: &str, at: usize) -> Option<&'static str> {
    let rest = text.get(at..).unwrap_or("");
    if rest.starts_with(';') {
        Some("fields are separated by `,`, not `;`")
    } else if rest.starts_with("/*") {
        Some("block comments are not supported; use `//`")
    } else if rest.starts_with('\'') {
        Some("strings use double quotes")
    } else if rest.starts_with('=') {
        Some("`= value` follows an enum variant (its number) or a field's type (its default)")
    } else {
        None
    }
}
