//! What generated code needs, and nothing else. Not a stable API: only the
//! compiler of the same version may rely on it.
//!
//! Generated code implements [`Codec`] once per type, over the [`Writer`]
//! and [`Reader`] traits that the text and binary encodings implement, so one
//! body serves both:
//!
//! ```
//! # use tagwire::__private as tw;
//! # #[derive(Debug)]
//! # struct Point { x: i32, y: Option<String> }
//! impl tw::Codec for Point {
//!     const IS_STRUCT: bool = true;
//!     fn encode(&self, w: &mut impl tw::Writer) {
//!         w.i32(self.x);
//!         w.optional(&self.y, |w, v| w.str(v));
//!     }
//!     fn decode(r: &mut impl tw::Reader) -> tw::Result<Self> {
//!         Ok(Self { x: r.i32()?, y: r.optional(|r| r.string())? })
//!     }
//! }
//! ```
//!
//! A field of a schema type is written `w.value(&self.pos)` and read
//! `r.value()?` (a struct one level deeper, SPEC §6.3); an optional one uses
//! `optional_value`. Field initialisers in a struct expression run in the
//! order written, which is what keeps decoding in schema order.

mod base64url;
mod binary;
mod borrow;
mod codec;
mod constraint;
pub mod derive;
#[cfg(feature = "json")]
pub mod json;
mod scan;
mod tag;
mod text;

pub use crate::__tagwire_protocol as protocol;
// The server's inspector writes its JSON with the same escaper and its
// binary frames with the same base64url as the codecs.
#[cfg(feature = "server")]
pub(crate) use base64url::encode as base64url_encode;
pub use binary::{BinaryReader, BinaryWriter};
pub use borrow::{DecodeRef, decode_binary_ref};
pub use codec::{Codec, Reader, Result, Writer};
#[cfg(feature = "server")]
pub(crate) use constraint::push_json_string;
pub use constraint::{
    Regex, char_count, check_float, check_int, check_len, check_pattern, compile_pattern,
    key_violation, quote_key, within,
};
pub use tag::Tag;
pub use text::{TextReader, TextWriter};
