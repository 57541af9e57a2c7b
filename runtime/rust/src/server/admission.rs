//! Who is connecting, and whether there is room for them: the client's
//! address behind trusted proxies, and the connection limits per node and
//! per client address (docs/RUNTIME.md, Connection limits).
//!
//! A connection takes a [`Slot`] before its upgrade (or, for SSE, before
//! its stream opens) and the slot is given back when it is dropped: the
//! slot lives in the connection's task, so a task that ends, panics or is
//! aborted frees it the same way. Taking and giving back is one atomic
//! add for the node's count, plus one short lock of a shard of a map by
//! address when a per-address limit is set. The map holds one entry per
//! address with connections open, not one per connection, and none at all
//! without a per-address limit.
//!
//! Ranges are parsed with the standard library: matching a CIDR range is
//! two masks, not worth a dependency in every server build.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// A range of IP addresses in CIDR notation (`10.0.0.0/8`,
/// `2001:db8::/32`), or one address (`127.0.0.1`, `::1`): the proxies
/// whose `X-Forwarded-For` the server believes
/// ([`ServerConfig::trusted_proxies`](super::ServerConfig::trusted_proxies)).
///
/// Parse one with `"10.0.0.0/8".parse::<IpRange>()`. Bits below the prefix
/// are ignored (`10.1.2.3/8` is `10.0.0.0/8`); an IPv4-mapped IPv6 range
/// (`::ffff:10.0.0.0/104`) is read as the IPv4 range it maps, since IPv4
/// peers of a dual-stack socket are matched as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// The range of addresses sharing the first `prefix` bits of `addr`.
    ///
    /// # Errors
    ///
    /// When `prefix` is longer than the address (32 bits for IPv4, 128 for
    /// IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpRange, InvalidIpRange> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let network = match addr {
            IpAddr::V4(v4) if prefix <= 32 => {
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask_v4(prefix)))
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask_v6(prefix)))
            }
            _ => {
                return Err(InvalidIpRange {
                    input: format!("{addr}/{prefix}"),
                    why: "the prefix is longer than the address",
                });
            }
        };
        Ok(IpRange { network, prefix })
    }

    /// The first address of the range.
    #[must_use]
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// How many leading bits the addresses of the range share.
    #[must_use]
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `addr` is in the range (an IPv4-mapped IPv6 address counts
    /// as the IPv4 address it maps).
    #[must_use]
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                u32::from(a) & mask_v4(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                u128::from(a) & mask_v6(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl From<IpAddr> for IpRange {
    /// The range of this one address.
    fn from(addr: IpAddr) -> IpRange {
        let addr = addr.to_canonical();
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        IpRange {
            network: addr,
            prefix,
        }
    }
}

impl FromStr for IpRange {
    type Err = InvalidIpRange;

    fn from_str(s: &str) -> Result<IpRange, InvalidIpRange> {
        let invalid = |why| InvalidIpRange {
            input: s.to_owned(),
            why,
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| invalid("not an IPv4 or IPv6 address"))?;
        match prefix {
            None => Ok(IpRange::from(addr)),
            Some(prefix) => {
                // Digits only: `u8::from_str` would also take `+8`.
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid("the prefix length is not a number"));
                }
                let prefix = prefix
                    .parse::<u8>()
                    .map_err(|_| invalid("the prefix is longer than the address"))?;
                IpRange::new(addr, prefix).map_err(|e| invalid(e.why))
            }
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// A string that is not an [`IpRange`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidIpRange {
    input: String,
    why: &'static str,
}

impl fmt::Display for InvalidIpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an address range: {}", self.input, self.why)
    }
}

impl std::error::Error for InvalidIpRange {}

/// Most `X-Forwarded-For` entries read from the right: no real chain of
/// proxies is this long, and the walk must not cost more per request
/// than a header line's worth of parsing.
const MAX_HOPS: usize = 32;

/// The address of the client behind `peer` (the socket's other end).
///
/// `peer` itself, unless it is one of the `trusted` proxies: then the
/// `X-Forwarded-For` list is read from the right (the entry the nearest
/// proxy added first), skipping the addresses of trusted proxies, and the
/// first untrusted address is the client. Everything left of it was
/// written by the client or by proxies nobody vouches for, so a client
/// cannot choose the address it is counted as. No header (a proxy's own
/// request, a health check) leaves the proxy's address; a list of trusted
/// proxies only gives its leftmost one. An entry that is not an address
/// (`unknown`, an obfuscated name, bad bytes) stops the walk at the last
/// address believed, the proxy that wrote it, since nothing further left
/// can be tied to a client. Entries may carry a port (`203.0.113.7:4711`,
/// `[2001:db8::7]:4711`); without one the port is 0.
pub(crate) fn client_addr(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpRange],
) -> Option<SocketAddr> {
    let peer = peer?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer.ip()) {
        return Some(peer);
    }
    let mut believed = peer;
    let mut hops = 0;
    // A proxy may append its own header line rather than extend the last
    // one: the lines are one list, in order.
    for line in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(line) = line.to_str() else {
            tracing::debug!(%peer, "X-Forwarded-For is not visible ASCII; using the proxy's address");
            return Some(believed);
        };
        for entry in line.rsplit(',').map(str::trim) {
            // An empty list element (`a,,b`) is allowed by HTTP's list syntax.
            if entry.is_empty() {
                continue;
            }
            hops += 1;
            if hops > MAX_HOPS {
                tracing::debug!(%peer, "X-Forwarded-For lists more than {MAX_HOPS} proxies; using the last one believed");
                return Some(believed);
            }
            let Some(addr) = forwarded_addr(entry) else {
                tracing::debug!(%peer, entry, "X-Forwarded-For entry is not an address; using the proxy that wrote it");
                return Some(believed);
            };
            believed = addr;
            if !is_trusted(addr.ip()) {
                return Some(addr);
            }
        }
    }
    Some(believed)
}

