//! Derive macros for Rust-first Tagwire protocols: `#[derive(tagwire::Protocol)]`
//! on an enum of message versions and `#[derive(tagwire::Codec)]` on the
//! structs, enums and unions its fields use. Use them through the `tagwire`
//! crate (feature `derive`, on by default); `docs/DERIVE.md` has the workflow.
//!
//! The expansion calls exactly the `tagwire::__private` readers and writers
//! that schema-generated code calls, in the same order, so a derive-defined
//! protocol and the equivalent `.schema` file produce the same frames.
//!
//! Layout (as in `serde_derive`; the modules are private, so the names are
//! not links): `ast` reads the input and classifies field types, `attr`
//! parses `#[tagwire(...)]`, `check` validates and assigns headers, `expand`
//! writes the impls. Every problem is pushed to a `ctxt::Ctxt` with its span
//! and all of them are reported together.

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `tagwire::Protocol` and `tagwire::SchemaExport` for an enum
/// whose variants are message versions.
#[proc_macro_derive(Protocol, attributes(tagwire))]
pub fn derive_protocol(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::protocol(&input)
        .unwrap_or_else(ctxt::to_compile_errors)
        .into()
}

/// Makes a struct, a fieldless enum or a data-carrying enum (a union) usable
/// as a field type of derived protocols.
#[proc_macro_derive(Codec, attributes(tagwire))]
pub fn derive_codec(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::codec(&input)
        .unwrap_or_else(ctxt::to_compile_errors)
        .into()
}
