//! Compiles the board protocol into `$OUT_DIR/board.rs` (included in `src/main.rs`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tagwire_compiler::Builder::new()
        .schema("schema/board.schema")
        .compile()?;
    Ok(())
}