/// One `X-Forwarded-For` entry: an address, with or without a port.
fn forwarded_addr(entry: &str) -> Option<SocketAddr> {
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(SocketAddr::new(ip, 0)));
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(canonical(addr));
    }
    let bracketed = entry.strip_prefix('[')?.strip_suffix(']')?;
    let ip = bracketed.parse::<Ipv6Addr>().ok()?;
    Some(canonical(SocketAddr::new(IpAddr::V6(ip), 0)))
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `limits.max_connections`: the node is full.
    Node,
    /// `limits.max_connections_per_address`: this client address has its
    /// share.
    Address,
}

impl Refusal {
    /// The setting's name, for logs and the refusal's body.
    pub(crate) fn setting(self) -> &'static str {
        match self {
            Refusal::Node => "limits.max_connections",
            Refusal::Address => "limits.max_connections_per_address",
        }
    }
}

/// What a client address is counted as: IPv4 addresses one by one, IPv6
/// ones by their /64, the block one subscriber or one LAN gets (a client
/// holding a /64 could otherwise open each connection from a new address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    V4(u32),
    V6(u64),
}

impl AddressKey {
    fn of(ip: IpAddr) -> AddressKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => AddressKey::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

/// Shards of the per-address map: admissions of different addresses
/// rarely wait for each other.
const SHARDS: usize = 16;

/// At most one line at info level per this long about refused
/// connections, however many there are (each refusal is logged at debug).
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The connection counts of one server, and their limits.
#[derive(Debug)]
pub(crate) struct Admission {
    max_connections: usize,
    max_per_address: Option<usize>,
    open: AtomicUsize,
    /// Open connections per client address (only with a per-address limit).
    by_address: Box<[Mutex<HashMap<AddressKey, usize>>]>,
    shard_of: RandomState,
    /// Refusals since the last info line, and when the next may be logged
    /// (milliseconds since `started`).
    refused: AtomicU64,
    next_report_ms: AtomicU64,
    started: Instant,
}

impl Admission {
    /// Counts against `max_connections` in all and `max_per_address` per
    /// client address (`limits.max_connections` and
    /// `limits.max_connections_per_address` of the configuration).
    pub(crate) fn new(max_connections: usize, max_per_address: Option<usize>) -> Admission {
        let shards = if max_per_address.is_some() { SHARDS } else { 0 };
        Admission {
            max_connections,
            max_per_address,
            open: AtomicUsize::new(0),
            by_address: (0..shards).map(|_| Mutex::default()).collect(),
            shard_of: RandomState::new(),
            refused: AtomicU64::new(0),
            next_report_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// A slot for a connection of `client` (uncounted by address when the
    /// address is unknown), or which limit refuses it.
    pub(crate) fn admit(self: &Arc<Self>, client: Option<IpAddr>) -> Result<Slot, Refusal> {
        // Add, then look: two admissions racing for the last slot cannot
        // both see room.
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(self.refuse(Refusal::Node, client));
        }
        let key = match (self.max_per_address, client) {
            (Some(limit), Some(ip)) => {
                let key = AddressKey::of(ip);
                let mut shard = self.shard(key);
                let open = shard.get(&key).copied().unwrap_or(0);
                if open >= limit {
                    drop(shard);
                    self.open.fetch_sub(1, Ordering::AcqRel);
                    return Err(self.refuse(Refusal::Address, client));
                }
                shard.insert(key, open + 1);
                Some(key)
            }
            _ => None,
        };
        Ok(Slot {
            admission: Arc::clone(self),
            key,
        })
    }

    /// Connections holding a slot now.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn shard(&self, key: AddressKey) -> MutexGuard<'_, HashMap<AddressKey, usize>> {
        let i = (self.shard_of.hash_one(key) % SHARDS as u64) as usize;
        self.by_address[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn release(&self, key: Option<AddressKey>) {
        if let Some(key) = key {
            let mut shard = self.shard(key);
            if let Entry::Occupied(mut entry) = shard.entry(key) {
                if *entry.get() <= 1 {
                    entry.remove();
                    // Give back what a burst of addresses took.
                    if shard.capacity() > 64 && shard.len() * 4 < shard.capacity() {
                        let len = shard.len();
                        shard.shrink_to(len * 2);
                    }
                } else {
                    *entry.get_mut() -= 1;
                }
            }
        }
        self.open.fetch_sub(1, Ordering::AcqRel);
    }

    /// Logs a refusal: each at debug, and at most one summary line per
    /// [`REPORT_EVERY`] at info, so a flood of refused clients cannot
    /// flood the logs.
    fn refuse(&self, refusal: Refusal, client: Option<IpAddr>) -> Refusal {
        tracing::debug!(
            limit = refusal.setting(),
            ?client,
            "connection refused with 503"
        );
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let due = self.next_report_ms.load(Ordering::Relaxed);
        let next = now.saturating_add(REPORT_EVERY.as_millis() as u64);
        if now >= due
            && self
                .next_report_ms
                .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.refused.fetch_sub(refused, Ordering::Relaxed);
            tracing::info!(
                refused,
                limit = refusal.setting(),
                open = self.open.load(Ordering::Relaxed),
                max_connections = self.max_connections,
                max_connections_per_address = ?self.max_per_address,
                "connections refused at a connection limit (at most one such line every 10 s)"
            );
        }
        refusal
    }
}

/// One connection's place in the counts, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    admission: Arc<Admission>,
    key: Option<AddressKey>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.release(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn sock(s: &str) -> SocketAddr {
        s.parse().expect("a socket address")
    }

    fn range(s: &str) -> IpRange {
        s.parse().expect("a range")
    }

    fn limits(total: usize, per_address: Option<usize>) -> Arc<Admission> {
        Arc::new(Admission::new(total, per_address))
    }

    #[test]
    fn ranges_parse_match_and_print() {
        let r = range("10.1.2.3/8");
        assert_eq!(r.to_string(), "10.0.0.0/8");
        assert!(r.contains(ip("10.255.0.1")));
        assert!(r.contains(ip("::ffff:10.9.9.9")), "IPv4-mapped peers");
        assert!(!r.contains(ip("11.0.0.1")));
        assert!(!r.contains(ip("::1")));
        let one = range("127.0.0.1");
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6 = range("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:1::7")) && !v6.contains(ip("2001:db9::1")));
        assert!(range("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(range("::/0").contains(ip("2001:db8::1")));
        assert_eq!(range("::ffff:10.0.0.0/104"), range("10.0.0.0/8"));
        assert_eq!(range("::1").prefix_len(), 128);
    }

    #[test]
    fn bad_ranges_say_why() {
        for (input, why) in [
            ("10.0.0.0/33", "the prefix is longer than the address"),
            ("::/129", "the prefix is longer than the address"),
            ("10.0.0.0/300", "the prefix is longer than the address"),
            ("10.0.0.0/", "the prefix length is not a number"),
            ("10.0.0.0/+8", "the prefix length is not a number"),
            ("10.0.0/8", "not an IPv4 or IPv6 address"),
            ("proxy.internal", "not an IPv4 or IPv6 address"),
            ("", "not an IPv4 or IPv6 address"),
        ] {
            let error = input.parse::<IpRange>().expect_err(input);
            assert_eq!(
                error.to_string(),
                format!("`{input}` is not an address range: {why}")
            );
        }
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(
                "x-forwarded-for",
                axum::http::HeaderValue::from_bytes(v.as_bytes()).expect("a header value"),
            );
        }
        headers
    }

