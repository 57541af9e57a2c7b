//! Field defaults (`priority: u8 @range(1..=5) = 3`): the literal must be of
//! the field's kind, fit its type and satisfy its constraints. A default is
//! what a generated upgrade fills in when an older version of the message
//! lacks the field; it never reaches the wire, the shape or a fingerprint.

use super::constraints::{describe, in_precision_of};
use super::names;
use crate::ast::{self, LiteralKind};
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::ir::{Bound, Checks, Constraint, DefaultValue, Type};
use crate::pattern;

/// What a named field type is, as far as defaults care.
pub(super) enum Named<'a> {
    /// An enum and its variant names.
    Enum(&'a [String]),
    /// A struct or union: no default possible.
    Other,
}

/// The checked default of `field` (resolved to `ty`, with `checks`), or
/// `None` after reporting why it cannot be one. `owner` is what declares the
/// field (`message`, `struct`, `variant`).
pub(super) fn default(
    diagnostics: &mut Vec<Diagnostic>,
    field: &ast::Field,
    ty: &Type,
    checks: &Checks,
    named: Option<Named<'_>>,
    owner: &str,
) -> Option<DefaultValue> {
    let literal = field.default.as_ref()?;
    let type_name = describe(ty);
    if owner != "message" {
        diagnostics.push(
            Diagnostic::error(DiagnosticCode::DefaultNotAllowed, format!("a default on a {owner} field"))
                .at(literal.span, "defaults are allowed on message fields only")
                .with_note(
                    "a default is what a generated upgrade fills in when an older version of a message lacks the field",
                ),
        );
        return None;
    }
    let refused = match ty {
        Type::Optional(_) => {
            Some("an optional field is `None` when an older version lacks it; it takes no default")
        }
        Type::List(_) | Type::Map(_, _) | Type::Bytes => {
            Some("defaults are for bool, number, string and enum fields")
        }
        Type::Named(_) if !matches!(named, Some(Named::Enum(_))) => {
            Some("defaults are for bool, number, string and enum fields, not structs or unions")
        }
        _ => None,
    };
    if let Some(label) = refused {
        diagnostics.push(
            Diagnostic::error(
                DiagnosticCode::DefaultNotAllowed,
                format!("a `{type_name}` field cannot have a default"),
            )
            .at(literal.span, label)
            .with_help(
                "remove the default; an upgrade that must fill this field in is written by the application",
            ),
        );
        return None;
    }
    let wrong_kind = |expected: &str| {
        Diagnostic::error(
            DiagnosticCode::DefaultTypeMismatch,
            format!("`{}` is not a value of `{type_name}`", literal.raw),
        )
        .at(literal.span, format!("expected {expected}"))
    };
    let value = match (ty, &literal.kind) {
        (Type::Bool, LiteralKind::Word(w)) if w == "true" || w == "false" => {
            DefaultValue::Bool(w == "true")
        }
        (Type::Bool, _) => {
            diagnostics.push(wrong_kind("`true` or `false`"));
            return None;
        }
        (Type::String, LiteralKind::String(s)) => DefaultValue::String(s.clone()),
        (Type::String, _) => {
            diagnostics.push(
                wrong_kind("a string in double quotes")
                    .with_help(format!("write `\"{}\"`", literal.raw.escape_default())),
            );
            return None;
        }
        (t, LiteralKind::Number(text)) if t.is_integer() => {
            if text.contains(['.', 'e', 'E']) {
                diagnostics.push(wrong_kind("a whole number"));
                return None;
            }
            let (lowest, highest) = super::constraints::integer_bounds(t);
            match text.parse::<i128>() {
                Ok(n) if (lowest..=highest).contains(&n) => DefaultValue::Int(n),
                _ => {
                    diagnostics.push(
                        Diagnostic::error(
                            DiagnosticCode::DefaultOutOfRange,
                            format!("`{text}` is outside `{type_name}`"),
                        )
                        .at(
                            literal.span,
                            format!("`{type_name}` holds {lowest}..={highest}"),
                        ),
                    );
                    return None;
                }
            }
        }
        (t, _) if t.is_integer() => {
            diagnostics.push(wrong_kind("a whole number"));
            return None;
        }
        (Type::F32 | Type::F64, LiteralKind::Number(text)) => {
            let Ok(value) = text.parse::<f64>() else {
                diagnostics.push(wrong_kind("a number"));
                return None;
            };
            let value = in_precision_of(ty, value);
            if !value.is_finite() {
                diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::DefaultOutOfRange,
                        format!("`{text}` is outside `{type_name}`"),
                    )
                    .at(literal.span, format!("too large for `{type_name}`")),
                );
                return None;
            }
            DefaultValue::Float(value)
        }
        (Type::F32 | Type::F64, _) => {
            diagnostics.push(wrong_kind("a number"));
            return None;
        }
        (Type::Named(r), kind) => {
            let Some(Named::Enum(variants)) = named else {
                return None;
            };
            let LiteralKind::Word(word) = kind else {
                diagnostics.push(wrong_kind("a variant name").with_help(format!(
                    "variants of `{}`: {}",
                    r.name,
                    list(variants)
                )));
                return None;
            };
            if !variants.iter().any(|v| v == word) {
                let mut d = Diagnostic::error(
                    DiagnosticCode::UnknownDefaultVariant,
                    format!("`{}` has no variant `{word}`", r.name),
                )
                .at(literal.span, "unknown variant");
                d = match names::closest(word, variants.iter().map(String::as_str)) {
                    Some(close) => d.with_help(format!("did you mean `{close}`?")),
                    None => d.with_note(format!("variants of `{}`: {}", r.name, list(variants))),
                };
                diagnostics.push(d);
                return None;
            }
            DefaultValue::Enum(word.clone())
        }
        // Every allowed type is handled above; the others were refused.
        _ => return None,
    };
    let mut ok = true;
    for constraint in &checks.own {
        if let Some(problem) = breaks(constraint, &value) {
            let written = field
                .ty
                .constraints
                .iter()
                .find(|c| c.name.name == constraint.name());
            let mut d = Diagnostic::error(
                DiagnosticCode::DefaultBreaksConstraint,
                format!("the default `{}` breaks `{constraint}`", literal.raw),
            )
            .at(literal.span, problem);
            if let Some(written) = written {
                d = d.with_label(written.span, "the constraint");
            }
            diagnostics.push(d);
            ok = false;
        }
    }
    ok.then_some(value)
}

