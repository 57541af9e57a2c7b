//! Which of the two encodings a connection's frames use.

/// The encoding of a connection's frames, chosen by the client when it
/// connects (SPEC §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// `aa|field|field` text frames (SPEC §3); the default.
    #[default]
    Text,
    /// Compact binary frames (SPEC §4).
    Binary,
}

impl Encoding {
    /// The WebSocket subprotocol that asks for this encoding.
    #[must_use]
    pub const fn subprotocol(self) -> &'static str {
        match self {
            Encoding::Text => "tagwire.text",
            Encoding::Binary => "tagwire.binary",
        }
    }

    /// The encoding a subprotocol (or `encoding=` query value) names.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Encoding> {
        match name.trim() {
            "tagwire.text" | "text" => Some(Encoding::Text),
            "tagwire.binary" | "binary" => Some(Encoding::Binary),
            _ => None,
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Text => "text",
            Encoding::Binary => "binary",
        })
    }
}