    #[test]
    fn the_header_is_believed_only_from_trusted_proxies_and_read_from_the_right() {
        let trusted = [range("10.0.0.0/8"), range("127.0.0.1")];
        let proxy = Some(sock("10.0.0.2:5000"));
        let client = |peer, values: &[&str]| client_addr(peer, &xff(values), &trusted);
        // An untrusted peer's header is ignored.
        assert_eq!(
            client(Some(sock("203.0.113.9:1234")), &["198.51.100.1"]),
            Some(sock("203.0.113.9:1234"))
        );
        // A trusted proxy's is believed.
        assert_eq!(
            client(proxy, &["198.51.100.1"]),
            Some(sock("198.51.100.1:0"))
        );
        // A spoofed entry left of the real client is not.
        assert_eq!(
            client(proxy, &["6.6.6.6, 198.51.100.1"]),
            Some(sock("198.51.100.1:0"))
        );
        // Trusted hops are skipped, across header lines too.
        assert_eq!(
            client(proxy, &["6.6.6.6, 198.51.100.1, 10.0.0.7", "127.0.0.1"]),
            Some(sock("198.51.100.1:0"))
        );
        // Ports and brackets; IPv4-mapped entries are IPv4.
        assert_eq!(
            client(proxy, &["[2001:db8::7]:4711"]),
            Some(sock("[2001:db8::7]:4711"))
        );
        assert_eq!(
            client(proxy, &["[2001:db8::7]"]),
            Some(sock("[2001:db8::7]:0"))
        );
        assert_eq!(
            client(proxy, &["2001:db8::7"]),
            Some(sock("[2001:db8::7]:0"))
        );
        assert_eq!(
            client(proxy, &["198.51.100.1:80"]),
            Some(sock("198.51.100.1:80"))
        );
        assert_eq!(
            client(proxy, &["::ffff:198.51.100.1"]),
            Some(sock("198.51.100.1:0"))
        );
        // No header: the proxy itself. Only trusted entries: the leftmost.
        assert_eq!(client(proxy, &[]), proxy);
        assert_eq!(
            client(proxy, &["10.0.0.9, 10.0.0.8"]),
            Some(sock("10.0.0.9:0"))
        );
        // No peer: nobody to believe.
        assert_eq!(client(None, &["198.51.100.1"]), None);
        // Nothing trusted: the header means nothing.
        assert_eq!(client_addr(proxy, &xff(&["198.51.100.1"]), &[]), proxy);
    }

