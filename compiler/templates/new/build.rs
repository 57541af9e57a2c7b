//! Compiles the protocol into `$OUT_DIR/{{package}}.rs` (included in `src/main.rs`)
//! and keeps `schema/tagwire.lock` up to date.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tagwire_compiler::Builder::new()
        .schema("schema/{{package}}.schema")
        .compile()?;
    Ok(())
}
