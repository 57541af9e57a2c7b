//! Constraints (`@len`, `@range`, `@pattern`) and `@rate`: each must fit the
//! type it is written on, and its argument must make sense (SPEC §6.4).

use super::names;
use crate::ast::{self, ConstraintArg, TypeExprKind};
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::ir::{self, Bound, Checks, Constraint, Type};
use crate::pattern;
use crate::source::Span;

pub(crate) const NAMES: &[&str] = &["len", "range", "pattern"];

/// The checks of a field whose written type `written` resolved to `ty`.
pub(super) fn checks(
    diagnostics: &mut Vec<Diagnostic>,
    written: &ast::TypeExpr,
    ty: &Type,
) -> Checks {
    let mut out = match (&written.kind, ty) {
        (TypeExprKind::Optional(inner, _), Type::Optional(inner_ty)) => {
            checks(diagnostics, inner, inner_ty)
        }
        // `T??` was reported and resolved as `T?`: keep walking the written type.
        (TypeExprKind::Optional(inner, _), _) => checks(diagnostics, inner, ty),
        (TypeExprKind::List(element), Type::List(element_ty)) => Checks {
            element: boxed(checks(diagnostics, element, element_ty)),
            ..Checks::default()
        },
        (TypeExprKind::Map(key, value), Type::Map(key_ty, value_ty)) => Checks {
            key: boxed(checks(diagnostics, key, key_ty)),
            value: boxed(checks(diagnostics, value, value_ty)),
            ..Checks::default()
        },
        _ => Checks::default(),
    };
    // An optional's constraints are about the value inside it.
    let mut target = ty;
    while let Type::Optional(inner) = target {
        target = inner;
    }
    let mut seen: Vec<(&'static str, Span)> = Vec::new();
    for written_constraint in &written.constraints {
        let Some(constraint) = constraint(diagnostics, written_constraint, target) else {
            continue;
        };
        let name = constraint.name();
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::DuplicateConstraint,
                    format!("`@{name}` is given twice on one type"),
                )
                .at(written_constraint.span, "given again here")
                .with_label(*first, "first given here")
                .with_help("merge them into one"),
            );
            continue;
        }
        seen.push((name, written_constraint.span));
        out.own.push(constraint);
    }
    out.own
        .sort_by_key(|c| NAMES.iter().position(|n| *n == c.name()));
    out
}

fn boxed(checks: Checks) -> Option<Box<Checks>> {
    (!checks.is_empty()).then(|| Box::new(checks))
}

fn constraint(
    diagnostics: &mut Vec<Diagnostic>,
    written: &ast::Constraint,
    ty: &Type,
) -> Option<Constraint> {
    let name = written.name.name.as_str();
    if !NAMES.contains(&name) {
        let mut d = Diagnostic::error(
            DiagnosticCode::UnknownConstraint,
            format!("unknown constraint `@{name}`"),
        )
        .at(written.name.span, "not a constraint")
        .with_note("constraints are `@len(…)`, `@range(…)` and `@pattern(\"…\")`");
        if let Some(close) = names::closest(name, NAMES.iter().copied()) {
            d = d.with_help(format!("did you mean `@{close}`?"));
        }
        diagnostics.push(d);
        return None;
    }
    let fits = match name {
        "len" => matches!(
            ty,
            Type::String | Type::Bytes | Type::List(_) | Type::Map(_, _)
        ),
        "range" => ty.is_integer() || matches!(ty, Type::F32 | Type::F64),
        _ => *ty == Type::String,
    };
    if !fits {
        let what = match name {
            "len" => "`@len` applies to strings, bytes, lists and maps",
            "range" => "`@range` applies to integers and floats",
            _ => "`@pattern` applies to strings",
        };
        let mut d = Diagnostic::error(
            DiagnosticCode::ConstraintNotApplicable,
            format!("`@{name}` does not apply to `{}`", describe(ty)),
        )
        .at(written.span, what);
        let help = match (name, ty) {
            ("range", Type::String | Type::Bytes | Type::List(_) | Type::Map(_, _)) => {
                Some("to bound a length, use `@len(…)`")
            }
            ("len", t) if t.is_integer() || matches!(t, Type::F32 | Type::F64) => {
                Some("to bound a number, use `@range(…)`")
            }
            (_, Type::Named(_)) => {
                Some("put constraints on the fields of the struct, enum or union instead")
            }
            _ => None,
        };
        if let Some(help) = help {
            d = d.with_help(help);
        }
        diagnostics.push(d);
        return None;
    }
    match name {
        "len" => len(diagnostics, written),
        "range" => range(diagnostics, written, ty),
        _ => pattern_constraint(diagnostics, written),
    }
}

/// The bounds of a range argument as written, after refusing `a..b`.
type Written = (Option<(String, Span)>, Option<(String, Span)>, Span);

