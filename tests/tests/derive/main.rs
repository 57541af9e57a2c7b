//! `#[derive(tagwire::Codec, tagwire::Protocol)]`: the frames, exported
//! schemas and lock of derive-defined protocols. One test binary for what
//! used to be one per file, so the runtime is linked once instead of five
//! times; each former file (`derive_*.rs`) is a module.

#[path = "../common/mod.rs"]
mod common;

mod conformance;
mod everything;
mod lock;
mod schema;
mod ui;