    #[test]
    fn malformed_entries_stop_at_the_proxy_that_wrote_them() {
        let trusted = [range("10.0.0.0/8")];
        let proxy = Some(sock("10.0.0.2:5000"));
        let client = |values: &[&str]| client_addr(proxy, &xff(values), &trusted);
        assert_eq!(client(&["unknown"]), proxy);
        assert_eq!(client(&["198.51.100.1, garbage"]), proxy);
        assert_eq!(client(&["garbage, 10.0.0.3"]), Some(sock("10.0.0.3:0")));
        assert_eq!(client(&["\"[2001:db8::1]\""]), proxy);
        assert_eq!(client(&["1.2.3.4:99999"]), proxy);
        assert_eq!(client(&["198.51.100.1,, "]), Some(sock("198.51.100.1:0")));
        // Bytes that are not visible ASCII.
        assert_eq!(client(&["198.51.100.1\u{e9}"]), proxy);
        // A list longer than any chain of proxies.
        let long = vec!["10.0.0.1"; 100].join(",");
        assert_eq!(
            client(&[&format!("198.51.100.1,{long}")]),
            Some(sock("10.0.0.1:0"))
        );
    }

    #[test]
    fn the_node_limit_counts_every_slot_until_it_is_dropped() {
        let admission = limits(2, None);
        let a = admission.admit(Some(ip("198.51.100.1"))).expect("room");
        let b = admission.admit(None).expect("room");
        assert_eq!(admission.admit(None).err(), Some(Refusal::Node));
        assert_eq!(admission.open(), 2);
        drop(a);
        let c = admission.admit(None).expect("a slot was freed");
        drop((b, c));
        assert_eq!(admission.open(), 0);
        assert!(
            admission.by_address.is_empty(),
            "no map without a per-address limit"
        );
    }