fn bounds(diagnostics: &mut Vec<Diagnostic>, written: &ast::Constraint) -> Option<Written> {
    let name = &written.name.name;
    match &written.arg {
        ConstraintArg::Number(text, span) => {
            // One number: exactly that.
            let both = Some((text.clone(), *span));
            Some((both.clone(), both, *span))
        }
        ConstraintArg::Range {
            low,
            high,
            inclusive,
            span,
        } => {
            if let (false, Some((text, _))) = (inclusive, high) {
                diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::ExclusiveUpperBound,
                        "ranges include their upper bound: write `..=`",
                    )
                    .at(*span, "`..` followed by a bound")
                    .with_help(format!(
                        "write `{}..={text}` (the bound is allowed) or lower the bound",
                        low.as_ref().map_or("", |l| l.0.as_str())
                    )),
                );
                return None;
            }
            if low.is_none() && high.is_none() {
                diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::EmptyOrUnboundedRange,
                        format!("`@{name}(..)` allows everything"),
                    )
                    .at(*span, "no bound")
                    .with_help("give a lower bound (`1..`), an upper bound (`..=64`) or both"),
                );
                return None;
            }
            Some((low.clone(), high.clone(), *span))
        }
        ConstraintArg::String(_, span) => {
            diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::InvalidConstraintArgument,
                    format!("`@{name}` takes a range, not a string"),
                )
                .at(*span, "expected a range such as `1..=64`"),
            );
            None
        }
    }
}

fn len(diagnostics: &mut Vec<Diagnostic>, written: &ast::Constraint) -> Option<Constraint> {
    let (low, high, span) = bounds(diagnostics, written)?;
    let mut parse = |bound: Option<(String, Span)>| -> Result<Option<u64>, ()> {
        let Some((text, at)) = bound else {
            return Ok(None);
        };
        match text.parse::<u64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => {
                diagnostics.push(
                    Diagnostic::error(DiagnosticCode::InvalidConstraintArgument, format!("`{text}` is not a length"))
                        .at(at, "lengths are whole numbers from 0")
                        .with_note("strings count Unicode characters, bytes count bytes, lists elements and maps entries"),
                );
                Err(())
            }
        }
    };
    let min = parse(low);
    let max = parse(high);
    let (Ok(min), Ok(max)) = (min, max) else {
        return None;
    };
    let min = min.unwrap_or(0);
    if let Some(max) = max
        && min > max
    {
        diagnostics.push(
            Diagnostic::error(
                DiagnosticCode::EmptyOrUnboundedRange,
                format!("empty range: {min} is more than {max}"),
            )
            .at(span, "no length fits")
            .with_help("write the smaller bound first"),
        );
        return None;
    }
    if min == 0 && max.is_none() {
        diagnostics.push(
            Diagnostic::error(
                DiagnosticCode::EmptyOrUnboundedRange,
                "`@len(0..)` allows every length",
            )
            .at(span, "constrains nothing")
            .with_help("remove it, or give a bound that matters"),
        );
        return None;
    }
    Some(Constraint::Len { min, max })
}

fn range(
    diagnostics: &mut Vec<Diagnostic>,
    written: &ast::Constraint,
    ty: &Type,
) -> Option<Constraint> {
    let (low, high, span) = bounds(diagnostics, written)?;
    let type_name = describe(ty);
    let mut parse = |bound: Option<(String, Span)>| -> Result<Option<Bound>, ()> {
        let Some((text, at)) = bound else {
            return Ok(None);
        };
        if ty.is_integer() {
            let (lowest, highest) = integer_bounds(ty);
            let whole = !text.contains(['.', 'e', 'E']);
            match text.parse::<i128>() {
                Ok(n) if whole && (lowest..=highest).contains(&n) => Ok(Some(Bound::Int(n))),
                Ok(_) | Err(_) if whole => {
                    diagnostics.push(
                        Diagnostic::error(
                            DiagnosticCode::BoundOutsideType,
                            format!("`{text}` is outside `{type_name}`"),
                        )
                        .at(at, format!("`{type_name}` holds {lowest}..={highest}")),
                    );
                    Err(())
                }
                _ => {
                    diagnostics.push(
                        Diagnostic::error(
                            DiagnosticCode::InvalidConstraintArgument,
                            format!("`@range` on `{type_name}` takes whole numbers"),
                        )
                        .at(at, "not a whole number"),
                    );
                    Err(())
                }
            }
        } else {
            let value: f64 = text.parse().map_err(|_| ())?;
            let value = in_precision_of(ty, value);
            if value.is_finite() {
                Ok(Some(Bound::Float(value)))
            } else {
                diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::BoundOutsideType,
                        format!("`{text}` is outside `{type_name}`"),
                    )
                    .at(at, format!("too large for `{type_name}`")),
                );
                Err(())
            }
        }
    };
    let min = parse(low);
    let max = parse(high);
    let (Ok(min), Ok(max)) = (min, max) else {
        return None;
    };
    if let (Some(a), Some(b)) = (min, max) {
        let inverted = match (a, b) {
            (Bound::Int(a), Bound::Int(b)) => a > b,
            (a, b) => a.as_f64() > b.as_f64(),
        };
        if inverted {
            diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::EmptyOrUnboundedRange,
                    format!("empty range: {a} is more than {b}"),
                )
                .at(span, "no value fits")
                .with_help("write the smaller bound first"),
            );
            return None;
        }
    }
    Some(Constraint::Range { min, max })
}

