//! Runtime for Tagwire protocols: the text and binary codecs that generated
//! code calls.
//!
//! The wire format is specified in `docs/SPEC.md`; this crate is its Rust
//! implementation. A protocol is a set of message versions, each with a
//! 2-byte [`Header`]; the schema compiler generates a type implementing
//! [`Protocol`], each of whose types writes and reads itself once over the
//! hidden writer and reader traits both encodings implement ([`__private`]).
//! Without features beyond the default, the crate is the codecs alone, with
//! no async or network dependency, so they sit under any transport
//! (WebSocket, SSE, logs, tests); the server, the client and the Redis
//! backend come with the `server`, `client` and `redis` features.
//!
//! Decoding is strict (one accepted encoding per value) and bounded by
//! [`Limits`]: a hostile frame yields a [`DecodeError`], never a panic or an
//! allocation much larger than the frame.
//!
//! # Rust-first protocols
//!
//! Teams that define their protocol in Rust derive it (see `docs/DERIVE.md`);
//! headers follow the schema compiler's rule and the frames are the same bytes
//! a `.schema` file would give:
//!
//! ```
//! use tagwire::{Protocol, SchemaExport};
//!
//! #[derive(tagwire::Protocol, Debug, PartialEq)]
//! #[tagwire(direction = "server", package = "ui")]
//! enum ServerMsg {
//!     /// Renders a whole component tree.
//!     RenderUi { id: String, tree: Vec<u8> }, // header aa
//!     #[tagwire(header = "ab")]
//!     UpdateUi(UpdateUi), // a struct payload
//!     ShowLoading { until_ms: Option<u64> }, // ac
//!     #[tagwire(name = "RenderUi", version = 2)]
//!     RenderUiV2 { id: String, tree: Vec<u8>, theme: Option<String> }, // ad
//!     Ping, // ae: no fields
//! }
//!
//! #[derive(tagwire::Codec, Debug, PartialEq)]
//! struct UpdateUi { id: String, patch: Vec<u8> }
//!
//! let update = ServerMsg::UpdateUi(UpdateUi { id: "main".into(), patch: b"<b>".to_vec() });
//! assert_eq!(update.to_text(), "ab|main|PGI-");
//! assert_eq!(ServerMsg::decode_binary(&update.to_binary())?, update);
//! assert_eq!(ServerMsg::Ping.to_text(), "ae");
//!
//! // The protocol as .schema text, for `tagwire check`, `tagwire lock` and `tagwire gen ts`.
//! let schema = <ServerMsg as SchemaExport>::schema();
//! assert!(schema.contains("message ShowLoading v1 from server @\"ac\" { until_ms: u64? }"), "{schema}");
//! # Ok::<(), tagwire::DecodeError>(())
//! ```

#[cfg(feature = "client")]
pub mod client;
mod close;
pub mod control;
mod encoding;
mod error;
mod evolve;
// `runtime` alone is what the server and the client share, not a product:
// these modules serve one of them.
#[cfg(any(feature = "server", feature = "client"))]
mod frame;
mod header;
mod quota;
#[cfg(feature = "server")]
pub mod server;
#[cfg(any(feature = "server", feature = "client"))]
mod setters;

#[doc(hidden)]
pub mod __private;

pub use __private::derive::SchemaExport;
pub use close::{CloseAction, CloseCode};
pub use encoding::Encoding;
pub use error::{DecodeError, DecodeErrorKind, Limits, Position, Violation};
pub use evolve::{Downgrade, Upgrade};
pub use header::{ALPHABET, FIRST_RESERVED_INDEX, HEADER_COUNT, Header};
pub use quota::Quota;
/// Derive macros for Rust-first protocols (feature `derive`, on by default):
/// see `docs/DERIVE.md`.
#[cfg(feature = "derive")]
pub use tagwire_macros::{Codec, Protocol};

/// The path the server's router answers WebSocket upgrades on unless
/// configured otherwise (`ServerConfig::ws_path`), and the path a client's
/// [`Connector`](client::Connector) asks for unless it names a URL.
pub const DEFAULT_WS_PATH: &str = "/ws";

