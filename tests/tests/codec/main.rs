//! The generated codec: round trips, golden frames, the generated code
//! itself, constraints, canonical JSON and hostile frames into every
//! decoder. One test binary for what used to be one per file, so the
//! runtime is linked once instead of six times; each former file is a
//! module, and its insta snapshots are under `snapshots/` named after it
//! (`codec__golden__*.snap`).

#[path = "../common/mod.rs"]
mod common;

mod canonical_json;
mod codegen;
mod constraints;
mod golden;
mod hostile;
mod round_trip;
