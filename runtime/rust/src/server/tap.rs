//! The frame tap behind the live inspector: who watches which connection,
//! and each watched frame described (its message's name, version and
//! `Debug` text) for the watchers.
//!
//! It costs a connection one relaxed atomic load per frame while nobody
//! watches: the frame is described (decoded again, its `Debug` text taken)
//! only for a connection someone watches. A watcher's memory is bounded: a
//! channel of `watcher_buffer` events, each with its text cut at
//! [`MAX_TEXT`] bytes; events that find it full are dropped and counted, and
//! at most `max_watchers` watch at once. The connection loop and the core
//! use it; it names neither, so nothing imports back.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::__private::{base64url_encode, push_json_string};
use crate::control::{ROOM, RoomEnvelope};
use crate::frame::{Incoming, Payload, decode};
use crate::{Header, Limits, Package, Protocol};

/// Longest `value` and `raw` text of one frame event; longer ones are cut
/// (marked `truncated`), so a watcher's buffer is bounded in bytes.
pub(crate) const MAX_TEXT: usize = 4096;

/// Which way a frame went.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dir {
    In,
    Out,
}

struct Watcher {
    id: u64,
    conn: u64,
    tx: mpsc::Sender<String>,
    /// Events this watcher's full channel refused.
    dropped: u64,
    seq: u64,
}

