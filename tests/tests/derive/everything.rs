//! A derive-defined mirror of `schemas/everything/everything.schema`: the
//! same package, types, field order, enum values, union variants and pinned
//! headers (those of `schemas/everything/tagwire.lock`).
//!
//! The derive takes one direction per protocol enum, and the schema mixes
//! them, so the mirror is three enums sharing the package (as DERIVE.md
//! describes): `ServerMsg` (Scalars, Composites), `ClientMsg` (Collections,
//! CursorMove) and `BothMsg` (Optionals, Nothing). Everything else is mirrored
//! as is.
//!
//! For random values of the generated `tagwire_tests::everything` types
//! (tests/common's strategies, with every awkward string, float and integer
//! extreme), the derive value converted from them produces byte-identical
//! frames in both encodings, and each side decodes the other's frames. The
//! exported schemas pass `LockMode::Locked` against the committed lock.
#![allow(clippy::unwrap_used)]

use crate::common;

use tagwire::{Protocol, SchemaExport};
use tagwire_compiler::{FrontEnd, LockMode};
use tagwire_tests::derive_mirror::{BothMsg, ClientMsg, ServerMsg};
use tagwire_tests::everything as g;

use proptest::prelude::*;

/// Same frames in both encodings, and each side decodes the other's frames
/// (compared by re-encoding: NaN != NaN).
fn same_wire<D: Protocol, G: Protocol>(derived: &D, generated: &G) -> Result<(), TestCaseError> {
    let (text, binary) = (generated.to_text(), generated.to_binary());
    prop_assert_eq!(derived.header(), generated.header());
    prop_assert_eq!(&derived.to_text(), &text);
    prop_assert_eq!(&derived.to_binary(), &binary);
    let d = D::decode_text(&text).map_err(|e| TestCaseError::fail(format!("derive text: {e}")))?;
    prop_assert_eq!(&d.to_text(), &text);
    let d = D::decode_binary(&binary)
        .map_err(|e| TestCaseError::fail(format!("derive binary: {e}")))?;
    prop_assert_eq!(&d.to_binary(), &binary);
    let g = G::decode_text(&derived.to_text())
        .map_err(|e| TestCaseError::fail(format!("generated text: {e}")))?;
    prop_assert_eq!(&g.to_text(), &text);
    let g = G::decode_binary(&derived.to_binary())
        .map_err(|e| TestCaseError::fail(format!("generated binary: {e}")))?;
    prop_assert_eq!(&g.to_binary(), &binary);
    Ok(())
}

proptest! {
    #[test]
    fn scalars_match_generated_code(m in common::scalars()) {
        same_wire(&ServerMsg::Scalars((&m).into()), &g::ServerMessage::from(m))?;
    }

    #[test]
    fn composites_match_generated_code(m in common::composites()) {
        same_wire(&ServerMsg::Composites((&m).into()), &g::ServerMessage::from(m))?;
    }

    #[test]
    fn collections_match_generated_code(m in common::collections()) {
        same_wire(&ClientMsg::Collections((&m).into()), &g::ClientMessage::from(m))?;
    }

    #[test]
    fn cursor_moves_match_generated_code(m in common::cursor()) {
        let derived = ClientMsg::CursorMove { user: m.user, x: m.x, y: m.y, buttons: m.buttons };
        same_wire(&derived, &g::ClientMessage::from(m))?;
    }

    #[test]
    fn optionals_match_generated_code_both_ways(m in common::optionals()) {
        let derived = BothMsg::Optionals((&m).into());
        same_wire(&derived, &g::ServerMessage::from(m.clone()))?;
        same_wire(&derived, &g::ClientMessage::from(m))?;
    }
}

#[test]
fn nothing_is_the_header_alone() {
    let generated = g::ServerMessage::from(g::NothingV1 {});
    same_wire(&BothMsg::Nothing, &generated).unwrap();
    same_wire(&BothMsg::Nothing, &g::ClientMessage::from(g::NothingV1 {})).unwrap();
    assert_eq!(BothMsg::Nothing.to_text(), "ae");
}

#[test]
fn headers_are_the_generated_ones() {
    let mut derived: Vec<_> = ServerMsg::headers()
        .into_iter()
        .chain(ClientMsg::headers())
        .chain(BothMsg::headers())
        .collect();
    derived.sort_by_key(|m| m.0);
    assert_eq!(derived, g::HEADERS);
}

/// The three exports as one file: each enum exports its own, with the types
/// it uses, so the types shared by several are declared once (the blocks are
/// identical text) and the package line is kept from the first.
fn merged_export() -> String {
    let mut blocks: Vec<String> = Vec::new();
    for (i, schema) in [ServerMsg::schema(), ClientMsg::schema(), BothMsg::schema()]
        .iter()
        .enumerate()
    {
        for (j, block) in schema.split("\n\n").enumerate() {
            let block = block.trim_end().to_owned();
            if (j > 0 || i == 0) && !blocks.contains(&block) {
                blocks.push(block);
            }
        }
    }
    blocks.join("\n\n") + "\n"
}

/// The merged export, in the folder of a copy of everything's committed
/// lock, passes `LockMode::Locked`: same shapes (fingerprints) and headers.
#[test]
fn exported_schema_satisfies_the_committed_lock() {
    let lock = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schemas/everything/tagwire.lock"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tagwire.lock"), &lock).unwrap();
    let path = dir.path().join("everything.schema");
    let schema = merged_export();
    std::fs::write(&path, &schema).unwrap();
    let out = FrontEnd::new()
        .schema(&path)
        .lock_mode(LockMode::Locked)
        .run();
    assert!(!out.has_errors(), "{}\n{schema}", out.render_text());
    assert!(
        out.locks.iter().all(|l| !l.changed()),
        "the lock would change"
    );
    assert_eq!(schema.matches("\nstruct Point ").count(), 1, "{schema}");
}
