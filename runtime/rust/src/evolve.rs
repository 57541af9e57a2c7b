//! Protocol evolution (docs/EVOLUTION.md): conversions between versions of
//! one message, so a server built from a newer schema keeps talking to
//! clients generated from an older one.
//!
//! The compiler generates these impls where a conversion is safe (the older
//! version's fields are a subset of the newer one's with the same types, or
//! every new field is optional or has a default); otherwise generated code
//! still calls the trait, so a missing impl is a compile error naming the
//! impl the application must write.

/// One step down: the same message at its previous version, for a peer
/// generated before `Self` existed. The server walks these steps
/// ([`crate::Package::downgrade`]) until it reaches a version the peer knows.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can be sent to clients that only know `{Older}`: implement `tagwire::Downgrade<{Older}> for {Self}`",
    label = "no conversion to the previous version",
    note = "the compiler generates it only when every field of the older version is in the newer one with the same type; see docs/EVOLUTION.md"
)]
pub trait Downgrade<Older> {
    /// The same message at the previous version, for a peer generated before this version existed;
    /// `None` when this value cannot be expressed there (the peer then gets "protocol outdated").
    fn downgrade(&self) -> Option<Older>;
}

/// One step up: the same message at its next version, so the server's
/// handler only sees the newest version a client may send
/// ([`crate::Package::upgrade`]).
#[diagnostic::on_unimplemented(
    message = "clients may still send `{Self}`: implement `tagwire::Upgrade<{Newer}> for {Self}`",
    label = "no conversion to the next version",
    note = "the compiler generates it only when every new field is optional or has a default; see docs/EVOLUTION.md"
)]
pub trait Upgrade<Newer> {
    /// The same message at the next version, for the server's handler.
    fn upgrade(self) -> Newer;
}
