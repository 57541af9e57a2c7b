//! Compiles the protocol into `$OUT_DIR/chat.rs` (included in `src/main.rs`)
//! and keeps `schema/tagwire.lock` beside it up to date.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tagwire_compiler::Builder::new()
        .schema("schema/chat.schema")
        .compile()?;
    Ok(())
}
