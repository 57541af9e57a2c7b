//! Compiles every schema under ../schemas (recursively) with the Builder, as
//! a user's build script would, and records which packages were generated.
//! Also compiles the two weeks of package `live` (fixtures/evolution/v1 and
//! v2) into their own subdirectories of OUT_DIR, since both are `live.rs`.

use std::path::{Path, PathBuf};

fn schemas(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            schemas(&path, out);
        } else if path.extension().is_some_and(|e| e == "schema") {
            out.push(path);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // New schema files appear without any known file changing.
    println!("cargo:rerun-if-changed=../schemas");
    let mut found = Vec::new();
    schemas(Path::new("../schemas"), &mut found);
    let mut builder = tagwire_compiler::Builder::new();
    for schema in &found {
        builder.schema(schema);
    }
    builder
        .serde(true)
        .canonical_json(true)
        .type_attribute("everything.Color", "#[derive(PartialOrd, Ord)]");
    let written = builder.compile()?;
    let mut packages: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    packages.sort();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("packages.txt"), packages.join("\n"))?;
    evolution(&out)?;
    Ok(())
}

/// `tagwire_tests::evolution::{v1, v2}::live`: canonical JSON so the
/// evolution server can print what its handler received.
fn evolution(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    for week in ["v1", "v2"] {
        let dir = out.join("evolution").join(week);
        std::fs::create_dir_all(&dir)?;
        tagwire_compiler::Builder::new()
            .schema(format!("fixtures/evolution/{week}/live.schema"))
            .canonical_json(true)
            .out_dir(&dir)
            .compile()?;
    }
    Ok(())
}
