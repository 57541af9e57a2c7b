//! Compiles `schema/traffic.schema` with Tagwire's Builder (serde derives for
//! serde_json and postcard, bitcode's derives through `type_attribute`,
//! canonical JSON for the dataset file) and `schema/traffic.proto` with
//! protox + prost-build (no protoc needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tagwire_compiler::Builder::new()
        .schema("schema/traffic.schema")
        .serde(true)
        .canonical_json(true)
        .type_attribute(".", "#[derive(::bitcode::Encode, ::bitcode::Decode)]")
        .compile()?;

    println!("cargo:rerun-if-changed=schema/traffic.proto");
    let descriptors = protox::compile(["traffic.proto"], ["schema"])?;
    // Beside Tagwire's `traffic.rs`, which has the same name.
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("proto");
    std::fs::create_dir_all(&out)?;
    prost_build::Config::new()
        .out_dir(&out)
        .compile_fds(descriptors)?;
    Ok(())
}
