//! Server → client conversions (SPEC §9.6): a message version the peer
//! does not know goes out as the newest older version it knows, walked
//! down one [`Package::downgrade`] step at a time; with none, the peer
//! gets the outdated notice instead.

use std::panic::AssertUnwindSafe;

use tokio_tungstenite::tungstenite::Message;

use super::peers::PeerHello;
use crate::control::{Control, OutdatedNotice};
use crate::frame::{Prefix, to_message};
use crate::{Encoding, Header, Package, Protocol};

/// What a peer that does not know a message version gets.
pub(crate) enum Converted {
    /// The newest older version it knows, encoded.
    Frame(Message),
    /// None it knows: the outdated notice.
    Outdated,
    /// A conversion panicked: the peer is closed with 1011.
    Panicked,
}

/// Most steps one walk takes: a hand-written conversion that never reaches
/// an older version (one returning the same version) must not loop.
const MAX_STEPS: usize = 64;

fn slot(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Text => 0,
        Encoding::Binary => 1,
    }
}

/// The older versions of one message, computed (and encoded) only as far as
/// the peers at hand need them, so a broadcast converts and encodes each
/// version at most once per encoding.
pub(crate) struct Older<'a, P: Package> {
    newest: &'a P::Server,
    /// `steps[i]`: `i + 1` steps down, with its frame in each encoding.
    steps: Vec<(P::Server, [Option<Message>; 2])>,
    /// No further step exists (or one declined, or panicked).
    ended: bool,
    /// A step's conversion panicked.
    panicked: bool,
    notice: [Option<Message>; 2],
    /// A room message's envelope (or a snapshot member's fields): its
    /// frames go after it.
    prefix: Option<Prefix<'a>>,
}

impl<'a, P: Package> Older<'a, P> {
    pub(crate) fn new(newest: &'a P::Server) -> Self {
        Older {
            newest,
            steps: Vec::new(),
            ended: false,
            panicked: false,
            notice: [None, None],
            prefix: None,
        }
    }

    /// As [`Older::new`] for a room message (or a presence frame): every
    /// frame after `prefix` (the outdated notice is not a room message: it
    /// goes without).
    pub(crate) fn prefixed(newest: &'a P::Server, prefix: Prefix<'a>) -> Self {
        Older {
            prefix: Some(prefix),
            ..Older::new(newest)
        }
    }

    /// The frame for a peer that does not know the newest version: the
    /// newest older version it knows, if any.
    pub(crate) fn frame_for(&mut self, peer: &PeerHello, encoding: Encoding) -> Converted {
        let mut i = 0;
        loop {
            if i == self.steps.len() && !self.step() {
                return if self.panicked {
                    Converted::Panicked
                } else {
                    Converted::Outdated
                };
            }
            let prefix = self.prefix;
            let (message, frames) = &mut self.steps[i];
            if peer.knows(message.header()) {
                return Converted::Frame(
                    frames[slot(encoding)]
                        .get_or_insert_with(|| match prefix {
                            None => to_message(message, encoding),
                            Some(prefix) => prefix.message(message, encoding),
                        })
                        .clone(),
                );
            }
            i += 1;
        }
    }

    /// Computes one more step down; false when there is none.
    fn step(&mut self) -> bool {
        if self.ended || self.steps.len() >= MAX_STEPS {
            self.ended = true;
            return false;
        }
        let from = self.steps.last().map_or(self.newest, |(m, _)| m);
        // A hand-written conversion is application code: a panic in it
        // must end only the connections it was converting for, not the
        // task that broadcasts (another client's, or the backend's).
        let downgraded = std::panic::catch_unwind(AssertUnwindSafe(|| P::downgrade(from)));
        let Ok(downgraded) = downgraded else {
            tracing::error!(
                from = %from.header(),
                "a downgrade conversion panicked; the peers it was for are closed with 1011"
            );
            self.ended = true;
            self.panicked = true;
            return false;
        };
        let Some(older) = downgraded else {
            self.ended = true;
            return false;
        };
        // The peer's decoder would refuse it: as good as declined, and a
        // bug in a hand-written conversion worth a loud log.
        if let Err(violation) = older.validate() {
            tracing::error!(
                from = %from.header(),
                to = %older.header(),
                %violation,
                "a downgrade produced a value that breaks a constraint; the peer gets the outdated notice"
            );
            self.ended = true;
            return false;
        }
        self.steps.push((older, [None, None]));
        true
    }

    /// The outdated notice naming the newest version, in `encoding`.
    pub(crate) fn notice(&mut self, encoding: Encoding) -> Message {
        let header = self.newest.header();
        self.notice[slot(encoding)]
            .get_or_insert_with(|| to_message(&cannot_send::<P>(header), encoding))
            .clone()
    }
}

/// The notice for a message version the peer does not know and that has no
/// conversion to one it knows.
pub(crate) fn cannot_send<P: Package>(header: Header) -> Control {
    let (message, version) = P::describe(header).unwrap_or(("", 0));
    let what = if message.is_empty() {
        format!("message {header}")
    } else {
        format!("{message} v{version}")
    };
    Control::Outdated(OutdatedNotice {
        header: header.to_string(),
        message: message.to_owned(),
        version,
        reason: format!(
            "{what} is newer than this client's protocol and has no conversion to a version it knows; reload to update"
        ),
    })
}

/// The notice for a client frame of a version the server's schema removed.
pub(crate) fn removed(header: Header, message: &str, version: u32) -> Control {
    Control::Outdated(OutdatedNotice {
        header: header.to_string(),
        message: message.to_owned(),
        version,
        reason: format!(
            "{message} v{version} was removed from the server's protocol; reload to update"
        ),
    })
}
