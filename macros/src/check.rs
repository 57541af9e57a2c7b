//! Checks that need more than one attribute or variant at a time, and the
//! header assignment (SCHEMA.md "Headers"): pins win, then every other
//! version takes the first free header in alphabet order, in declaration
//! order, never one starting with `_`.

use crate::ast::{Shape, Variant};
use crate::ctxt::Ctxt;
use syn::LitStr;

/// The runtime's header alphabet (`tagwire::ALPHABET`), which this crate
/// cannot import: `tagwire` depends on it for the derives. Assignment needs
/// the alphabet while expanding (a pin's index decides which headers are
/// free; a free index becomes the text of a `Header::new` constant), and
/// errors read best there, all at once and at the attribute. The runtime
/// stays the authority: every header the derive emits is a const
/// `::tagwire::Header::new`, rejected at compile time if the runtime
/// disagrees, and a test compares this table and range with the runtime's.
pub(crate) const ALPHABET: &[u8; 64] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
/// Headers whose first byte is `_` (index 4,032 on) are the runtime's
/// (`tagwire::FIRST_RESERVED_INDEX`).
pub(crate) const APPLICATION_HEADERS: u16 = 63 * 64;

fn symbol(b: u8) -> Option<u16> {
    ALPHABET
        .iter()
        .position(|&a| a == b)
        .and_then(|p| u16::try_from(p).ok())
}

pub(crate) fn header_text(index: u16) -> String {
    let hi = ALPHABET[usize::from(index / 64)];
    let lo = ALPHABET[usize::from(index % 64)];
    String::from_utf8_lossy(&[hi, lo]).into_owned()
}

/// A pinned header's index, or an error at the literal.
fn parse_pin(cx: &Ctxt, lit: &LitStr) -> Option<u16> {
    let text = lit.value();
    let bytes = text.as_bytes();
    let index = match bytes {
        [a, b] => symbol(*a).zip(symbol(*b)).map(|(a, b)| a * 64 + b),
        _ => None,
    };
    let Some(index) = index else {
        cx.error_spanned_by(
            lit,
            format!(
                "malformed header \"{}\": a header is 2 characters from `{}`",
                text.escape_debug(),
                String::from_utf8_lossy(ALPHABET)
            ),
        );
        return None;
    };
    if index >= APPLICATION_HEADERS {
        cx.error_spanned_by(lit, format!("header \"{text}\" is reserved: headers starting with `_` belong to the runtime's control messages"));
        return None;
    }
    Some(index)
}

/// One message version as the expansion needs it.
pub(crate) struct Message {
    pub(crate) name: String,
    pub(crate) version: u32,
    pub(crate) header: u16,
    pub(crate) pinned: bool,
}

