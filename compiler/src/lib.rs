//! The Tagwire schema compiler: `.schema` files to checked IR, stable headers
//! in `tagwire.lock`, and generated code.
//!
//! Passes run in order and each reports every problem it finds:
//! [`syntax`] (pest) → [`ast`] → [`check`] → [`ir`] → [`lock`] (headers and
//! compatibility) → generators.

pub mod ast;
pub mod check;
mod code;
pub mod compile;
pub mod diagnostic;
pub mod evolve;
pub mod header;
pub mod ir;
pub mod loader;
pub mod lock;
pub mod pattern;
pub mod shape;
pub mod source;
pub mod syntax;

pub use compile::{FrontEnd, Output};
pub use diagnostic::{Diagnostic, DiagnosticCode, Severity};
pub use lock::LockMode;
pub mod builder;
pub mod codegen;
#[cfg(feature = "cli")]
pub mod formatter;
#[cfg(feature = "cli")]
pub mod report;
pub use builder::Builder;
#[cfg(feature = "dynamic")]
pub mod dynamic;
