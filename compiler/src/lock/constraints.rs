//! Whether a locked shape and a new one differ only in their constraints, and
//! if so which way: a shape's text (`{name: string @len(1..=64)}`) is all the
//! lock keeps, so the comparison reads constraints back from it.

/// How the constraints changed between two shapes that are otherwise equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Change {
    /// Values the old shape accepted that the new one refuses.
    pub tightened: Vec<String>,
    /// Values the new shape accepts that the old one refused.
    pub loosened: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Found {
    /// Where in the shape with constraints removed.
    at: usize,
    /// Which value: the field or type the constraint follows.
    place: String,
    name: String,
    arg: String,
}

/// `None` when the shapes differ in more than constraints.
pub(super) fn compare(old: &str, new: &str) -> Option<Change> {
    let (old_base, old_found) = split(old);
    let (new_base, new_found) = split(new);
    if old_base != new_base {
        return None;
    }
    let mut change = Change::default();
    let mut places: Vec<usize> = old_found.iter().chain(&new_found).map(|f| f.at).collect();
    places.sort_unstable();
    places.dedup();
    for at in places {
        let here = |list: &[Found]| -> Vec<Found> {
            list.iter().filter(|f| f.at == at).cloned().collect()
        };
        let (before, after) = (here(&old_found), here(&new_found));
        for f in &before {
            match after.iter().find(|g| g.name == f.name) {
                None => change
                    .loosened
                    .push(format!("`@{}({})` removed from {}", f.name, f.arg, f.place)),
                Some(g) if g.arg == f.arg => {}
                Some(g) => {
                    let line = format!(
                        "{}: `@{}({})` became `@{}({})`",
                        f.place, f.name, f.arg, g.name, g.arg
                    );
                    if looser_or_equal(&f.name, &f.arg, &g.arg) {
                        change.loosened.push(line);
                    } else {
                        change.tightened.push(line);
                    }
                }
            }
        }
        for g in &after {
            if !before.iter().any(|f| f.name == g.name) {
                change
                    .tightened
                    .push(format!("`@{}({})` added to {}", g.name, g.arg, g.place));
            }
        }
    }
    Some(change)
}

/// A pattern that changed at all counts as tighter: whether one regular
/// expression accepts everything another does is not worth deciding here.
fn looser_or_equal(name: &str, old: &str, new: &str) -> bool {
    if name == "pattern" {
        return old == new;
    }
    let (Some((old_min, old_max)), Some((new_min, new_max))) = (bounds(old), bounds(new)) else {
        return false;
    };
    let le = |a: &str, b: &str| -> bool {
        match (a.parse::<i128>(), b.parse::<i128>()) {
            (Ok(a), Ok(b)) => a <= b,
            _ => match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(a), Ok(b)) => a <= b,
                _ => false,
            },
        }
    };
    let min_ok = match (&old_min, &new_min) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(o), Some(n)) => le(n, o),
    };
    let max_ok = match (&old_max, &new_max) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(o), Some(n)) => le(o, n),
    };
    min_ok && max_ok
}

type Bounds = (Option<String>, Option<String>);

/// `1..=64`, `1..`, `..=64` or `5` (exactly).
fn bounds(arg: &str) -> Option<Bounds> {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    if let Some((a, b)) = arg.split_once("..=") {
        return Some((some(a), some(b)));
    }
    if let Some(a) = arg.strip_suffix("..") {
        return Some((some(a), None));
    }
    Some((some(arg), some(arg)))
}

/// The shape without its constraints, and the constraints with where they were.
fn split(shape: &str) -> (String, Vec<Found>) {
    let mut base = String::with_capacity(shape.len());
    let mut found = Vec::new();
    let mut rest = shape;
    while let Some(i) = rest.find(" @") {
        let after = &rest[i + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let (name, tail) = after.split_at(name_len);
        let Some(arg_and_more) = tail.strip_prefix('(') else {
            base.push_str(&rest[..i + 2]);
            rest = after;
            continue;
        };
        let end = argument_end(arg_and_more);
        base.push_str(&rest[..i]);
        found.push(Found {
            at: base.len(),
            place: place(&base),
            name: name.to_string(),
            arg: arg_and_more[..end].to_string(),
        });
        rest = arg_and_more.get(end + 1..).unwrap_or("");
    }
    base.push_str(rest);
    (base, found)
}

/// Index of the `)` closing an argument; a quoted pattern may hold `)`.
fn argument_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b')' if !quoted => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// The field (or definition) a constraint belongs to: the last `name:` or
/// `pkg.Type =` before it.
fn place(base: &str) -> String {
    let field = base.rfind(": ").map(|colon| {
        let head = &base[..colon];
        let start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        (colon, head[start..].to_string())
    });
    match field {
        Some((_, name)) if !name.is_empty() => format!("`{name}`"),
        _ => "the message".to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn loosening_and_tightening_are_told_apart() {
        let old = "{name: string @len(1..=64), n: u32 @range(1..=100), tags: [string] @len(..=20)}";
        let looser = "{name: string @len(0..=128), n: u32, tags: [string] @len(..=20)}";
        let change = compare(old, looser).unwrap();
        assert!(change.tightened.is_empty(), "{change:?}");
        assert_eq!(change.loosened.len(), 2, "{change:?}");
        let tighter = "{name: string @len(1..=64) @pattern(\"^a\"), n: u32 @range(1..=99), tags: [string] @len(..=20)}";
        let change = compare(old, tighter).unwrap();
        assert_eq!(change.tightened.len(), 2, "{change:?}");
        assert!(
            change.tightened.iter().any(|t| t.contains("`n`")),
            "{change:?}"
        );
        assert!(compare(old, "{name: string}").is_none());
    }

    #[test]
    fn patterns_with_parentheses_are_read_whole() {
        let old = "{a: string @pattern(\"(x)\\\" @len(1)\")}";
        let (base, found) = split(old);
        assert_eq!(base, "{a: string}");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].arg, "\"(x)\\\" @len(1)\"");
        let change = compare(old, "{a: string}").unwrap();
        assert_eq!(change.loosened.len(), 1);
    }
}
