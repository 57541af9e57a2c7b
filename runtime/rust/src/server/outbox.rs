//! A connection's outbound queue: bounded in frames and bytes, allocated
//! only while frames wait, and closable so that everything accepted before
//! a close is written before the close frame.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use std::fmt;

use crate::{CloseCode, Header};

/// Why a message could not be queued for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closing or closed (drain, close, peer gone).
    Closed,
    /// The client did not keep up: its queue overflowed and the connection
    /// is being closed with 4002.
    SlowConsumer,
    /// The message breaks one of the schema's constraints, so the client's
    /// decoder would reject it; nothing was queued.
    Invalid(crate::Violation),
    /// The client was generated from an older protocol: it does not know
    /// this message version (the header) and no conversion reaches one it
    /// knows (SPEC §9.6). The client was sent the outdated notice instead.
    Outdated(Header),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("the connection is closed"),
            SendError::SlowConsumer => {
                f.write_str("the client is not reading; its connection is being closed (4002)")
            }
            SendError::Invalid(violation) => write!(f, "not sent: {violation}"),
            SendError::Outdated(header) => write!(
                f,
                "not sent: the client's protocol is older than message {header} and no conversion reaches a version it knows; it was told it is outdated"
            ),
        }
    }
}

impl std::error::Error for SendError {}

/// Why and how a connection is being closed from the server side.
#[derive(Debug, Clone)]
pub(crate) enum Closing {
    /// Write what is queued, then (if any) the notice frame, then a close
    /// frame with `code`. The notice is boxed: only a drain sends one, and
    /// this state is part of every connection's.
    Close {
        code: CloseCode,
        reason: String,
        notice: Option<Box<Message>>,
    },
    /// The client stopped reading: what is queued cannot be delivered.
    SlowConsumer { undelivered: usize },
}

/// What the connection loop should do next.
#[derive(Debug)]
pub(crate) enum Next {
    Frame(Message),
    Close(Closing),
    Idle,
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Message>,
    bytes: usize,
    closing: Option<Closing>,
}

#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Woken by a push into an empty queue and by a close; `notify_one`
    /// keeps a permit when the loop is busy writing, so no wake-up is lost.
    /// A push behind queued frames wakes nothing: the loop writes until
    /// [`Outbox::next`] says `Idle`, which it cannot say while that frame
    /// waits. (A fan-out pushes to thousands of queues per broadcast; a
    /// wake-up per frame touched each connection's `Notify` from the
    /// broadcasting core and left the loop a permit for a queue it had
    /// already emptied.)
    pub(crate) ready: Notify,
    max_frames: usize,
    max_bytes: usize,
}

fn frame_len(m: &Message) -> usize {
    m.len()
}

