//! The same protocol as the chat server: the schema, and its lock, live in
//! the chat example.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tagwire_compiler::Builder::new()
        .schema("../chat/schema/chat.schema")
        .compile()?;
    Ok(())
}
