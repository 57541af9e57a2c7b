//! No module of `src/` imports a sibling that imports it back, directly or
//! through others: each concept has one owner, reached through a narrow
//! interface, and such a circle is the sign of two owners. Read from the
//! `use` declarations and `crate::` paths of the source, as text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every module of the crate by path (`server::rooms`), with its source.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("src is readable")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file
                .strip_prefix(&src)
                .expect("under src")
                .with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&file).expect("a source file");
            (parts.join("::"), text)
        })
        .collect()
}

/// The paths a source names: `use` trees (flattened) and `crate::…` paths.
fn named_paths(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for statement in code.split(';') {
        let Some(at) = statement.find("use ") else {
            continue;
        };
        let before = &statement[..at];
        if !before.trim().is_empty()
            && !before.trim_end().ends_with("pub")
            && !before.trim_end().ends_with(')')
            && !before.trim_end().ends_with('}')
            && !before.trim_end().ends_with(']')
        {
            continue;
        }
        let tree: String = statement[at + 4..]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        flatten("", &tree, &mut out);
    }
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let path: String = rest[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        out.push(path.trim_end_matches(':').to_owned());
        rest = &rest[at + 7..];
    }
    out
}

/// `a::{b, c::{d}}` into `a::b`, `a::c::d`.
fn flatten(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let join = |p: &str, s: &str| {
        if p.is_empty() {
            s.to_owned()
        } else {
            format!("{p}::{s}")
        }
    };
    match tree.find('{') {
        None => out.push(join(prefix, tree.split(" as ").next().unwrap_or(tree))),
        Some(open) => {
            let head = join(prefix, tree[..open].trim_end_matches(':'));
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        flatten(&head, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            if start < inner.len() {
                flatten(&head, &inner[start..], out);
            }
        }
    }
}

/// The module a path names, seen from `from`.
fn resolve(from: &str, path: &str, known: &BTreeSet<String>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    let mut base: Vec<&str> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").collect()
    };
    match parts.first() {
        Some(&"crate") => {
            base.clear();
            parts.remove(0);
        }
        Some(&"super") => {
            while parts.first() == Some(&"super") {
                base.pop();
                parts.remove(0);
            }
        }
        Some(&"self") => {
            parts.remove(0);
        }
        _ => return None,
    }
    base.extend(parts);
    (0..=base.len())
        .rev()
        .map(|n| base[..n].join("::"))
        .find(|m| known.contains(m))
}

#[test]
fn no_module_imports_a_sibling_that_imports_it_back() {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut edges = BTreeSet::new();
    for (module, text) in &modules {
        for path in named_paths(text) {
            if let Some(target) = resolve(module, &path, &known)
                && target != *module
            {
                edges.insert((module.clone(), target));
            }
        }
    }
    assert!(
        edges.len() > 50,
        "the reading found too few imports: {edges:?}"
    );
    // Between the children of each module: A → B when something in A names something in B.
    let child_of = |module: &str, parent: &str| -> Option<String> {
        let rest = if parent.is_empty() {
            module
        } else {
            module.strip_prefix(parent)?.strip_prefix("::")?
        };
        let first = rest.split("::").next().filter(|s| !s.is_empty())?;
        Some(if parent.is_empty() {
            first.to_owned()
        } else {
            format!("{parent}::{first}")
        })
    };
    let mut circles = Vec::new();
    for parent in known.iter() {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in &edges {
            if let (Some(a), Some(b)) = (child_of(from, parent), child_of(to, parent))
                && a != b
            {
                graph.entry(a).or_default().insert(b);
            }
        }
        for (start, nexts) in &graph {
            // A circle through `start`: some module it names reaches it back.
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&String> = nexts.iter().collect();
            while let Some(m) = stack.pop() {
                if m == start {
                    circles.push(format!("{start} ↔ (under `{parent}`)"));
                    break;
                }
                if seen.insert(m.clone()) {
                    stack.extend(graph.get(m).into_iter().flatten());
                }
            }
        }
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}
