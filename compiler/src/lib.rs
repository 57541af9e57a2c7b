//! The Tagwire schema compiler: `.schema` files to checked IR, stable headers
//! in `tagwire.lock`, and generated code.
//!
//! Most users need only [`Builder`], in a build script. Tools that want the
//! checked schema or the diagnostics run the [`FrontEnd`] and read its
//! [`Output`]: the IR in [`ir`], diagnostics in [`diagnostic`] (every code
//! is a [`DiagnosticCode`], listed in docs/DIAGNOSTICS.md), and the
//! generators and their options in [`codegen`].
//!
//! Inside, passes run in order and each reports every problem it finds:
//! parsing (pest) → AST → checks → IR → lock (headers and compatibility) →
//! generators.
//!
//! Features (none by default, which is what a build script needs): `cli`
//! builds the `tagwire` binary and what only it uses; `dynamic` adds the
//! schema-driven codec (module `dynamic`).

// The parser's generated code names `::alloc`: pest is built without its
// `std` feature (see the workspace manifest), which leaves that to the crate.
extern crate alloc;

pub mod codegen;
pub mod diagnostic;
#[cfg(feature = "dynamic")]
pub mod dynamic;
pub mod ir;
pub mod source;

pub use builder::{Builder, Error as BuildError, LOCKED_ENV};
pub use compile::{FrontEnd, Output};
pub use diagnostic::{Diagnostic, DiagnosticCode, Severity};
pub use header::{APPLICATION_HEADERS, HeaderError};
pub use lock::{Entry as LockEntry, FILE_NAME as LOCK_FILE_NAME, LockFile, LockMode, LockPlan};
pub use source::Overlay;
pub use syntax::{MAX_NESTING, MAX_SOURCE_BYTES, ParseCache};

// The `tagwire` binary's own views (`tagwire fmt`, `tagwire headers`,
// `tagwire dump`) and `tagwire new`'s templates; public only because the binary is another crate, and not
// part of the library's API.
#[cfg(any(feature = "cli", feature = "lsp"))]
#[doc(hidden)]
pub mod formatter;
#[cfg(feature = "lsp")]
#[doc(hidden)]
pub mod lsp;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod report;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod scaffold;

mod ast;
mod builder;
mod check;
mod code;
mod compile;
mod evolve;
mod header;
mod loader;
mod lock;
mod pattern;
mod shape;
mod syntax;