/// The frame tap: who watches which connection.
#[derive(Default)]
pub(crate) struct Tap {
    /// Watchers now; the only thing a frame looks at while this is 0.
    active: AtomicUsize,
    watchers: Mutex<Vec<Watcher>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("active", &self.active.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Tap {
    /// Whether anyone watches any connection. Relaxed: a frame passing as
    /// a watcher arrives may or may not be shown, either is right.
    #[inline]
    pub(crate) fn watching(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Watcher>> {
        self.watchers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands the frame `describe` gives to the watchers of `conn`, if any;
    /// `describe` runs only then, outside the lock.
    pub(crate) fn capture(&self, conn: u64, describe: impl FnOnce() -> String) {
        if !self.lock().iter().any(|w| w.conn == conn) {
            return;
        }
        let event = describe();
        let mut watchers = self.lock();
        watchers.retain_mut(|w| {
            if w.conn != conn {
                return true;
            }
            w.seq += 1;
            let line = format!("{{\"seq\":{},\"dropped\":{},{event}}}", w.seq, w.dropped);
            match w.tx.try_send(line) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    w.dropped += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        self.active.store(watchers.len(), Ordering::Relaxed);
    }

    /// A new watcher of `conn`, unless `max` watch already.
    pub(crate) fn watch(
        self: &Arc<Self>,
        conn: u64,
        max: usize,
        buffer: usize,
    ) -> Option<(WatchGuard, mpsc::Receiver<String>)> {
        let mut watchers = self.lock();
        if watchers.len() >= max {
            return None;
        }
        let (tx, rx) = mpsc::channel(buffer.max(1));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        watchers.push(Watcher {
            id,
            conn,
            tx,
            dropped: 0,
            seq: 0,
        });
        self.active.store(watchers.len(), Ordering::Relaxed);
        Some((
            WatchGuard {
                tap: self.clone(),
                id,
            },
            rx,
        ))
    }

    pub(crate) fn watchers(&self) -> usize {
        self.lock().len()
    }
}

/// Removes its watcher when the frame stream ends (the page went away).
pub(crate) struct WatchGuard {
    tap: Arc<Tap>,
    id: u64,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let mut watchers = self.tap.lock();
        watchers.retain(|w| w.id != self.id);
        self.tap.active.store(watchers.len(), Ordering::Relaxed);
    }
}

/// Bounds for decoding a frame again for the inspector: what was sent or
/// accepted already, so only a sanity bound applies.
fn lenient() -> Limits {
    Limits {
        max_frame_bytes: 64 * 1024 * 1024,
        max_collection_len: usize::MAX,
        max_string_bytes: usize::MAX,
        ..Limits::default()
    }
}

fn payload(frame: &Message) -> Option<Payload<'_>> {
    match frame {
        Message::Text(text) => Some(Payload::Text(text.as_str())),
        Message::Binary(bytes) => Some(Payload::Binary(bytes)),
        _ => None,
    }
}

/// `text` cut to [`MAX_TEXT`] bytes at a character boundary.
fn cut(text: &str) -> (&str, bool) {
    if text.len() <= MAX_TEXT {
        return (text, false);
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// What a decoded frame is: its message's header, name, version and
/// `Debug` text, or the control message, or why it did not decode.
struct Described {
    header: Option<Header>,
    name: Option<String>,
    version: Option<u32>,
    value: String,
}

fn message<P: Package, M: Protocol + std::fmt::Debug>(m: &M, prefix: &str) -> Described {
    let header = m.header();
    let named = P::describe(header);
    Described {
        header: Some(header),
        name: named.map(|(n, _)| n.to_string()),
        version: named.map(|(_, v)| v),
        value: format!("{prefix}{m:?}"),
    }
}

fn decoded<P: Package, M: Protocol + std::fmt::Debug>(
    payload: Payload<'_>,
    prefix: &str,
) -> Described {
    match decode::<M>(payload, &lenient()) {
        Ok(Incoming::Message(m)) => message::<P, M>(&m, prefix),
        Ok(Incoming::Control(control)) => {
            let value = format!("{prefix}{control:?}");
            // The variant's name (`Hello`, `Ping`…) names a control message.
            let name = value[prefix.len()..]
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .map(str::to_string);
            Described {
                header: Some(control.header()),
                name,
                version: None,
                value,
            }
        }
        Err(error) => Described {
            header: None,
            name: None,
            version: None,
            value: format!("{prefix}(did not decode: {error})"),
        },
    }
}

/// The JSON fields of one frame event (all but `seq` and `dropped`).
/// Runs only for a watched connection.
pub(crate) fn describe<P: Package>(
    dir: Dir,
    frame: &Message,
    since: Option<std::time::Instant>,
) -> String {
    let Some(payload) = payload(frame) else {
        return "\"dir\":\"none\"".into();
    };
    let d = match (dir, payload) {
        (Dir::In, p) => decoded::<P, P::Client>(p, ""),
        (Dir::Out, Payload::Text(t)) if t.starts_with("_h") => {
            match RoomEnvelope::split_text(t, &lenient()) {
                Ok((room, at, inner)) => {
                    decoded::<P, P::Server>(Payload::Text(inner), &format!("room {room} @{at}: "))
                }
                Err(e) => decoded::<P, P::Server>(payload, &format!("(bad envelope: {e}) ")),
            }
        }
        (Dir::Out, Payload::Binary(b)) if b.starts_with(&ROOM.to_bytes()) => {
            match RoomEnvelope::split_binary(b, &lenient()) {
                Ok((room, at, inner)) => {
                    decoded::<P, P::Server>(Payload::Binary(inner), &format!("room {room} @{at}: "))
                }
                Err(e) => decoded::<P, P::Server>(payload, &format!("(bad envelope: {e}) ")),
            }
        }
        (Dir::Out, p) => decoded::<P, P::Server>(p, ""),
    };
    let mut out = String::with_capacity(256);
    out.push_str(match dir {
        Dir::In => "\"dir\":\"in\"",
        Dir::Out => "\"dir\":\"out\"",
    });
    out.push_str(",\"header\":");
    let wire_header = match payload {
        Payload::Text(t) => t.get(..2).map(str::to_string),
        Payload::Binary(b) => b.get(..2).map(|h| String::from_utf8_lossy(h).into_owned()),
    };
    match d.header.map(|h| h.to_string()).or(wire_header) {
        Some(h) => push_json_string(&h, &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"name\":");
    match &d.name {
        Some(n) => push_json_string(n, &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"version\":");
    match d.version {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("null"),
    }
    let (value, value_cut) = cut(&d.value);
    out.push_str(",\"value\":");
    push_json_string(value, &mut out);
    let (raw, binary, raw_cut) = match payload {
        Payload::Text(t) => {
            let (raw, c) = cut(t);
            (raw.to_string(), false, c)
        }
        Payload::Binary(b) => {
            let mut raw = String::new();
            let keep = b.len().min(MAX_TEXT / 4 * 3);
            base64url_encode(&b[..keep], &mut raw);
            (raw, true, keep < b.len())
        }
    };
    out.push_str(",\"raw\":");
    push_json_string(&raw, &mut out);
    let _ = write!(
        out,
        ",\"binary\":{binary},\"bytes\":{},\"truncated\":{}",
        frame.len(),
        value_cut || raw_cut
    );
    if let Some(since) = since {
        let _ = write!(out, ",\"t_ms\":{}", since.elapsed().as_millis());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwatched_connection_is_never_described() {
        let tap = Arc::new(Tap::default());
        assert!(!tap.watching());
        tap.capture(1, || unreachable!("nobody watches"));
        let (_guard, _rx) = tap.watch(2, 4, 8).expect("a watcher");
        assert!(tap.watching());
        // Someone watches another connection: this one is still not described.
        tap.capture(1, || unreachable!("nobody watches connection 1"));
    }

    #[test]
    fn a_slow_watcher_loses_frames_counted_and_watchers_are_capped() {
        let tap = Arc::new(Tap::default());
        let (guard, mut rx) = tap.watch(1, 2, 2).expect("a watcher");
        let (second, _rx2) = tap.watch(1, 2, 2).expect("a second watcher");
        assert!(tap.watch(1, 2, 2).is_none(), "at most 2 watchers");
        for n in 0..5 {
            tap.capture(1, || format!("\"n\":{n}"));
        }
        assert_eq!(
            rx.try_recv().ok().as_deref(),
            Some("{\"seq\":1,\"dropped\":0,\"n\":0}")
        );
        assert_eq!(
            rx.try_recv().ok().as_deref(),
            Some("{\"seq\":2,\"dropped\":0,\"n\":1}")
        );
        assert!(rx.try_recv().is_err(), "the rest were dropped, not queued");
        tap.capture(1, || "\"n\":5".into());
        assert_eq!(
            rx.try_recv().ok().as_deref(),
            Some("{\"seq\":6,\"dropped\":3,\"n\":5}")
        );
        drop(second);
        assert_eq!(tap.watchers(), 1);
        drop(guard);
        assert!(!tap.watching(), "a closed stream stops the tap");
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT);
        let (cut_text, truncated) = cut(&long);
        assert!(truncated && cut_text.len() <= MAX_TEXT && cut_text.chars().all(|c| c == 'é'));
        assert_eq!(cut("short"), ("short", false));
    }
}
