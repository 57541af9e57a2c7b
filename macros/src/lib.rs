//! Derive macros for Rust-first Tagwire protocols (`#[derive(tagwire::Protocol)]`).
//!
//! Empty until the derive work lands; the crate builds so the workspace shape is settled.
