//! Compiles schema/order.schema with canonical JSON on, as a user's build
//! script would.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=schema");
    tagwire_compiler::Builder::new()
        .schema("schema/order.schema")
        .canonical_json(true)
        .compile()?;
    Ok(())
}
