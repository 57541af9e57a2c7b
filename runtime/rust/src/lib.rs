//! Runtime for Tagwire protocols.
//!
//! Generated code and the derive macro depend on this crate. The codec arrives
//! with the wire-format work; the server and client come after it.
