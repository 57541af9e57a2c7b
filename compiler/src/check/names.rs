//! Naming rules: which identifiers generated Rust and TypeScript can carry.

/// Rust keywords that cannot be written as raw identifiers (`r#self` is invalid).
const UNESCAPABLE_RUST: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Names generated code or its runtimes already use in the same scope, in
/// Rust or TypeScript; a schema type with one of them would shadow it.
const RESERVED_TYPE_NAMES: &[&str] = &[
    // Rust prelude and std types the generated Rust refers to.
    "Box",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "String",
    "Vec",
    "BTreeMap",
    "Self",
    // TypeScript globals the generated TypeScript refers to.
    "Array",
    "Map",
    "Set",
    "Uint8Array",
    "Record",
    "Object",
    "Number",
    "Boolean",
    "BigInt",
    "Symbol",
    "Error",
    "Promise",
    "Date",
    "JSON",
    "Math",
    // Items every generated module defines.
    "ServerMessage",
    "ClientMessage",
    "Protocol",
    "Header",
    "DecodeError",
    "Limits",
    "PROTOCOL_FINGERPRINT",
    "HEADERS",
    "Package",
    "PRESENCE",
    "PRESENCE_HEADERS",
    "PresenceState",
];

pub fn package_name_problem(name: &str) -> Option<String> {
    if !name.starts_with(|c: char| c.is_ascii_lowercase())
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Some(
            "package names are lowercase: letters, digits and `_`, starting with a letter".into(),
        );
    }
    if is_rust_keyword(name) || is_typescript_reserved(name) {
        return Some(format!(
            "`{name}` is a keyword in Rust or TypeScript and cannot name a module"
        ));
    }
    None
}

/// Types and messages name generated Rust types and TypeScript types and
/// classes, so they start with an uppercase letter (which also keeps them
/// clear of every lowercase keyword in both languages).
pub fn type_name_problem(name: &str) -> Option<String> {
    if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Some("type and message names start with an uppercase letter".into());
    }
    if RESERVED_TYPE_NAMES.contains(&name) {
        return Some(format!("`{name}` is used by generated code or its runtime"));
    }
    None
}

/// Fields become Rust fields (raw identifiers escape most keywords) and
/// TypeScript properties (any identifier works), so little is ruled out.
pub fn member_name_problem(name: &str) -> Option<String> {
    if UNESCAPABLE_RUST.contains(&name) {
        return Some(format!(
            "`{name}` cannot be used as a name in generated Rust, even as a raw identifier"
        ));
    }
    if name.starts_with("__") {
        return Some("names starting with `__` are reserved for generated code".into());
    }
    None
}

/// `circle` and `my_shape` become `Circle` and `MyShape` in Rust enums.
pub fn pascal_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

pub fn is_rust_keyword(name: &str) -> bool {
    matches!(
        name,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

pub fn is_typescript_reserved(name: &str) -> bool {
    matches!(
        name,
        "break"
            | "case"
            | "catch"
            | "class"
            | "const"
            | "continue"
            | "debugger"
            | "default"
            | "delete"
            | "do"
            | "else"
            | "enum"
            | "export"
            | "extends"
            | "false"
            | "finally"
            | "for"
            | "function"
            | "if"
            | "import"
            | "in"
            | "instanceof"
            | "new"
            | "null"
            | "return"
            | "super"
            | "switch"
            | "this"
            | "throw"
            | "true"
            | "try"
            | "typeof"
            | "var"
            | "void"
            | "while"
            | "with"
            | "implements"
            | "interface"
            | "let"
            | "package"
            | "private"
            | "protected"
            | "public"
            | "static"
            | "yield"
            | "await"
    )
}

/// Edit distance, for "did you mean" suggestions on unknown names. Swapping
/// two neighbouring letters (`Itme` for `Item`) counts as one edit, as it is
/// the most common typo (optimal string alignment distance).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between the first i chars of `a` and the first j of `b`.
    let mut rows: Vec<Vec<usize>> = vec![(0..=b.len()).collect()];
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let previous = &rows[i - 1];
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j - 1] + cost)
                .min(previous[j] + 1)
                .min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            current[j] = best;
        }
        rows.push(current);
    }
    rows[a.len()][b.len()]
}

pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// `RenderUi` → `RENDER_UI`, `HTTPRequest` → `HTTP_REQUEST`.
pub fn screaming_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let previous = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if previous != '_'
                && (previous.is_lowercase()
                    || previous.is_ascii_digit()
                    || (previous.is_uppercase() && next_lower))
            {
                out.push('_');
            }
        }
        out.extend(c.to_uppercase());
    }
    out
}
