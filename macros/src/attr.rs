//! `#[tagwire(...)]` attributes: which keys each position accepts, their
//! values, and errors for unknown, duplicate and malformed ones.

use crate::ctxt::Ctxt;
use syn::{Attribute, Lit, LitInt, LitStr, Token};

/// Where an attribute sits, which decides the keys it may hold.
#[derive(Clone, Copy)]
pub(crate) enum Position {
    /// The enum deriving `Protocol`.
    Protocol,
    /// A variant of that enum (one message version).
    Message,
    /// A type deriving `Codec`.
    CodecType,
    /// An enum or union variant of a `Codec` type.
    CodecVariant,
    /// A named field anywhere.
    Field,
}

impl Position {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Position::Protocol => &["direction", "package"],
            Position::Message => &["header", "name", "version"],
            Position::CodecType => &[],
            Position::CodecVariant => &["rename"],
            Position::Field => &["rename", "list"],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Position::Protocol => "a #[derive(tagwire::Protocol)] enum",
            Position::Message => "a message variant",
            Position::CodecType => "a #[derive(tagwire::Codec)] type",
            Position::CodecVariant => "a variant of a #[derive(tagwire::Codec)] enum",
            Position::Field => "a field",
        }
    }
}

/// One `key = value` with its value's literal (for spans).
#[derive(Clone)]
pub(crate) enum Value {
    Str(LitStr),
    Int(LitInt),
    /// A key without a value (`list`).
    Flag,
}

/// The attributes found in one position; each key at most once.
#[derive(Default)]
pub(crate) struct Attrs {
    entries: Vec<(String, Value)>,
}

impl Attrs {
    pub(crate) fn parse(cx: &Ctxt, attrs: &[Attribute], position: Position) -> Attrs {
        let mut out = Attrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("tagwire")) {
            let result = attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect::<Vec<_>>()
                    .join("::");
                let value = if meta.input.peek(Token![=]) {
                    let lit: Lit = meta.value()?.parse()?;
                    Some(lit)
                } else {
                    None
                };
                let keys = position.keys();
                if !keys.contains(&key.as_str()) {
                    let expected = if keys.is_empty() {
                        format!("{} takes no tagwire attributes", position.describe())
                    } else {
                        format!(
                            "expected {} on {}",
                            keys.iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            position.describe()
                        )
                    };
                    cx.error_spanned_by(
                        &meta.path,
                        format!("unknown tagwire attribute `{key}`: {expected}"),
                    );
                    return Ok(());
                }
                if out.entries.iter().any(|(k, _)| *k == key) {
                    cx.error_spanned_by(&meta.path, format!("duplicate tagwire attribute `{key}`"));
                    return Ok(());
                }
                let value = match (key.as_str(), value) {
                    ("list", None) => Value::Flag,
                    ("list", Some(lit)) => {
                        cx.error_spanned_by(lit, "`list` takes no value: #[tagwire(list)]");
                        return Ok(());
                    }
                    ("version", Some(Lit::Int(i))) => Value::Int(i),
                    ("version", other) => {
                        let msg = "`version` takes an integer: #[tagwire(version = 2)]";
                        match other {
                            Some(lit) => cx.error_spanned_by(lit, msg),
                            None => cx.error_spanned_by(&meta.path, msg),
                        }
                        return Ok(());
                    }
                    (_, Some(Lit::Str(s))) => Value::Str(s),
                    (_, other) => {
                        let msg = format!("`{key}` takes a string: #[tagwire({key} = \"...\")]");
                        match other {
                            Some(lit) => cx.error_spanned_by(lit, msg),
                            None => cx.error_spanned_by(&meta.path, msg),
                        }
                        return Ok(());
                    }
                };
                out.entries.push((key, value));
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }
        out
    }

    pub(crate) fn str(&self, key: &str) -> Option<&LitStr> {
        self.entries.iter().find_map(|(k, v)| match v {
            Value::Str(s) if k == key => Some(s),
            _ => None,
        })
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, v)| k == key && matches!(v, Value::Flag))
    }

    pub(crate) fn int(&self, key: &str) -> Option<&LitInt> {
        self.entries.iter().find_map(|(k, v)| match v {
            Value::Int(i) if k == key => Some(i),
            _ => None,
        })
    }
}

/// The `///` lines of an item, as written after the slashes.
pub(crate) fn docs(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|s| s.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}
