//! The Tagwire schema compiler: `.schema` files to checked IR, stable headers
//! in `tagwire.lock`, and generated code.
//!
//! Passes run in order and each reports every problem it finds:
//! [`syntax`] (pest) → [`ast`] → [`check`] → [`ir`] → [`lock`] (headers and
//! compatibility) → generators.

pub mod ast;
pub mod diagnostic;
pub mod source;
pub mod syntax;
pub mod check;
pub mod header;
pub mod ir;
pub mod loader;
pub mod shape;
pub mod lock;
pub mod compile;

pub use compile::{FrontEnd, Output};
pub use lock::LockMode;
pub mod report;
pub mod formatter;
pub mod codegen;
pub mod builder;
pub use builder::Builder;