fn pattern_constraint(
    diagnostics: &mut Vec<Diagnostic>,
    written: &ast::Constraint,
) -> Option<Constraint> {
    let ConstraintArg::String(text, span) = &written.arg else {
        let span = match &written.arg {
            ConstraintArg::Range { span, .. } | ConstraintArg::Number(_, span) => *span,
            ConstraintArg::String(_, span) => *span,
        };
        diagnostics.push(
            Diagnostic::error(
                DiagnosticCode::InvalidConstraintArgument,
                "`@pattern` takes a regular expression in double quotes",
            )
            .at(span, "expected a string such as `\"^[a-z]+$\"`"),
        );
        return None;
    };
    match pattern::check(text) {
        Ok(_) => Some(Constraint::Pattern(text.clone())),
        Err(e) => {
            // The literal's text is the pattern byte for byte (no escapes are resolved), after the quote.
            let start = span.start + 1 + e.range.start;
            let end = (span.start + 1 + e.range.end).clamp(start, span.end);
            let at = Span::new(span.file, start, end.max(start));
            let (code, message) = if e.unsupported {
                (
                    DiagnosticCode::NonPortablePattern,
                    "pattern outside the portable subset",
                )
            } else {
                (DiagnosticCode::InvalidPattern, "invalid pattern")
            };
            diagnostics.push(
                Diagnostic::error(code, message)
                    .at(at, e.message)
                    .with_note("patterns must mean the same and run in linear time in Rust's `regex` and JavaScript's `RegExp`; see docs/SCHEMA.md"),
            );
            None
        }
    }
}

/// `@rate(…)` on a message.
pub(super) fn rate(
    diagnostics: &mut Vec<Diagnostic>,
    message: &ast::Message,
    direction: ir::Direction,
) -> Option<ir::Rate> {
    let first = message.rate.first()?;
    for extra in &message.rate[1..] {
        diagnostics.push(
            Diagnostic::error(DiagnosticCode::DuplicateRate, "a message has one `@rate`")
                .at(extra.span, "second `@rate`")
                .with_label(first.span, "first given here"),
        );
    }
    if direction == ir::Direction::Server {
        diagnostics.push(
            Diagnostic::error(
                DiagnosticCode::RateOnServerMessage,
                "`@rate` on a message only the server sends",
            )
            .at(first.span, "rate limits apply to what clients send")
            .with_help("remove it, or let clients send the message"),
        );
        return None;
    }
    let mut number = |(text, span): &(String, Span), what: &str| -> Option<u32> {
        match text.parse::<u32>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::InvalidRate,
                        format!("invalid {what} `{text}`"),
                    )
                    .at(
                        *span,
                        format!("the {what} is a whole number from 1 to {}", u32::MAX),
                    ),
                );
                None
            }
        }
    };
    let count = number(&first.count, "rate");
    let burst = first.burst.as_ref().map(|b| number(b, "burst"));
    let period_secs = match first.unit.as_str() {
        "s" => 1,
        "m" => 60,
        _ => 3600,
    };
    let count = count?;
    let burst = match burst {
        None => count,
        Some(b) => b?,
    };
    Some(ir::Rate {
        count,
        period_secs,
        burst,
    })
}

pub(super) fn integer_bounds(ty: &Type) -> (i128, i128) {
    match ty {
        Type::U8 => (0, u8::MAX.into()),
        Type::U16 => (0, u16::MAX.into()),
        Type::U32 => (0, u32::MAX.into()),
        Type::U64 => (0, u64::MAX.into()),
        Type::I8 => (i8::MIN.into(), i8::MAX.into()),
        Type::I16 => (i16::MIN.into(), i16::MAX.into()),
        Type::I32 => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    }
}

/// A number written for a float of `ty` as that type holds it: an `f32`
/// rounds to single precision, so bounds and defaults compare and print as
/// the value the field can actually have.
pub(crate) fn in_precision_of(ty: &Type, value: f64) -> f64 {
    if *ty == Type::F32 {
        #[allow(clippy::cast_possible_truncation)]
        let rounded = value as f32;
        f64::from(rounded)
    } else {
        value
    }
}

/// A type as the schema writes it.
pub(crate) fn describe(ty: &Type) -> String {
    match ty {
        Type::List(inner) => format!("[{}]", describe(inner)),
        Type::Map(k, v) => format!("map<{}, {}>", describe(k), describe(v)),
        Type::Optional(inner) => format!("{}?", describe(inner)),
        Type::Named(r) => r.name.clone(),
        primitive => primitive.primitive_name().unwrap_or_default().to_string(),
    }
}
