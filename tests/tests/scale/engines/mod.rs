//! One conformance suite for every broadcast backend: the same cases run
//! against each engine (docs/SCALE.md, "Choosing an engine"), so that what
//! the rooms layer relies on (one order per room, every message once,
//! replay that meets live delivery at the seam, trimmed and reset gaps,
//! the state reported while the engine is away) holds whichever is chosen.
//!
//! An engine is an [`Engine`]: it makes a [`Deployment`] of a test's own (a
//! key prefix, a fresh in-process backend), whose [`Deployment::node`]s
//! share rooms as server nodes do. An engine that runs as a process of its
//! own also gives a [`PrivateEngine`], which the outage case kills and
//! starts again. The cases are generic functions in [`cases`]; the
//! `conformance!` macro instantiates each for one engine as a `#[tokio::test]`,
//! so a failure names the engine and the case.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tagwire::server::backend::{
    Backend, BackendState, BoxFuture, Gap, HistoryWindow, PresenceConfig, PresenceEvent,
    RoomMessage, Subscriber,
};
use tagwire_tests::engine::{EngineSpec, connect};
use tagwire_tests::process::lock;

pub mod cases;
mod kill;
mod local;
mod nats;
mod redis;

/// A broadcast engine under test.
pub trait Engine: Send + Sync + 'static {
    /// A deployment of the test's own: its nodes share rooms with each other
    /// and with no other deployment.
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment>;
}

/// Server nodes on one engine, sharing rooms.
pub trait Deployment: Send + Sync {
    /// A new node (a backend of its own, connected).
    fn node(&self) -> BoxFuture<'_, Arc<dyn Backend>>;
}

/// An engine process of the test's own, which a case may kill and start
/// again.
pub trait PrivateEngine: Engine {
    /// SIGKILL to every process of the engine.
    fn kill(&mut self);
    /// Starts it again where it was; returns when it answers.
    fn start(&mut self) -> BoxFuture<'_, ()>;
    /// Whether a restart keeps the rooms' state (JetStream's file store), or
    /// starts empty (Redis without persistence).
    fn keeps_data(&self) -> bool;
}

/// An engine that runs as processes of its own, reached through an
/// [`EngineSpec`]: each deployment is a key (or stream) prefix of its own.
pub trait Reached: Send + Sync + 'static {
    /// Where it runs.
    fn spec(&self) -> EngineSpec;
}

impl<T: Reached> Engine for T {
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        Box::new(Nodes {
            spec: self.spec(),
            prefix: unique(test),
            window,
            presence,
        })
    }
}

/// Nodes of one engine under one prefix.
struct Nodes {
    spec: EngineSpec,
    prefix: String,
    window: HistoryWindow,
    presence: PresenceConfig,
}

impl Deployment for Nodes {
    fn node(&self) -> BoxFuture<'_, Arc<dyn Backend>> {
        Box::pin(async move {
            connect(&self.spec, &self.prefix, self.window, self.presence)
                .await
                .unwrap_or_else(|error| panic!("connecting to {}: {error}", self.spec))
        })
    }
}

/// One node's view: what its backend delivered, in order.
#[derive(Default)]
pub struct Recorder {
    messages: Mutex<Vec<RoomMessage>>,
    gaps: Mutex<Vec<Gap>>,
}

impl Subscriber for Recorder {
    fn message(&self, message: &RoomMessage) {
        lock(&self.messages).push(message.clone());
    }
    fn gap(&self, gap: &Gap) {
        lock(&self.gaps).push(gap.clone());
    }
}

impl Recorder {
    /// Attaches a new recorder to `backend`; the caller keeps it alive.
    pub fn attach(backend: &Arc<dyn Backend>) -> Arc<Recorder> {
        let recorder = Arc::new(Recorder::default());
        let subscriber: Arc<dyn Subscriber> = recorder.clone();
        backend.attach(Arc::downgrade(&subscriber));
        recorder
    }