/// A set of messages that can travel as Tagwire frames.
///
/// Implemented by generated code and `#[derive(tagwire::Protocol)]` on an
/// enum with one variant per message version (so [`Protocol::header`]
/// depends on the variant), over the hidden codec both encodings share: the
/// enum writes the fields after the header and, when decoding, chooses the
/// version by the header. Every encoder and decoder below is provided.
///
/// Encoders append to the caller's buffer so a connection can reuse one
/// buffer for every frame: with enough capacity, encoding allocates nothing.
pub trait Protocol: __private::Codec {
    /// Header of this value's message version.
    fn header(&self) -> Header;

    /// Appends this value as one text frame.
    fn encode_text(&self, out: &mut String) {
        __private::Codec::encode(self, &mut __private::TextWriter::new(out, self.header()));
    }

    /// Appends this value as one binary frame.
    fn encode_binary(&self, out: &mut Vec<u8>) {
        __private::Codec::encode(self, &mut __private::BinaryWriter::new(out, self.header()));
    }

    /// Decodes one text frame under caller-chosen limits, then checks the
    /// schema's constraints ([`Protocol::validate`]).
    ///
    /// # Errors
    ///
    /// Any [`DecodeErrorKind`] that applies to text frames (SPEC §6–7).
    fn decode_text_with(frame: &str, limits: &Limits) -> Result<Self, DecodeError> {
        let mut r = __private::TextReader::new(frame, limits)?;
        let message = <Self as __private::Codec>::decode(&mut r)?;
        r.finish()?;
        message
            .validate()
            .map_err(|v| DecodeError::constraint(Position::Token { index: 0, byte: 0 }, v))?;
        Ok(message)
    }

    /// Decodes one binary frame under caller-chosen limits, then checks the
    /// schema's constraints ([`Protocol::validate`]).
    ///
    /// # Errors
    ///
    /// Any [`DecodeErrorKind`] that applies to binary frames (SPEC §6–7).
    fn decode_binary_with(frame: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        let mut r = __private::BinaryReader::new(frame, limits)?;
        let message = <Self as __private::Codec>::decode(&mut r)?;
        r.finish()?;
        message
            .validate()
            .map_err(|v| DecodeError::constraint(Position::Byte(0), v))?;
        Ok(message)
    }

    /// Decodes one text frame under [`Limits::default`].
    ///
    /// # Errors
    ///
    /// As [`Protocol::decode_text_with`].
    fn decode_text(frame: &str) -> Result<Self, DecodeError> {
        Self::decode_text_with(frame, &Limits::default())
    }

    /// Decodes one binary frame under [`Limits::default`].
    ///
    /// # Errors
    ///
    /// As [`Protocol::decode_binary_with`].
    fn decode_binary(frame: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_binary_with(frame, &Limits::default())
    }

    /// Checks the constraints of the schema (`@len`, `@range`, `@pattern`;
    /// SPEC §6.4): the first value that breaks one, with its path.
    ///
    /// Generated decoders call it on every frame they decode (a violation is
    /// a [`DecodeErrorKind::ConstraintViolation`]), and
    /// [`Protocol::try_encode_text`] / [`Protocol::try_encode_binary`] before
    /// they encode. Protocols without constraints keep this default.
    ///
    /// # Errors
    ///
    /// The first violation, in schema order.
    fn validate(&self) -> Result<(), Violation> {
        Ok(())
    }

    /// [`Protocol::encode_text`] for a value that passes
    /// [`Protocol::validate`]; nothing is written otherwise. The plain
    /// encoders do not check constraints (they cannot fail), so a peer's
    /// decoder rejects what they write for an invalid value.
    ///
    /// # Errors
    ///
    /// The violation, with `out` untouched.
    fn try_encode_text(&self, out: &mut String) -> Result<(), Violation> {
        self.validate()?;
        self.encode_text(out);
        Ok(())
    }

    /// [`Protocol::encode_binary`] for a value that passes
    /// [`Protocol::validate`]; nothing is written otherwise.
    ///
    /// # Errors
    ///
    /// The violation, with `out` untouched.
    fn try_encode_binary(&self, out: &mut Vec<u8>) -> Result<(), Violation> {
        self.validate()?;
        self.encode_binary(out);
        Ok(())
    }

