//! docs/DIAGNOSTICS.md and [`DiagnosticCode`] list the same codes, with the
//! same names and meanings: a code added, renamed or reworded in one place
//! and not the other fails here.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use tagwire_compiler::DiagnosticCode;

/// Each `## E0091 BreakingChange` heading of the page, with the first
/// paragraph under it (the meaning).
fn documented() -> BTreeMap<String, (String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/DIAGNOSTICS.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut entries = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(heading) = line.strip_prefix("## ") else {
            continue;
        };
        let (code, name) = heading.split_once(' ').unwrap_or((heading, ""));
        let meaning = lines.by_ref().find(|l| !l.trim().is_empty()).unwrap_or("");
        let previous = entries.insert(code.to_string(), (name.to_string(), meaning.to_string()));
        assert!(previous.is_none(), "{code} is documented twice");
    }
    entries
}

/// The page writes each meaning as a sentence: capitalised, with a full stop.
fn as_sentence(meaning: &str) -> String {
    let mut chars = meaning.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    format!("{}{}.", first.unwrap_or_default(), chars.as_str())
}

#[test]
fn every_code_is_documented_with_its_name_and_meaning() {
    let documented = documented();
    for &code in DiagnosticCode::ALL {
        let Some((name, meaning)) = documented.get(code.as_str()) else {
            panic!("{code} ({code:?}) is missing from docs/DIAGNOSTICS.md");
        };
        assert_eq!(name, &format!("{code:?}"), "{code}: name differs");
        assert_eq!(
            meaning,
            &as_sentence(code.meaning()),
            "{code}: meaning differs"
        );
    }
}

#[test]
fn every_documented_code_exists() {
    for code in documented().keys() {
        assert!(
            DiagnosticCode::from_code(code).is_some(),
            "docs/DIAGNOSTICS.md documents {code}, which is not a DiagnosticCode"
        );
    }
}
