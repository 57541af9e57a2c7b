//! What generated code needs, and nothing else. Not a stable API: only the
//! compiler of the same version may rely on it.
//!
//! Generated code for a struct `Point { x: i32, y: Option<String> }` is:
//!
//! ```
//! # use tagwire::__private::*;
//! # use tagwire::DecodeError;
//! # struct Point { x: i32, y: Option<String> }
//! impl Point {
//!     #[doc(hidden)]
//!     pub fn __encode_text(&self, w: &mut TextWriter<'_>) {
//!         w.i32(self.x);
//!         w.optional(&self.y, |w, v| w.str(v));
//!     }
//!     #[doc(hidden)]
//!     pub fn __decode_text(r: &mut TextReader<'_>) -> Result<Self, DecodeError> {
//!         Ok(Point { x: r.i32()?, y: r.optional(|r| r.string())? })
//!     }
//! }
//! ```
//!
//! and the same with `BinaryWriter`/`BinaryReader` (`__encode_binary`,
//! `__decode_binary`), whose methods have the same names and shapes. A
//! struct-typed field is written `self.pos.__encode_text(w)` and read
//! `r.nested(Point::__decode_text)?`; an optional struct uses
//! `optional_struct`. Field initialisers in a struct expression run in the
//! order written, which is what keeps decoding in schema order.

mod base64url;
mod binary;
mod constraint;
pub mod derive;
#[cfg(feature = "json")]
pub mod json;
mod scan;
mod tag;
mod text;

pub use binary::{BinaryReader, BinaryWriter};
pub use constraint::{
    Regex, char_count, check_float, check_int, check_len, check_pattern, compile_pattern,
    key_violation, quote_key, within,
};
pub use tag::Tag;
pub use text::{TextReader, TextWriter};
