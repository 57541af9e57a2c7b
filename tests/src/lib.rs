//! Cross-crate tests for Tagwire. The build script compiles every schema in
//! `schemas/` with `tagwire_compiler::Builder`; this crate includes the
//! generated modules so the tests in `tests/tests/` can use them.

pub mod article {
    tagwire::include_protocol!("article");
}

pub mod chat {
    tagwire::include_protocol!("chat");
}

pub mod everything {
    tagwire::include_protocol!("everything");
}

pub mod geometry {
    tagwire::include_protocol!("geometry");
}

pub mod ui {
    tagwire::include_protocol!("ui");
}

/// The packages this crate includes, to compare with what the build script
/// generated (`GENERATED_PACKAGES`): a new schema must be added above.
pub const INCLUDED_PACKAGES: &[&str] = &["article", "chat", "everything", "geometry", "ui"];

/// The packages the build script generated, one per line.
pub const GENERATED_PACKAGES: &str = include_str!(concat!(env!("OUT_DIR"), "/packages.txt"));