/// Why `value` breaks `constraint`, if it does.
fn breaks(constraint: &Constraint, value: &DefaultValue) -> Option<String> {
    match (constraint, value) {
        (Constraint::Range { min, max }, DefaultValue::Int(_) | DefaultValue::Float(_)) => {
            let below = |b: &Bound| match (b, value) {
                (Bound::Int(b), DefaultValue::Int(v)) => v < b,
                (b, DefaultValue::Float(v)) => *v < b.as_f64(),
                _ => false,
            };
            let above = |b: &Bound| match (b, value) {
                (Bound::Int(b), DefaultValue::Int(v)) => v > b,
                (b, DefaultValue::Float(v)) => *v > b.as_f64(),
                _ => false,
            };
            if min.as_ref().is_some_and(below) || max.as_ref().is_some_and(above) {
                Some("outside the range".to_string())
            } else {
                None
            }
        }
        (Constraint::Len { min, max }, DefaultValue::String(s)) => {
            let n = s.chars().count() as u64;
            let unit = if n == 1 { "character" } else { "characters" };
            (n < *min || max.is_some_and(|m| n > m)).then(|| format!("{n} {unit} long"))
        }
        (Constraint::Pattern(p), DefaultValue::String(s)) => match pattern::compile(p) {
            Ok(re) if !re.is_match(s) => Some("does not match the pattern".to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn list(variants: &[String]) -> String {
    variants
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
