//! What each client's hello says it understands (SPEC §9.6): the message
//! versions of the server's package the peer was generated with.
//!
//! Thousands of connections send one of a handful of hellos (one per
//! deployed client build), so hellos are interned per server: a connection
//! holds one `Arc` whatever its hello says, and an idle connection of a
//! current client costs a pointer. The cache is bounded in entries and
//! bytes, so a client sending random hellos cannot grow it; such hellos
//! are simply not shared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::Header;
use crate::control::Hello;

/// Most hellos interned at once (one per client build in use; far fewer
/// in practice).
const MAX_ENTRIES: usize = 256;
/// Most bytes of interned hellos (their strings, twice: key and value).
const MAX_BYTES: usize = 256 * 1024;
/// Larger hellos are never interned: a real client's `headers` lists at
/// most 4,032 headers (8,064 bytes), and one hostile hello must not evict
/// every other entry.
const MAX_INTERNED_HELLO: usize = 9 * 1024;

/// One client's hello and what it implies.
#[derive(Debug)]
pub(crate) struct PeerHello {
    pub(crate) hello: Hello,
    /// `None` for a current peer (it knows every header of the package);
    /// otherwise the package's headers it knows, sorted. Bounded by the
    /// package's size whatever the hello holds.
    known: Option<Box<[Header]>>,
}

impl PeerHello {
    /// Whether the peer knows every message version the server sends.
    pub(crate) fn is_current(&self) -> bool {
        self.known.is_none()
    }

    /// Whether the peer knows `header`'s message version.
    pub(crate) fn knows(&self, header: Header) -> bool {
        self.known
            .as_ref()
            .is_none_or(|known| known.binary_search(&header).is_ok())
    }

    /// Reads a hello against the package's (sorted) headers. A peer is
    /// current when its fingerprint is the server's, when it lists no
    /// headers (a client that does not say), or when it lists every header
    /// of the package. `headers` is read 2 bytes at a time; pairs that are
    /// not headers (odd length, bytes outside the alphabet) and headers the
    /// package does not have are ignored.
    fn read(hello: Hello, fingerprint: &str, package: &[Header]) -> PeerHello {
        if hello.fingerprint == fingerprint || hello.headers.is_empty() {
            return PeerHello { hello, known: None };
        }
        let mut known: Vec<Header> = hello
            .headers
            .as_bytes()
            .chunks_exact(2)
            .filter_map(|pair| Header::from_bytes([pair[0], pair[1]]))
            .filter(|h| package.binary_search(h).is_ok())
            .collect();
        known.sort_unstable();
        known.dedup();
        let known = (known.len() < package.len()).then(|| known.into_boxed_slice());
        PeerHello { hello, known }
    }

    fn bytes(hello: &Hello) -> usize {
        hello.package.len() + hello.fingerprint.len() + hello.headers.len()
    }
}

/// The interned hellos of one server.
#[derive(Debug, Default)]
pub(crate) struct Hellos {
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<Hello, Arc<PeerHello>>,
    bytes: usize,
}

impl Hellos {
    /// The shared reading of `hello` (see [`PeerHello::read`]).
    pub(crate) fn intern(
        &self,
        hello: Hello,
        fingerprint: &str,
        package: &[Header],
    ) -> Arc<PeerHello> {
        let size = PeerHello::bytes(&hello);
        if size > MAX_INTERNED_HELLO {
            return Arc::new(PeerHello::read(hello, fingerprint, package));
        }
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(peer) = cache.entries.get(&hello) {
            return peer.clone();
        }
        // Full: start over rather than refuse new entries, so a burst of
        // junk hellos cannot keep the real ones from being shared for good.
        // Connections keep their own `Arc`s.
        let cost = 2 * size + 64;
        if cache.entries.len() >= MAX_ENTRIES || cache.bytes + cost > MAX_BYTES {
            cache.entries = HashMap::new();
            cache.bytes = 0;
        }
        let peer = Arc::new(PeerHello::read(hello.clone(), fingerprint, package));
        cache.entries.insert(hello, peer.clone());
        cache.bytes += cost;
        peer
    }

    #[cfg(test)]
    fn footprint(&self) -> (usize, usize) {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        (cache.entries.len(), cache.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Header {
        Header::from_bytes([s.as_bytes()[0], s.as_bytes()[1]]).expect("a header")
    }

    fn hello(fingerprint: &str, headers: &str) -> Hello {
        Hello {
            package: "chat".into(),
            fingerprint: fingerprint.into(),
            headers: headers.into(),
        }
    }

    const PACKAGE: &str = "f00d";

    fn package() -> Vec<Header> {
        vec![h("aa"), h("ab"), h("ac"), h("ad")]
    }

    #[test]
    fn current_peers_know_everything() {
        let hellos = Hellos::default();
        for peer in [
            hellos.intern(hello(PACKAGE, "aa"), PACKAGE, &package()),
            hellos.intern(hello("old", ""), PACKAGE, &package()),
            hellos.intern(hello("other", "adacabaazz"), PACKAGE, &package()),
        ] {
            assert!(peer.is_current(), "{peer:?}");
            assert!(peer.knows(h("ad")));
        }
    }

    #[test]
    fn an_old_peer_knows_what_its_hello_lists() {
        let hellos = Hellos::default();
        let peer = hellos.intern(hello("old", "abaa"), PACKAGE, &package());
        assert!(!peer.is_current());
        assert!(peer.knows(h("aa")) && peer.knows(h("ab")));
        assert!(!peer.knows(h("ac")) && !peer.knows(h("ad")));
        // The same hello is shared.
        let again = hellos.intern(hello("old", "abaa"), PACKAGE, &package());
        assert!(Arc::ptr_eq(&peer, &again));
    }

    #[test]
    fn junk_in_the_header_list_is_skipped() {
        let hellos = Hellos::default();
        // Odd length, a pair outside the alphabet, a header the package
        // does not have, a repeat: `aa` and `ac` remain.
        let peer = hellos.intern(hello("old", "aa!?zzacaaa"), PACKAGE, &package());
        assert!(peer.knows(h("aa")) && peer.knows(h("ac")));
        assert!(!peer.knows(h("ab")) && !peer.knows(h("ad")));
        assert_eq!(peer.known.as_deref().map(<[Header]>::len), Some(2));
        let peer = hellos.intern(hello("old", "é"), PACKAGE, &package());
        assert!(!peer.knows(h("aa")));
    }

    #[test]
    fn the_cache_stays_bounded_whatever_the_hellos() {
        let hellos = Hellos::default();
        for i in 0..2_000 {
            let headers = format!("ab{}", "zz".repeat(i * 7 % 3000));
            let peer = hellos.intern(hello(&format!("fp{i}"), &headers), PACKAGE, &package());
            assert!(peer.knows(h("ab")) && !peer.knows(h("aa")));
            let (entries, bytes) = hellos.footprint();
            assert!(
                entries <= MAX_ENTRIES && bytes <= MAX_BYTES,
                "{entries} {bytes}"
            );
        }
        // Too large to share: read, not kept.
        let before = hellos.footprint();
        let huge = hellos.intern(hello("old", &"ab".repeat(60_000)), PACKAGE, &package());
        assert!(huge.knows(h("ab")) && !huge.knows(h("aa")));
        assert_eq!(hellos.footprint(), before);
    }
}