    /// Convenience for one-off frames (tests, logs); hot paths should reuse a
    /// buffer with [`Protocol::encode_text`].
    fn to_text(&self) -> String {
        let mut out = String::new();
        self.encode_text(&mut out);
        out
    }

    /// Convenience for one-off frames; see [`Protocol::to_text`].
    fn to_binary(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_binary(&mut out);
        out
    }
}

/// A schema package as the runtime sees it: the messages each side sends and
/// the fingerprint peers compare when they connect.
///
/// Generated code implements it on a unit struct named `Package` in every
/// package module (`ui::Package`), so servers and clients are written
/// `Server::<ui::Package, _>`. Rust-first protocols implement it by hand
/// on a type of their own.
pub trait Package: Send + Sync + 'static {
    /// Every message a client sends (`ClientMessage`).
    type Client: Protocol + Send + Sync + std::fmt::Debug + 'static;
    /// Every message a server sends (`ServerMessage`).
    type Server: Protocol + Send + Sync + std::fmt::Debug + 'static;
    /// The schema package's name (`ui`).
    const NAME: &'static str;
    /// `PROTOCOL_FINGERPRINT`: equal on both sides means every frame agrees.
    const FINGERPRINT: &'static str;
    /// Every message version in header order, as `(header, message name,
    /// version, direction)`, where direction is `"server"`, `"client"` or
    /// `"both"`: generated code's `HEADERS`. [`Package::headers`] and
    /// [`Package::describe`] read it unless overridden.
    const HEADERS: &'static [(Header, &'static str, u32, &'static str)] = &[];

    /// Every message version's header, in header order.
    fn headers() -> Vec<Header> {
        Self::HEADERS.iter().map(|(header, ..)| *header).collect()
    }

    /// Rate quotas the schema gives client messages, one bucket per header
    /// (per message version), for servers to enforce per connection
    /// (docs/RUNTIME.md, Guards). A server's own configuration overrides
    /// them header by header. None by default; the compiler emits them
    /// from `@rate` annotations.
    fn rate_limits() -> Vec<(Header, Quota)> {
        Vec::new()
    }

    /// Versions removed from the schema (tombstones in the lock): header,
    /// message name, version. A client generated before the removal that
    /// sends one gets the outdated notice (SPEC §9.6) instead of an error.
    const REMOVED: &'static [(Header, &'static str, u32)] = &[];

    /// The message versions that are presence states (the schema's
    /// `presence` declarations), in header order: the only frames a client
    /// may send in `_k` and a server puts in presence events (SPEC §9.8).
    /// None by default.
    const PRESENCE: &'static [Header] = &[];

    /// One step down: `message` at the previous version of the same message;
    /// `None` when there is none or the conversion declined. Servers walk it
    /// for peers that do not know `message`'s version (docs/RUNTIME.md,
    /// Protocol evolution).
    fn downgrade(message: &Self::Server) -> Option<Self::Server> {
        let _ = message;
        None
    }

    /// Every step up: `message` at the newest version of the same message a
    /// client may send, so handlers see one version of each message.
    fn upgrade(message: Self::Client) -> Self::Client {
        message
    }

    /// Name and version of one of this package's live headers (from
    /// `HEADERS`), for the outdated notice; `None` for headers it does not
    /// know.
    fn describe(header: Header) -> Option<(&'static str, u32)> {
        Self::HEADERS
            .iter()
            .find(|(h, ..)| *h == header)
            .map(|(_, name, version, _)| (*name, *version))
    }
}

/// Includes the Rust module generated for a package by the build-script
/// `tagwire_compiler::Builder` (the file `<package>.rs` in `OUT_DIR`), as
/// `tonic::include_proto!` does:
///
/// ```text
/// pub mod ui {
///     tagwire::include_protocol!("ui");
/// }
/// ```
///
/// Packages that use each other's types must be included as sibling
/// modules named after their packages (generated code refers to
/// `super::other_package::Type`).
#[macro_export]
macro_rules! include_protocol {
    ($package:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
    };
}
