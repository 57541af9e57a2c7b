//! Cross-crate tests for Tagwire. The build script compiles every schema in
//! `schemas/` with `tagwire_compiler::Builder`; this crate includes the
//! generated modules so the tests in `tests/tests/` can use them.
//!
//! The README's Rust quickstart, run as a doctest against the generated `ui` module:
//!
//! ```
//! use tagwire::Protocol;
//! use tagwire_tests::ui;
//!
//! let message = ui::ServerMessage::UpdateUiV1(ui::UpdateUiV1 {
//!     id: "main".into(),
//!     patch: b"<b>".to_vec(),
//! });
//! let text = message.to_text();
//! assert_eq!(text, "ab|main|PGI-"); // header `ab`, then id, then the patch in base64url
//! let binary = message.to_binary();
//! assert_eq!(&binary[..2], b"ab");
//!
//! match ui::ServerMessage::decode_text(&text)? {
//!     ui::ServerMessage::UpdateUiV1(update) => assert_eq!(update.id, "main"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! assert_eq!(ui::ServerMessage::decode_binary(&binary)?, message);
//! # Ok::<(), tagwire::DecodeError>(())
//! ```

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

pub mod derive_mirror;
/// Connecting a backend by engine name (`presence-node`, the engine tests).
pub mod engine;
/// Package `live` at v1 and v2 with the application's conversions (docs/EVOLUTION.md).
pub mod evolution;
/// Nodes, clients, publishers and the delivery check of the tests behind HAProxy.
pub mod fleet;
/// HAProxy in front of those tests' nodes: configuration, process, stats.
pub mod haproxy;
/// A TypeScript script of tests/typescript compiled with the runtime, to run under Node.
pub mod node_script;
/// Child processes killed and reaped when dropped.
pub mod process;
/// A redis-server of one test's own, to kill, restart, stop and continue.
pub mod redis_cluster;
pub mod redis_server;
pub mod relay_app;
pub mod services;
/// What the test-server binaries share (flags, start-up).
pub mod test_server;

/// The runtime's test protocol (rooms, publish, echo).
pub mod relay {
    tagwire::include_protocol!("relay");
}

/// Constraints on fields and rate limits (SPEC §6.4).
pub mod signup {
    tagwire::include_protocol!("signup");
}

pub mod ui {
    tagwire::include_protocol!("ui");
}

/// The packages this crate includes, to compare with what the build script
/// generated (`GENERATED_PACKAGES`): a new schema must be added above.
pub const INCLUDED_PACKAGES: &[&str] = &[
    "article",
    "chat",
    "everything",
    "geometry",
    "relay",
    "signup",
    "ui",
];

/// The packages the build script generated, one per line.
pub const GENERATED_PACKAGES: &str = include_str!(concat!(env!("OUT_DIR"), "/packages.txt"));
