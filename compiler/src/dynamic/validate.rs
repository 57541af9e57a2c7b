//! Constraints (SPEC §6.4) on a decoded or to-be-encoded value: the first
//! violation in schema order, with its path from the message.

use std::cell::RefCell;
use std::collections::HashMap;

use tagwire::Violation;

use super::value::{Key, Value};
use crate::ir::{Bound, Checks, Constraint, Field, Schema, Type, TypeDefKind, float_text};

static NONE: Checks = Checks {
    own: Vec::new(),
    element: None,
    key: None,
    value: None,
};

/// Checks a message's (or struct's) fields; `prefix` is the path before the
/// field names (empty for a message).
///
/// # Errors
///
/// The first value that breaks a constraint.
pub fn fields(
    schema: &Schema,
    fields: &[Field],
    values: &[Value],
    prefix: &str,
) -> Result<(), Violation> {
    for (field, v) in fields.iter().zip(values) {
        let path = if prefix.is_empty() {
            field.name.clone()
        } else {
            format!("{prefix}.{}", field.name)
        };
        value(schema, &field.ty, &field.checks, v, &path)?;
    }
    Ok(())
}

fn value(
    schema: &Schema,
    ty: &Type,
    checks: &Checks,
    v: &Value,
    path: &str,
) -> Result<(), Violation> {
    if let (Type::Optional(inner), Value::Optional(present)) = (ty, v) {
        return match present {
            Some(inner_value) => value(schema, inner, checks, inner_value, path),
            None => Ok(()),
        };
    }
    for constraint in &checks.own {
        if let Some(message) = broken(constraint, v) {
            return Err(Violation {
                path: path.to_string(),
                message,
            });
        }
    }
    match (ty, v) {
        (Type::List(element), Value::List(items)) => {
            let checks = checks.element.as_deref().unwrap_or(&NONE);
            for (i, item) in items.iter().enumerate() {
                value(schema, element, checks, item, &format!("{path}[{i}]"))?;
            }
        }
        (Type::Map(_, value_ty), Value::Map(entries)) => {
            let key_checks = checks.key.as_deref().unwrap_or(&NONE);
            let value_checks = checks.value.as_deref().unwrap_or(&NONE);
            for (key, item) in entries {
                let key_text = match key {
                    Key::Int(i) => i.to_string(),
                    Key::Str(s) => super::json::quote(s),
                };
                let key_value = match key {
                    Key::Int(i) => match i64::try_from(*i) {
                        Ok(n) if n < 0 => Value::Int(n),
                        _ => Value::UInt(u64::try_from(*i).unwrap_or(u64::MAX)),
                    },
                    Key::Str(s) => Value::String(s.clone()),
                };
                for constraint in &key_checks.own {
                    if let Some(message) = broken(constraint, &key_value) {
                        return Err(Violation {
                            path: path.to_string(),
                            message: format!("key {key_text}: {message}"),
                        });
                    }
                }
                value(
                    schema,
                    value_ty,
                    value_checks,
                    item,
                    &format!("{path}[{key_text}]"),
                )?;
            }
        }
        (Type::Named(r), _) => match (schema.type_def(r).map(|d| &d.kind), v) {
            (Some(TypeDefKind::Struct(def)), Value::Struct(values)) => {
                fields(schema, def, values, path)?;
            }
            (
                Some(TypeDefKind::Union(variants)),
                Value::Union {
                    index,
                    fields: values,
                },
            ) => {
                if let Some(variant) = variants.iter().find(|x| x.index == *index) {
                    fields(
                        schema,
                        &variant.fields,
                        values,
                        &format!("{path}.{}", variant.name),
                    )?;
                }
            }
            _ => {}
        },
        _ => {}
    }
    Ok(())
}

/// What is wrong with `v` under `constraint`, if anything (SPEC §6.4's wording).
fn broken(constraint: &Constraint, v: &Value) -> Option<String> {
    let outside = || constraint.bounds_text().unwrap_or_default();
    match constraint {
        Constraint::Len { min, max } => {
            let n = match v {
                Value::String(s) => s.chars().count(),
                Value::Bytes(b) => b.len(),
                Value::List(l) => l.len(),
                Value::Map(m) => m.len(),
                _ => return None,
            } as u64;
            (n < *min || max.is_some_and(|m| n > m))
                .then(|| format!("length {n} is outside {}", outside()))
        }
        Constraint::Range { min, max } => {
            let (inside, shown) = match v {
                Value::UInt(u) => (int_inside(i128::from(*u), *min, *max), u.to_string()),
                Value::Int(i) => (int_inside(i128::from(*i), *min, *max), i.to_string()),
                Value::F32(f) => {
                    let f = f64::from(*f);
                    (float_inside(f, *min, *max), float_text(f))
                }
                Value::F64(f) => (float_inside(*f, *min, *max), float_text(*f)),
                _ => return None,
            };
            (!inside).then(|| format!("{shown} is outside {}", outside()))
        }
        Constraint::Pattern(pattern) => {
            let Value::String(s) = v else {
                return None;
            };
            (!matches(pattern, s))
                .then(|| format!("does not match {}", super::json::quote(pattern)))
        }
    }
}

fn int_inside(v: i128, min: Option<Bound>, max: Option<Bound>) -> bool {
    let ge = |b: Bound| match b {
        Bound::Int(i) => v >= i,
        Bound::Float(f) => (v as f64) >= f,
    };
    let le = |b: Bound| match b {
        Bound::Int(i) => v <= i,
        Bound::Float(f) => (v as f64) <= f,
    };
    min.is_none_or(ge) && max.is_none_or(le)
}

/// NaN compares false with everything, so it is outside every range.
fn float_inside(v: f64, min: Option<Bound>, max: Option<Bound>) -> bool {
    min.is_none_or(|b| v >= b.as_f64()) && max.is_none_or(|b| v <= b.as_f64())
}

thread_local! {
    /// Patterns compiled once per thread: the conformance runner and `tagwire
    /// decode` check many frames of one schema.
    static COMPILED: RefCell<HashMap<String, Option<regex::Regex>>> = RefCell::new(HashMap::new());
}

fn matches(pattern: &str, s: &str) -> bool {
    COMPILED.with(|cache| {
        let mut cache = cache.borrow_mut();
        let re = cache
            .entry(pattern.to_string())
            .or_insert_with(|| crate::pattern::compile(pattern).ok());
        // The compiler refused patterns that do not compile; none can get here.
        re.as_ref().is_some_and(|re| re.is_match(s))
    })
}
