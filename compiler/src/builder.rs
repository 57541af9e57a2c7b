//! Build-script integration, in the style of `prost-build`.
//!
//! Add `tagwire-compiler` as a build dependency (its default features leave
//! the CLI out) and `tagwire` as a dependency; until they are on crates.io,
//! from a checkout (the README has the git form):
//!
//! ```toml
//! [dependencies]
//! tagwire = { path = "../tagwire/runtime/rust" }
//!
//! [build-dependencies]
//! tagwire-compiler = { path = "../tagwire/compiler" }
//! ```
//!
//! then compile the schemas in `build.rs` and include the generated module:
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     tagwire_compiler::Builder::new().schema("schemas/ui.schema").compile()?;
//!     Ok(())
//! }
//! ```
//!
//! ```text
//! // src/lib.rs
//! pub mod ui {
//!     tagwire::include_protocol!("ui");
//! }
//!
//! use tagwire::Protocol;
//! let frame = ui::ServerMessage::from(ui::UpdateUiV1 { id: "main".into(), patch: vec![1] }).to_text();
//! ```
//!
//! The lock file behaves like `Cargo.lock`: additive changes (new messages
//! or versions) are written to `tagwire.lock` beside the schema; with
//! [`Builder::locked`] or `TAGWIRE_LOCKED=1` in the environment (set it in
//! CI) any change the lock would need fails the build instead. A breaking
//! change to a locked message version always fails the build, with the same
//! diagnostic the `tagwire` CLI prints.

use crate::codegen::rust::{self, RustOptions};
use crate::compile::{FrontEnd, Output};
use crate::lock::LockMode;
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable that turns on locked mode for every build script.
pub const LOCKED_ENV: &str = "TAGWIRE_LOCKED";

/// Compiles schemas to Rust from a build script.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    schemas: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    options: RustOptions,
    /// `None` leaves the choice to `TAGWIRE_LOCKED`; an explicit setting wins.
    locked: Option<bool>,
    emit_rerun: bool,
}

/// Why a build failed: schema diagnostics (rendered as the CLI renders them,
/// without colour), a lock change refused in locked mode, or an I/O error.
///
/// `Debug` prints the same text as `Display`, so `fn main() -> Result<…>` in
/// a build script shows readable diagnostics rather than an escaped string.
pub struct Error {
    message: String,
}

impl Error {
    fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
        }
    }

    /// The full, human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Builder {
    pub fn new() -> Self {
        Builder {
            emit_rerun: true,
            ..Builder::default()
        }
    }

    /// Adds a root schema file (relative paths are relative to the package
    /// root, where cargo runs build scripts). Its imports are read too.
    pub fn schema(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.schemas.push(path.as_ref().to_path_buf());
        self
    }

    /// Where to write `<package>.rs`; defaults to cargo's `OUT_DIR`.
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Derive `serde::Serialize` and `serde::Deserialize` on generated types.
    pub fn serde(&mut self, enable: bool) -> &mut Self {
        self.options.serde = enable;
        self
    }

    /// Generate canonical JSON functions (SPEC §8) on every type and on the
    /// protocol enums; see [`RustOptions::canonical_json`]. The crate must
    /// enable the `json` feature of `tagwire`.
    pub fn canonical_json(&mut self, enable: bool) -> &mut Self {
        self.options.canonical_json = enable;
        self
    }

    /// Generate the codecs only, without conversions between message
    /// versions; see [`RustOptions::codec_only`].
    pub fn codec_only(&mut self, enable: bool) -> &mut Self {
        self.options.codec_only = enable;
        self
    }

    /// Adds an attribute to matching generated types; see
    /// [`RustOptions::type_attribute`] for paths.
    pub fn type_attribute(
        &mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> &mut Self {
        self.options.type_attribute(path, attribute);
        self
    }

    /// Fail instead of writing when `tagwire.lock` would change (as
    /// `cargo --locked`). Also on when `TAGWIRE_LOCKED=1`.
    pub fn locked(&mut self, locked: bool) -> &mut Self {
        self.locked = Some(locked);
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (on by default; turn
    /// off when not running inside a build script).
    pub fn emit_rerun_if_changed(&mut self, emit: bool) -> &mut Self {
        self.emit_rerun = emit;
        self
    }

    fn is_locked(&self) -> bool {
        self.locked.unwrap_or_else(|| {
            std::env::var(LOCKED_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        })
    }

    /// Runs the compiler: checks the schemas, updates the lock (or refuses
    /// to, when locked), and writes one `<package>.rs` per package.
    ///
    /// Diagnostics are also printed to stderr, which cargo shows when the
    /// build script fails; warnings on a successful build become
    /// `cargo:warning=` lines.
    ///
    /// Returns the files written (or already up to date).
    pub fn compile(&self) -> Result<Vec<PathBuf>, Error> {
        if self.emit_rerun {
            println!("cargo:rerun-if-env-changed={LOCKED_ENV}");
            // A schema that failed to load is not in the output's sources.
            for schema in &self.schemas {
                println!("cargo:rerun-if-changed={}", schema.display());
            }
        }
        if self.schemas.is_empty() {
            return Err(Error::new(
                "tagwire: Builder::compile called without any .schema()",
            ));
        }
        self.options
            .validate()
            .map_err(|e| Error::new(format!("tagwire: {e}")))?;
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    Error::new(
                        "tagwire: OUT_DIR is not set (not in a build script?); call .out_dir()",
                    )
                })?,
        };
        let mut front_end = FrontEnd::new();
        for schema in &self.schemas {
            front_end.schema(schema);
        }
        let mode = if self.is_locked() {
            LockMode::Locked
        } else {
            LockMode::Update
        };
        let output = front_end.lock_mode(mode).run();
        if self.emit_rerun {
            emit_rerun_lines(&output);
        }
        let rendered = output.render_text();
        if output.has_errors() {
            eprint!("{rendered}");
            let mut message = format!("tagwire: the schema has errors\n\n{rendered}");
            if mode == LockMode::Locked {
                message.push_str(&format!(
                    "\n(locked mode: `.locked(true)` or {LOCKED_ENV}=1; run `tagwire lock` or build without it to update tagwire.lock)\n"
                ));
            }
            return Err(Error::new(message));
        }
        if self.emit_rerun {
            for line in rendered.lines().filter(|l| !l.trim().is_empty()) {
                println!("cargo:warning={line}");
            }
        } else if !rendered.is_empty() {
            eprint!("{rendered}");
        }
        output
            .write_locks()
            .map_err(|e| Error::new(format!("tagwire: cannot write tagwire.lock: {e}")))?;
        let files = rust::generate_rust_files(&output, &self.options)
            .map_err(|e| Error::new(format!("tagwire: {e}")))?;
        rust::write_to(&out_dir, &files).map_err(|e| {
            Error::new(format!(
                "tagwire: cannot write to `{}`: {e}",
                out_dir.display()
            ))
        })
    }
}

fn emit_rerun_lines(output: &Output) {
    for (_, file) in output.sources.files() {
        println!("cargo:rerun-if-changed={}", file.path.display());
    }
    for plan in &output.locks {
        println!("cargo:rerun-if-changed={}", plan.path.display());
    }
}