    #[test]
    fn the_address_limit_counts_ipv4_addresses_and_ipv6_slash_64s() {
        let admission = limits(100, Some(2));
        let one = ip("198.51.100.1");
        let slots = [
            admission.admit(Some(one)).expect("room"),
            admission
                .admit(Some(ip("::ffff:198.51.100.1")))
                .expect("room"),
        ];
        assert_eq!(admission.admit(Some(one)).err(), Some(Refusal::Address));
        assert!(admission.admit(Some(ip("198.51.100.2"))).is_ok());
        let v6 = [
            admission.admit(Some(ip("2001:db8:0:1::1"))).expect("room"),
            admission.admit(Some(ip("2001:db8:0:1::2"))).expect("room"),
        ];
        assert_eq!(
            admission.admit(Some(ip("2001:db8:0:1:ffff::3"))).err(),
            Some(Refusal::Address),
            "the same /64"
        );
        let other = admission
            .admit(Some(ip("2001:db8:0:2::1")))
            .expect("another /64");
        // Unknown addresses count towards the node only.
        let unknown: Vec<_> = (0..5)
            .map(|_| admission.admit(None).expect("room"))
            .collect();
        drop(slots);
        assert!(admission.admit(Some(one)).is_ok());
        drop((v6, other, unknown));
        assert_eq!(admission.open(), 0);
        let entries: usize = admission
            .by_address
            .iter()
            .map(|s| s.lock().expect("lock").len())
            .sum();
        assert_eq!(entries, 0, "no entry outlives its last connection");
    }

    #[test]
    fn a_slot_dropped_by_a_panic_is_given_back() {
        let admission = limits(1, Some(1));
        let held = Arc::clone(&admission);
        let result = std::thread::spawn(move || {
            let _slot = held.admit(Some(ip("198.51.100.1"))).expect("room");
            panic!("the connection's code panicked");
        })
        .join();
        assert!(result.is_err());
        assert_eq!(admission.open(), 0);
        assert!(admission.admit(Some(ip("198.51.100.1"))).is_ok());
    }

    #[test]
    fn a_slot_is_a_few_bytes() {
        assert!(
            std::mem::size_of::<Slot>() <= 24,
            "{}",
            std::mem::size_of::<Slot>()
        );
    }

    #[test]
    fn racing_admissions_never_grant_more_than_the_limit() {
        let admission = limits(8, None);
        let granted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let admission = Arc::clone(&admission);
                let granted = Arc::clone(&granted);
                std::thread::spawn(move || {
                    let mut most = 0;
                    for _ in 0..2_000 {
                        let slots: Vec<_> =
                            (0..2).filter_map(|_| admission.admit(None).ok()).collect();
                        most = most
                            .max(granted.fetch_add(slots.len(), Ordering::SeqCst) + slots.len());
                        granted.fetch_sub(slots.len(), Ordering::SeqCst);
                        drop(slots);
                    }
                    most
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().expect("no panic") <= 8);
        }
        assert_eq!(admission.open(), 0);
    }
}