    /// The messages delivered for `room`, in order.
    pub fn in_room(&self, room: &str) -> Vec<RoomMessage> {
        lock(&self.messages)
            .iter()
            .filter(|m| &*m.room == room)
            .cloned()
            .collect()
    }

    /// The presence events delivered for `room`, in order: (seq, kind as
    /// its payload letter, member, state).
    pub fn presence(&self, room: &str) -> Vec<(u64, char, String, Vec<u8>)> {
        self.in_room(room)
            .iter()
            .filter_map(|m| {
                let event = PresenceEvent::parse(&m.payload)?;
                Some((
                    m.position.seq,
                    char::from(event.kind.byte()),
                    event.member.to_owned(),
                    event.state.to_vec(),
                ))
            })
            .collect()
    }

    /// The gaps delivered.
    pub fn gaps(&self) -> Vec<Gap> {
        lock(&self.gaps).clone()
    }
}

/// Polls `done` every 10 ms for up to 20 s.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the backend's state passes `test`.
pub async fn state_becomes(
    backend: &Arc<dyn Backend>,
    what: &str,
    test: impl Fn(&BackendState) -> bool,
) {
    let mut state = backend.state();
    let wait = state.wait_for(|s| test(s));
    if !matches!(
        tokio::time::timeout(Duration::from_secs(20), wait).await,
        Ok(Ok(_))
    ) {
        panic!(
            "the backend never became {what}: {:?}",
            *backend.state().borrow()
        );
    }
}

/// A name no other test or run uses, for key prefixes and stream names.
pub fn unique(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("tw{}x{nanos}x{test}", std::process::id())
}

/// One `#[tokio::test]` per case for the engine `$engine` (an expression
/// of a type implementing [`Engine`]).
#[macro_export]
macro_rules! conformance {
    ($engine:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn one_order_per_room_whichever_node_publishes() {
            let _shared = $crate::shared().await;
            $crate::engines::cases::one_order_per_room(&$engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn replay_meets_live_delivery_at_the_seam() {
            let _shared = $crate::shared().await;
            $crate::engines::cases::replay_meets_live_delivery(&$engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn history_beyond_the_window_is_a_trimmed_gap() {
            let _shared = $crate::shared().await;
            $crate::engines::cases::trimmed_gaps(&$engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn messages_older_than_the_window_leave_it() {
            let _shared = $crate::shared().await;
            $crate::engines::cases::time_window_trims_by_age(&$engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn positions_of_another_epoch_or_ahead_are_reset_gaps() {
            let _shared = $crate::shared().await;
            $crate::engines::cases::reset_gaps(&$engine).await;
        }
    };
}

/// The presence cases, for an engine that keeps presence.
#[macro_export]
macro_rules! conformance_presence {
    ($engine:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn presence_events_travel_in_the_room_order() {
            let _shared = $crate::shared().await;
            $crate::engines::cases::presence_events_travel_in_the_room_order(&$engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_member_lingers_and_is_taken_over_without_a_flicker() {
            let _shared = $crate::shared().await;
            $crate::engines::cases::presence_lingers_and_is_taken_over(&$engine).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_members_of_a_vanished_node_leave_within_its_lease() {
            let _shared = $crate::shared().await;
            let took =
                $crate::engines::cases::presence_of_a_vanished_node_is_removed(&$engine).await;
            eprintln!("members of a vanished node removed after {took:?}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn presence_is_bounded() {
            let _shared = $crate::shared().await;
            $crate::engines::cases::presence_is_bounded(&$engine).await;
        }
    };
}

/// The outage case for an engine that runs as a process of its own
/// (`$private` makes a fresh [`PrivateEngine`]).
#[macro_export]
macro_rules! conformance_outage {
    ($private:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_state_follows_the_engine_away_and_back() {
            let _shared = $crate::shared().await;
            let mut engine = $private;
            $crate::engines::cases::engine_away_and_back(&mut engine).await;
        }
    };
}