/// Names, versions and headers of a protocol's variants; errors for bad
/// pins and versions, duplicate pins and duplicate (name, version).
pub(crate) fn messages(cx: &Ctxt, variants: &[Variant<'_>]) -> Vec<Message> {
    let mut pins: Vec<Option<u16>> = Vec::new();
    let mut names: Vec<(String, u32)> = Vec::new();
    for v in variants {
        let pin = v.attrs.str("header").and_then(|lit| parse_pin(cx, lit));
        if let (Some(pin), Some(lit)) = (pin, v.attrs.str("header"))
            && let Some(j) = pins.iter().position(|p| *p == Some(pin))
        {
            cx.error_spanned_by(
                lit,
                format!(
                    "duplicate header \"{}\": variant `{}` already pins it",
                    header_text(pin),
                    variants[j].ident
                ),
            );
        }
        pins.push(pin);
        let name = v
            .attrs
            .str("name")
            .map_or_else(|| v.ident.to_string(), LitStr::value);
        if let Some(lit) = v.attrs.str("name") {
            let ok = name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                cx.error_spanned_by(lit, "a message name starts with an uppercase letter and holds only letters, digits and `_`");
            }
        }
        let version = match v.attrs.int("version") {
            None => 1,
            Some(lit) => match lit.base10_parse::<u32>() {
                Ok(n @ 1..=65535) => n,
                _ => {
                    cx.error_spanned_by(lit, "versions run from 1 to 65535");
                    1
                }
            },
        };
        if let Some(j) = names.iter().position(|n| n.0 == name && n.1 == version) {
            cx.error_spanned_by(
                v.ident,
                format!("duplicate message `{name}` version {version}: variant `{}` already is that version", variants[j].ident),
            );
        }
        names.push((name, version));
        if let Shape::Tuple(t) = &v.shape {
            cx.error_spanned_by(t, "a message variant has named fields, one struct deriving tagwire::Codec, or nothing");
        }
        if let Some((_, d)) = &v.original.discriminant {
            cx.error_spanned_by(d, "message variants take no discriminant: the header identifies them (#[tagwire(header = \"..\")])");
        }
    }
    let taken: Vec<u16> = pins.iter().flatten().copied().collect();
    let mut used = vec![false; usize::from(APPLICATION_HEADERS)];
    for &p in &taken {
        used[usize::from(p)] = true;
    }
    let mut out = Vec::new();
    for ((v, pin), (name, version)) in variants.iter().zip(pins).zip(names) {
        let header = match pin {
            Some(p) => p,
            None => match (0..APPLICATION_HEADERS).find(|&h| !used[usize::from(h)]) {
                Some(h) => {
                    used[usize::from(h)] = true;
                    h
                }
                None => {
                    cx.error_spanned_by(v.ident, format!("no header left: a protocol has at most {APPLICATION_HEADERS} message versions"));
                    0
                }
            },
        };
        out.push(Message {
            name,
            version,
            header,
            pinned: v.attrs.str("header").is_some(),
        });
    }
    out
}

/// The wire values of a fieldless enum's variants (Rust's rule, which is the
/// schema's: 0 unless given, else the previous plus one), all `u32`.
pub(crate) fn enum_values(cx: &Ctxt, variants: &[Variant<'_>]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    let mut next: Option<u64> = Some(0);
    for v in variants {
        let value = match &v.original.discriminant {
            Some((_, expr)) => match expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(i),
                    ..
                }) => match i.base10_parse::<u32>() {
                    Ok(n) => Some(u64::from(n)),
                    Err(_) => {
                        cx.error_spanned_by(i, "an enum value is a u32 (0 to 4294967295)");
                        None
                    }
                },
                _ => {
                    cx.error_spanned_by(
                        expr,
                        "an enum value must be an integer literal from 0 to 4294967295",
                    );
                    None
                }
            },
            None => {
                match next {
                    Some(n) if n <= u64::from(u32::MAX) => Some(n),
                    _ => {
                        cx.error_spanned_by(v.ident, "the value after 4294967295 does not fit a u32: give this variant a value");
                        None
                    }
                }
            }
        };
        let value32 = value.and_then(|n| u32::try_from(n).ok());
        if let Some(n) = value32
            && let Some(j) = out.iter().position(|&o| o == n)
        {
            cx.error_spanned_by(
                v.ident,
                format!(
                    "duplicate enum value {n}: variant `{}` has it too",
                    variants[j].ident
                ),
            );
        }
        out.push(value32.unwrap_or(0));
        next = value.map(|n| n + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{ALPHABET, APPLICATION_HEADERS, header_text, symbol};

    #[test]
    fn headers_are_the_runtimes() {
        assert_eq!(ALPHABET, tagwire::ALPHABET);
        assert_eq!(APPLICATION_HEADERS, tagwire::FIRST_RESERVED_INDEX);
        for index in 0..tagwire::HEADER_COUNT {
            let header = tagwire::Header::from_index(index).expect("in range");
            assert_eq!(header_text(index), header.as_str());
            let [hi, lo] = header.to_bytes();
            assert_eq!(
                symbol(hi).zip(symbol(lo)).map(|(a, b)| a * 64 + b),
                Some(index)
            );
        }
    }
}