impl Outbox {
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Outbox {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            max_frames,
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves only a queue behind, which
        // stays consistent: keep serving rather than poison every sender.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Frames and bytes waiting to be written (for the inspector).
    pub(crate) fn queued(&self) -> (usize, usize) {
        let state = self.lock();
        (state.frames.len(), state.bytes)
    }

    /// Queues one frame, or reports why it cannot be.
    pub(crate) fn push(&self, frame: Message) -> Result<(), SendError> {
        let mut state = self.lock();
        match state.closing {
            Some(Closing::SlowConsumer { .. }) => return Err(SendError::SlowConsumer),
            Some(Closing::Close { .. }) => return Err(SendError::Closed),
            None => {}
        }
        let len = frame_len(&frame);
        if state.frames.len() >= self.max_frames || state.bytes + len > self.max_bytes {
            let undelivered = state.frames.len() + 1;
            state.frames = VecDeque::new();
            state.bytes = 0;
            state.closing = Some(Closing::SlowConsumer { undelivered });
            drop(state);
            self.ready.notify_one();
            return Err(SendError::SlowConsumer);
        }
        let wake = state.frames.is_empty();
        state.bytes += len;
        state.frames.push_back(frame);
        drop(state);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Queues `frames` together, nothing between them, or none of them
    /// (then as [`Outbox::push`] for a frame that does not fit).
    pub(crate) fn push_all(&self, frames: Vec<Message>) -> Result<(), SendError> {
        let mut state = self.lock();
        match state.closing {
            Some(Closing::SlowConsumer { .. }) => return Err(SendError::SlowConsumer),
            Some(Closing::Close { .. }) => return Err(SendError::Closed),
            None => {}
        }
        let len: usize = frames.iter().map(frame_len).sum();
        if state.frames.len() + frames.len() > self.max_frames || state.bytes + len > self.max_bytes
        {
            let undelivered = state.frames.len() + frames.len();
            state.frames = VecDeque::new();
            state.bytes = 0;
            state.closing = Some(Closing::SlowConsumer { undelivered });
            drop(state);
            self.ready.notify_one();
            return Err(SendError::SlowConsumer);
        }
        let wake = state.frames.is_empty() && !frames.is_empty();
        state.bytes += len;
        state.frames.extend(frames);
        drop(state);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Starts closing unless a close is already under way; frames queued so
    /// far are still written first. Returns whether this call started it.
    pub(crate) fn close(&self, closing: Closing) -> bool {
        let mut state = self.lock();
        if state.closing.is_some() {
            return false;
        }
        state.closing = Some(closing);
        drop(state);
        self.ready.notify_one();
        true
    }

    /// Whether a close has been asked for.
    pub(crate) fn is_closing(&self) -> bool {
        self.lock().closing.is_some()
    }

    /// The next thing to write: queued frames first, then the close.
    pub(crate) fn next(&self) -> Next {
        let mut state = self.lock();
        if let Some(closing @ Closing::SlowConsumer { .. }) = &state.closing {
            return Next::Close(closing.clone());
        }
        if let Some(frame) = state.frames.pop_front() {
            state.bytes -= frame_len(&frame);
            if state.frames.is_empty() && state.frames.capacity() > 16 {
                // A burst is over: give its memory back, idle connections
                // should cost almost nothing.
                state.frames = VecDeque::new();
            }
            return Next::Frame(frame);
        }
        match &state.closing {
            Some(closing) => Next::Close(closing.clone()),
            None => Next::Idle,
        }
    }

    /// Frames that were accepted but will never be written (after the
    /// connection ended without reaching them).
    pub(crate) fn abandon(&self) -> usize {
        let mut state = self.lock();
        let n = state.frames.len();
        state.frames = VecDeque::new();
        state.bytes = 0;
        if state.closing.is_none() {
            state.closing = Some(Closing::Close {
                code: CloseCode::GOING_AWAY,
                reason: String::new(),
                notice: None,
            });
        }
        match state.closing {
            Some(Closing::SlowConsumer { undelivered }) => n + undelivered,
            _ => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Message {
        Message::text(s)
    }

    #[test]
    fn frames_come_out_in_order_then_the_close() {
        let outbox = Outbox::new(4, 1024);
        assert!(outbox.push(text("aa")).is_ok());
        assert!(outbox.push(text("ab")).is_ok());
        assert!(outbox.close(Closing::Close {
            code: CloseCode::DRAIN,
            reason: "deploy".into(),
            notice: None
        }));
        assert_eq!(outbox.push(text("ac")), Err(SendError::Closed));
        assert!(matches!(outbox.next(), Next::Frame(m) if m == text("aa")));
        assert!(matches!(outbox.next(), Next::Frame(m) if m == text("ab")));
        assert!(matches!(outbox.next(), Next::Close(Closing::Close { .. })));
    }

    #[test]
    fn overflow_turns_the_connection_into_a_slow_consumer() {
        let outbox = Outbox::new(2, 1024);
        assert!(outbox.push(text("aa")).is_ok());
        assert!(outbox.push(text("ab")).is_ok());
        assert_eq!(outbox.push(text("ac")), Err(SendError::SlowConsumer));
        assert!(matches!(
            outbox.next(),
            Next::Close(Closing::SlowConsumer { undelivered: 3 })
        ));
        assert_eq!(outbox.push(text("ad")), Err(SendError::SlowConsumer));
    }

    /// Whether the writing loop would be woken now (takes the permit).
    fn woken(outbox: &Outbox) -> bool {
        use futures_util::FutureExt;
        outbox.ready.notified().now_or_never().is_some()
    }

    #[test]
    fn only_a_push_into_an_empty_queue_wakes_the_loop() {
        let outbox = Outbox::new(16, 1024);
        assert!(!woken(&outbox));
        assert!(outbox.push(text("aa")).is_ok());
        assert!(woken(&outbox), "the first frame wakes the loop");
        // The loop is writing "aa" when more arrive: they need no wake-up,
        // it drains until the queue says Idle.
        assert!(outbox.push(text("ab")).is_ok());
        assert!(outbox.push(text("ac")).is_ok());
        assert!(!woken(&outbox), "frames behind queued ones wake nothing");
        for expected in ["aa", "ab", "ac"] {
            assert!(matches!(outbox.next(), Next::Frame(m) if m == text(expected)));
        }
        assert!(matches!(outbox.next(), Next::Idle));
        // Emptied: the next frame wakes the loop again, and so does a close.
        assert!(outbox.push(text("ad")).is_ok());
        assert!(woken(&outbox));
        assert!(matches!(outbox.next(), Next::Frame(m) if m == text("ad")));
        assert!(outbox.push(text("ae")).is_ok());
        assert!(woken(&outbox));
        assert!(outbox.close(Closing::Close {
            code: CloseCode::DRAIN,
            reason: String::new(),
            notice: None
        }));
        assert!(
            woken(&outbox),
            "a close behind queued frames wakes the loop"
        );
    }

    #[test]
    fn the_byte_bound_counts_too() {
        let outbox = Outbox::new(100, 5);
        assert!(outbox.push(text("aa|x")).is_ok());
        assert_eq!(outbox.push(text("ab|y")), Err(SendError::SlowConsumer));
    }
}
