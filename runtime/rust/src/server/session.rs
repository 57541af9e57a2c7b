//! One connection's loop: reads frames into the handler, writes the
//! outbox, keeps the heartbeat, and closes the way SPEC §9 says.
//!
//! A single task per connection (no reader/writer split) keeps an idle
//! connection down to one future, one socket and one small read buffer.
//! The application's code runs inside that task as one job at a time (its
//! `on_open`, or one message's conversion, authorization and handling),
//! polled beside the socket: a handler awaiting a slow database does not
//! stop the heartbeat or the outbox, and the frames its client sends
//! meanwhile wait in order, up to a bound. A job that panics ends its
//! connection with 1011 and nothing else.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, error::CapacityError};

use super::connection::Connection;
use super::connection::Served;
use super::core::Core;
use super::guard::{Authenticate, Denied};
use super::guard::{ConnectRequest, TransportKind};
use super::handler::{CloseReport, Handler};
use super::member::ConnectionState;
use super::metrics::{Conversion, Reason};
use super::outbox::{Closing, Next};
use super::rate::{Over, RateState};
use super::shared::Shared;
use super::tap::Dir;
use crate::control::{Control, ErrorNotice, Welcome, error_code};
use crate::frame::{Incoming, Payload, decode, to_message};
use crate::{CloseCode, DecodeErrorKind, Header, Package};

/// How the loop ended.
enum End {
    /// The server closed with this code (a close frame was attempted).
    Server(CloseCode, String),
    /// The peer closed, with its code if it sent one.
    Peer(Option<CloseCode>, String),
}

/// Most frames read in a row before the outbox gets its turn.
const READ_BATCH: usize = 16;

/// What the loop does after one incoming frame.
enum AfterFrame {
    /// Read on, if more has arrived.
    Next,
    /// Let the outbox be written first.
    Yield,
    End(End),
}

/// A connection's frames, whatever carries them: a WebSocket, or the SSE
/// stream and its POSTs (`super::sse`).
pub(crate) trait Transport:
    futures_util::Stream<Item = Result<Message, WsError>>
    + futures_util::Sink<Message, Error = WsError>
    + Unpin
{
}

impl<T> Transport for T where
    T: futures_util::Stream<Item = Result<Message, WsError>>
        + futures_util::Sink<Message, Error = WsError>
        + Unpin
{
}

/// Application code that panicked; the payload is only logged.
struct Panicked(Box<dyn Any + Send>);

impl Panicked {
    /// The panic's message, for the server's log.
    fn message(&self) -> &str {
        if let Some(text) = self.0.downcast_ref::<&str>() {
            text
        } else if let Some(text) = self.0.downcast_ref::<String>() {
            text
        } else {
            "(not a string)"
        }
    }
}

/// Runs `work` (application code), catching a panic so that it ends only
/// the connection it ran for. Logged at error level and counted.
pub(crate) async fn contained<T>(
    core: &Core,
    connection: Option<u64>,
    what: &str,
    header: Option<Header>,
    work: impl Future<Output = T>,
) -> Option<T> {
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(value) => Some(value),
        Err(payload) => {
            report_panic(core, connection, what, header, &Panicked(payload));
            None
        }
    }
}

fn report_panic(
    core: &Core,
    connection: Option<u64>,
    what: &str,
    header: Option<Header>,
    panicked: &Panicked,
) {
    core.count_panic();
    tracing::error!(
        connection,
        header = header.map(tracing::field::display),
        hook = what,
        panic = panicked.message(),
        "application code panicked; its connection alone is closed (1011)"
    );
}

/// A job's code panicked (already logged and counted where it was caught).
struct JobPanicked;

/// One piece of application code a connection runs, one at a time.
enum Job<M> {
    /// [`Handler::on_open`].
    Open,
    /// A client message: upgraded, authorized, handled. `sent` is the
    /// header the client sent (before any upgrade).
    Message { message: M, sent: Header },
}

/// A running job: boxed, so an idle connection pays a pointer for it
/// rather than the size of the application's largest future.
type Running<'a> = Pin<Box<dyn Future<Output = Result<(), JobPanicked>> + Send + 'a>>;

/// Frames read while a job runs, waiting for their turn.
#[derive(Default)]
struct Waiting {
    frames: VecDeque<Message>,
    bytes: usize,
}

/// What the loop keeps about the client between frames.
struct LoopState {
    last_pong: Instant,
    /// Until [`Handler::on_open`] has started: when it starts at the latest
    /// (the client's first frame starts it earlier).
    open_by: Option<Instant>,
    /// Only when the server has rate limits: most connections of most
    /// servers never need the buckets, and the loop's state is part of
    /// every idle connection's memory.
    rate: Option<Box<RateState>>,
    /// Only while a job runs and frames arrive behind it.
    waiting: Option<Box<Waiting>>,
    /// The peer closed while frames were still to be handled: those go
    /// first, then the loop ends this way.
    peer_gone: Option<Box<End>>,
    /// Frames read but never handled (the connection ended first).
    unhandled: usize,
    /// Application code panicked.
    panicked: bool,
}

impl LoopState {
    fn has_waiting(&self) -> bool {
        self.waiting.as_ref().is_some_and(|w| !w.frames.is_empty())
    }

    fn next_waiting(&mut self) -> Option<Message> {
        let waiting = self.waiting.as_mut()?;
        let frame = waiting.frames.pop_front();
        match &frame {
            Some(frame) => waiting.bytes -= frame.len(),
            None => self.waiting = None,
        }
        frame
    }

    /// Drops the frames still waiting, counting them as never handled.
    fn drop_waiting(&mut self) {
        if let Some(waiting) = self.waiting.take() {
            self.unhandled += waiting.frames.len();
        }
    }
}

/// How a session ended, for its [`CloseReport`].
struct Outcome {
    end: End,
    unhandled: usize,
    panicked: bool,
}

/// Keeps a connection in the registry until dropped; then takes it out of
/// the registry and its rooms and abandons its outbox, however its task
/// ended (returned, panicked outside the contained hooks, or aborted).
///
/// The rooms hold the connection's state, which holds the server (the
/// rooms among it): leaving the rooms here is what breaks that cycle.
struct Registered<C: Send + Sync + 'static>(Option<Arc<ConnectionState<Served<C>>>>);

impl<C: Send + Sync + 'static> Registered<C> {
    fn new<P: Package>(conn: &Connection<P, C>) -> Self {
        conn.core().register(conn.member());
        Registered(Some(conn.state.clone()))
    }

    /// Cleans up now; the frames accepted for the client that it never got.
    fn release(&mut self) -> usize {
        let Some(member) = self.0.take() else {
            return 0;
        };
        let core = &member.context.core;
        core.rooms.leave_all(member.id);
        core.unregister(member.id);
        member.outbox.abandon()
    }
}

impl<C: Send + Sync + 'static> Drop for Registered<C> {
    fn drop(&mut self) {
        self.release();
    }
}

/// The transport is borrowed, not moved in: an `async fn` keeps a moved-in
/// argument twice in its future (the argument and its binding), and this
/// future is part of every idle connection's memory.
pub(crate) async fn run<P, H, A, T>(
    shared: Arc<Shared<P, H, A>>,
    ws: &mut T,
    conn: Connection<P, A::Context>,
    transport: TransportKind,
) where
    P: Package,
    A: Authenticate,
    H: Handler<P, A::Context>,
    T: Transport,
{
    let core = &shared.core;
    let mut registered = Registered::new(&conn);
    core.metrics.opened(transport, conn.encoding());
    // `on_open` runs inside the loop, once the client's first frame (its
    // hello) has arrived: sends it makes then reach an old client
    // converted (docs/RUNTIME.md, Protocol evolution).
    let outcome = Session {
        shared: &shared,
        conn: &conn,
        transport,
    }
    .run(ws)
    .await;
    let undelivered = registered.release();
    let (code, reason, by_server) = match outcome.end {
        End::Server(code, reason) => (Some(code), reason, true),
        End::Peer(code, reason) => (code, reason, false),
    };
    let report = CloseReport {
        code,
        reason,
        by_server,
        undelivered,
        unhandled: outcome.unhandled,
        // The server closes with 1011 for nothing else: a conversion that
        // panicked while another task sent to this connection closes it so.
        panicked: outcome.panicked || (by_server && code == Some(CloseCode::INTERNAL_ERROR)),
    };
    core.metrics.closed(
        transport,
        conn.encoding(),
        conn.state.outdated_peer().is_some(),
        super::metrics::Ended {
            code: report.code,
            by_server: report.by_server,
            undelivered: report.undelivered,
            unhandled: report.unhandled,
        },
    );
    if report.undelivered > 0 || report.unhandled > 0 {
        tracing::warn!(
            connection = conn.id(),
            undelivered = report.undelivered,
            unhandled = report.unhandled,
            code = ?report.code,
            "connection closed with frames it never received or never had handled"
        );
    }
    contained(
        core,
        Some(conn.id()),
        "on_close",
        None,
        shared.handler.on_close(&conn, &report),
    )
    .await;
}

/// Asks the authentication hook about a connection request. A panic in the
/// hook is caught, logged and counted, and refuses the client with 1011
/// rather than killing the request's task.
pub(crate) async fn authenticate<P: Package, H, A: Authenticate>(
    shared: &Shared<P, H, A>,
    request: &ConnectRequest,
) -> Result<A::Context, Denied> {
    contained(
        &shared.core,
        None,
        "the authentication hook",
        None,
        shared.auth.authenticate(request),
    )
    .await
    .unwrap_or_else(|| Err(Denied::server_error()))
    .inspect_err(|_| shared.core.metrics.refused(Reason::Auth))
}

/// A client the authentication hook refused: accepted, then closed at once
/// with 4004 and the reason (SPEC §9.4: clients stop), before any handler
/// code runs.
pub(crate) async fn unauthorized<P, H, A, T>(shared: &Shared<P, H, A>, mut ws: T, denied: &Denied)
where
    P: Package,
    A: Authenticate,
    T: Transport,
{
    tracing::debug!(reason = %denied, "connection refused by authentication");
    let frame = CloseFrame {
        code: WsCloseCode::from(denied.close_code().0),
        reason: truncate_reason(denied.reason()).into(),
    };
    let wait = shared.core.config.drain.close_timeout;
    if timeout(wait, ws.send(Message::Close(Some(frame))))
        .await
        .is_ok()
    {
        // Wait a little for the client's close frame, so the TCP
        // connection ends cleanly; whatever else it sends is dropped.
        let _ = timeout(wait, async {
            while let Some(Ok(message)) = ws.next().await {
                if message.is_close() {
                    break;
                }
            }
        })
        .await;
    }
}

struct Session<'a, P: Package, H, A: Authenticate> {
    shared: &'a Shared<P, H, A>,
    conn: &'a Connection<P, A::Context>,
    transport: TransportKind,
}

// By hand: derived, they would ask `P`, `H` and `A` to be `Copy` too.
impl<P: Package, H, A: Authenticate> Clone for Session<'_, P, H, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Package, H, A: Authenticate> Copy for Session<'_, P, H, A> {}

impl<'a, P: Package, A: Authenticate, H: Handler<P, A::Context>> Session<'a, P, H, A> {
    async fn run<T: Transport>(&self, ws: &mut T) -> Outcome {
        let started = Instant::now();
        let mut state = LoopState {
            last_pong: started,
            open_by: Some(started + self.shared.core.config.limits.hello_timeout),
            rate: (self.shared.core.config.rate_limits.connection.is_some()
                || !self.shared.message_quotas.is_empty())
            .then(Box::default),
            waiting: None,
            peer_gone: None,
            unhandled: 0,
            panicked: false,
        };
        let end = self.serve(ws, &mut state).await;
        // Every connection is opened before it is closed, even one that
        // ended before its first frame (its sends then fail with Closed).
        if state.open_by.take().is_some() {
            let open = self.start(Job::Open);
            if open.await.is_err() {
                state.panicked = true;
            }
        }
        Outcome {
            end,
            unhandled: state.unhandled,
            panicked: state.panicked,
        }
    }

    /// The future of one job, its panic caught. Boxed: `on_open` runs
    /// once and a message's handling is as large as the application makes
    /// it, while the slot that holds it is part of every idle connection.
    fn start(self, job: Job<P::Client>) -> Running<'a> {
        Box::pin(async move {
            let header = match &job {
                Job::Open => None,
                Job::Message { sent, .. } => Some(*sent),
            };
            let work = async move {
                match job {
                    Job::Open => self.shared.handler.on_open(self.conn).await,
                    Job::Message { message, sent } => {
                        let metrics = &self.shared.core.metrics;
                        let started = metrics.clock();
                        self.dispatch(message, sent).await;
                        metrics.handled(started);
                    }
                }
            };
            AssertUnwindSafe(work)
                .catch_unwind()
                .await
                .map_err(|payload| {
                    let panicked = Panicked(payload);
                    let what = if header.is_some() {
                        "a message's handling"
                    } else {
                        "on_open"
                    };
                    report_panic(
                        &self.shared.core,
                        Some(self.conn.id()),
                        what,
                        header,
                        &panicked,
                    );
                    JobPanicked
                })
        })
    }

    /// A client message's way to [`Handler::on_message`]: upgraded to the
    /// newest version, checked, authorized.
    async fn dispatch(self, message: P::Client, sent: Header) {
        let message = P::upgrade(message);
        let upgraded = crate::Protocol::header(&message) != sent;
        if upgraded {
            self.shared.core.metrics.converted(sent, Conversion::Up);
        }
        if upgraded && let Err(violation) = crate::Protocol::validate(&message) {
            tracing::error!(
                from = %sent,
                to = %crate::Protocol::header(&message),
                %violation,
                "an upgrade produced a value that breaks a constraint"
            );
            let _ = self.refuse(
                error_code::INVALID,
                format!("frame {sent} was refused once upgraded: {violation}"),
            );
            return;
        }
        if let Err(denied) = self.shared.handler.authorize(self.conn, &message).await {
            self.shared.core.metrics.refused(Reason::Authorization);
            let _ = self.refuse(
                error_code::FORBIDDEN,
                // The header the client sent, even when upgraded.
                format!("`{sent}` refused: {}", denied.reason()),
            );
            return;
        }
        self.shared.handler.on_message(self.conn, message).await;
    }

    /// Starts `job` and runs it as far as it goes without waiting: most
    /// handlers finish here, and the next frame is handled at once.
    fn begin(&self, job: Job<P::Client>, running: &mut Option<Running<'a>>, state: &mut LoopState) {
        let mut future = self.start(job);
        match future.as_mut().now_or_never() {
            None => *running = Some(future),
            Some(Ok(())) => {}
            Some(Err(_)) => self.on_panic(state),
        }
    }

    /// Application code panicked: close with 1011 once what is queued for
    /// the client has gone out; frames still waiting are never handled.
    fn on_panic(&self, state: &mut LoopState) {
        state.panicked = true;
        state.drop_waiting();
        self.conn.state.close_after_panic();
    }

    async fn serve<T: Transport>(&self, ws: &mut T, state: &mut LoopState) -> End {
        let hb = &self.shared.core.config.heartbeat;
        let mut next_ping = self
            .shared
            .core
            .ping_slot(state.last_pong + hb.ping_interval);
        // Encoded at once, so the welcome's strings are not kept in the
        // loop's future for the connection's whole life.
        let welcome = to_message(
            &Control::Welcome(Welcome {
                package: P::NAME.to_string(),
                fingerprint: P::FINGERPRINT.to_string(),
                ping_interval_ms: u32::try_from(hb.ping_interval.as_millis()).unwrap_or(u32::MAX),
            }),
            self.conn.encoding(),
        );
        if let Err(end) = self.write(ws, welcome).await {
            return end;
        }
        let outbox = &self.conn.state.outbox;
        let mut running: Option<Running<'a>> = None;
        let end = loop {
            let pong_deadline = state.last_pong + hb.pong_timeout;
            let busy = running.is_some() || state.has_waiting();
            if !busy && let Some(end) = state.peer_gone.take() {
                break *end;
            }
            let listening = state.peer_gone.is_none();
            tokio::select! {
                biased;
                done = poll_running(&mut running), if busy => {
                    running = None;
                    if done.is_err() {
                        self.on_panic(state);
                        continue;
                    }
                    // The frames that waited, in order, until one of them
                    // starts a job that has to wait in turn.
                    while running.is_none() {
                        let Some(frame) = state.next_waiting() else { break };
                        if let AfterFrame::Yield = self.handle(frame, state, &mut running) {
                            break;
                        }
                    }
                }
                () = outbox.ready.notified(), if listening => {
                    if let Some(end) = self.write_outbox(ws).await {
                        break end;
                    }
                }
                incoming = ws.next(), if listening => {
                    // Frames that have already arrived are handled before the
                    // outbox is written, so the replies to a burst leave in
                    // one write (up to READ_BATCH frames, so a client that
                    // keeps sending still gets its replies).
                    let mut incoming = incoming;
                    let mut handled = 0;
                    let mut ended = None;
                    loop {
                        match self.on_incoming(ws, incoming, state, &mut running).await {
                            AfterFrame::Next => {}
                            AfterFrame::Yield => break,
                            AfterFrame::End(End::Peer(code, reason))
                                if running.is_some() || state.has_waiting() =>
                            {
                                // What the client sent before it left is
                                // still handled; the socket is not used again.
                                state.peer_gone = Some(Box::new(End::Peer(code, reason)));
                                break;
                            }
                            AfterFrame::End(end) => {
                                ended = Some(end);
                                break;
                            }
                        }
                        handled += 1;
                        // Stop before reading the next frame, not after:
                        // a frame read here and not handled would be lost.
                        if handled == READ_BATCH {
                            break;
                        }
                        match ws.next().now_or_never() {
                            Some(next) => incoming = next,
                            None => break,
                        }
                    }
                    if let Some(end) = ended {
                        break end;
                    }
                }
                () = sleep_until(next_ping.min(pong_deadline).min(state.open_by.unwrap_or(next_ping))), if listening => {
                    let now = Instant::now();
                    if now >= pong_deadline {
                        let reason = format!("no pong within {} ms", hb.pong_timeout.as_millis());
                        break self.close(ws, CloseCode::HEARTBEAT_TIMEOUT, reason, None).await;
                    }
                    if state.open_by.is_some_and(|by| now >= by) && running.is_none() {
                        // A client that says nothing (no hello) is current.
                        state.open_by = None;
                        self.begin(Job::Open, &mut running, state);
                    }
                    if now < next_ping {
                        continue;
                    }
                    next_ping = self.shared.core.ping_slot(now + hb.ping_interval);
                    let ping = self.shared.core.ping_frame(self.conn.encoding());
                    if let Err(end) = self.write(ws, ping).await {
                        break end;
                    }
                }
            }
        };
        // A job still running when the connection ended finishes (its
        // sends fail with Closed) before `on_close`; frames still waiting
        // are never handled.
        state.drop_waiting();
        if let Some(job) = running
            && job.await.is_err()
        {
            state.panicked = true;
        }
        end
    }

    /// Handles one item read from the transport.
    async fn on_incoming<T: Transport>(
        &self,
        ws: &mut T,
        incoming: Option<Result<Message, WsError>>,
        state: &mut LoopState,
        running: &mut Option<Running<'a>>,
    ) -> AfterFrame {
        let message = match incoming {
            None => return AfterFrame::End(End::Peer(None, "connection lost".into())),
            Some(Ok(message)) => message,
            Some(Err(error)) => return AfterFrame::End(self.read_failed(ws, error).await),
        };
        if let Message::Close(frame) = &message {
            let (code, reason) = match frame {
                Some(f) => (Some(CloseCode(u16::from(f.code))), f.reason.to_string()),
                None => (None, String::new()),
            };
            // tungstenite queued the reply; flush it before leaving.
            let _ = timeout(self.close_timeout(), ws.flush()).await;
            return AfterFrame::End(End::Peer(code, reason));
        }
        self.shared.core.metrics.frame_in(&message);
        self.inspect(Dir::In, &message);
        // A plain function, so nothing of it is kept across the awaits below
        // (every byte of this future is part of each idle connection).
        if let Some(after) = self.check_rate(&message, state) {
            return after;
        }
        // WebSocket-level pings are answered by tungstenite (one pong
        // pending at most, so a flood of them queues nothing).
        if !matches!(message, Message::Text(_) | Message::Binary(_)) {
            return AfterFrame::Next;
        }
        if state.panicked {
            // Closing with 1011: nothing more of this client's is handled.
            state.unhandled += 1;
            return AfterFrame::Yield;
        }
        if running.is_some() || state.has_waiting() {
            return self.wait(message, state);
        }
        self.handle(message, state, running)
    }

    /// A data frame that arrived while a job runs: a pong counts at once
    /// (a busy handler must not cost its client the heartbeat); anything
    /// else waits for its turn, within `inbound_queue_frames` and
    /// `inbound_queue_bytes`, and past them is refused unhandled.
    fn wait(&self, message: Message, state: &mut LoopState) -> AfterFrame {
        if header_of(&payload(&message)) == Some(crate::control::PONG) {
            state.last_pong = Instant::now();
            return AfterFrame::Next;
        }
        let limits = &self.shared.core.config.limits;
        let waiting = state.waiting.get_or_insert_with(Box::default);
        let len = message.len();
        if waiting.frames.len() >= limits.inbound_queue_frames
            || waiting.bytes + len > limits.inbound_queue_bytes
        {
            let header = payload(&message).header_text();
            self.shared.core.metrics.refused(Reason::RateLimit);
            let refused = self.refuse(
                error_code::RATE_LIMITED,
                format!(
                    "frame {header} dropped unhandled: the server is still handling this connection's earlier frames ({} waiting)",
                    waiting.frames.len()
                ),
            );
            return match refused {
                Ok(()) => AfterFrame::Next,
                Err(_) => AfterFrame::Yield,
            };
        }
        waiting.bytes += len;
        waiting.frames.push_back(message);
        AfterFrame::Next
    }

    /// Handles one data frame now (no job is running).
    fn handle(
        &self,
        message: Message,
        state: &mut LoopState,
        running: &mut Option<Running<'a>>,
    ) -> AfterFrame {
        let payload = payload(&message);
        let handled = if state.open_by.is_some() {
            // The connection's first frame opens it: a hello is recorded
            // first, so `on_open` knows the client; anything else waits
            // for `on_open`.
            state.open_by = None;
            let hello = header_of(&payload) == Some(crate::control::HELLO);
            let handled = if hello {
                self.on_frame(payload, state, running)
            } else {
                Ok(())
            };
            self.begin(Job::Open, running, state);
            if hello {
                handled
            } else if state.panicked {
                // `on_open` panicked: the connection is closing with 1011.
                state.unhandled += 1;
                Ok(())
            } else {
                return match running {
                    Some(_) => self.wait(message, state),
                    None => self.handle(message, state, running),
                };
            }
        } else {
            self.on_frame(payload, state, running)
        };
        match handled {
            Ok(()) => AfterFrame::Next,
            // Only a full outbox fails here: the next turn closes it.
            Err(_) => AfterFrame::Yield,
        }
    }

    /// Takes the frame's tokens; `Some` when it is over a limit and must
    /// not be handled. Every frame but a close takes a connection token,
    /// WebSocket pings and pongs included: a ping flood costs one check per
    /// frame, then a close.
    fn check_rate(&self, message: &Message, state: &mut LoopState) -> Option<AfterFrame> {
        let rate = state.rate.as_deref_mut()?;
        let limits = &self.shared.core.config.rate_limits;
        let now = Instant::now();
        let over = rate.frame(limits, now).err();
        let header = match message {
            Message::Text(text) => header_of(&Payload::Text(text.as_str())),
            Message::Binary(bytes) => header_of(&Payload::Binary(bytes)),
            // No header to name in an error.
            _ => return over.map(|_| self.over_limit(rate, now, None)),
        };
        if let Some(over) = over {
            return Some(self.over_limit(rate, now, Some(over)));
        }
        match rate.message(&self.shared.message_quotas, header?, now) {
            Ok(()) => None,
            Err(over) => Some(self.over_limit(rate, now, Some(over))),
        }
    }

    /// A frame over a rate limit: dropped unhandled, the client told (a
    /// data frame only), and closed with 4005 once it has been refused
    /// `flood_refusals` times within `flood_window`.
    fn over_limit(&self, rate: &mut RateState, now: Instant, over: Option<Over>) -> AfterFrame {
        let limits = &self.shared.core.config.rate_limits;
        self.shared.core.metrics.refused(Reason::RateLimit);
        let flooding = rate.refused(limits, now);
        let queued = match over {
            Some(over) => self.refuse(error_code::RATE_LIMITED, over.to_string()),
            None => Ok(()),
        };
        if flooding {
            tracing::info!(
                connection = self.conn.id(),
                "closing a client that kept sending past its rate limit"
            );
            let reason = format!(
                "kept sending past the rate limit: {} frames refused within {} s",
                limits.flood_refusals,
                limits.flood_window.as_secs_f64()
            );
            // Through the outbox, so the errors already queued go first.
            self.conn.close(CloseCode::RATE_LIMITED, &reason);
            return AfterFrame::Yield;
        }
        match queued {
            Ok(()) => AfterFrame::Next,
            Err(_) => AfterFrame::Yield,
        }
    }

    /// What the inspector sees of a data frame passing: counted when it is
    /// on, described when someone watches (one relaxed load otherwise).
    #[inline]
    fn inspect(&self, dir: Dir, frame: &Message) {
        let Some(stats) = &self.conn.state.stats else {
            return;
        };
        if !matches!(frame, Message::Text(_) | Message::Binary(_)) {
            return;
        }
        match dir {
            Dir::In => stats.frames_in.fetch_add(1, Ordering::Relaxed),
            Dir::Out => stats.frames_out.fetch_add(1, Ordering::Relaxed),
        };
        let tap = &self.shared.core.tap;
        if tap.watching() {
            let opened = stats.opened;
            tap.capture(self.conn.id(), || {
                super::tap::describe::<P>(dir, frame, Some(opened))
            });
        }
    }

    fn close_timeout(&self) -> std::time::Duration {
        self.shared.core.config.drain.close_timeout
    }

    /// Handles one data frame: a control message at once, a client message
    /// by starting its job. Errors only when the error reply could not be
    /// queued.
    fn on_frame(
        &self,
        payload: Payload<'_>,
        state: &mut LoopState,
        running: &mut Option<Running<'a>>,
    ) -> Result<(), super::outbox::SendError> {
        let limits = &self.shared.core.config.limits.decode;
        if header_of(&payload) == Some(crate::control::PRESENCE_SET) {
            return self.presence_set(payload);
        }
        match decode::<P::Client>(payload, limits) {
            Ok(Incoming::Message(message)) => {
                let sent = crate::Protocol::header(&message);
                self.begin(Job::Message { message, sent }, running, state);
                Ok(())
            }
            Ok(Incoming::Control(Control::Pong)) => {
                state.last_pong = Instant::now();
                Ok(())
            }
            Ok(Incoming::Control(Control::Hello(hello))) => {
                self.hello(hello);
                Ok(())
            }
            Ok(Incoming::Control(Control::Resume(resume))) => self.resume(resume),
            Ok(Incoming::Control(other)) => self.wrong_direction(format!(
                "control message `{}` is sent by servers only",
                crate::Protocol::header(&other)
            )),
            Err(error) if error.kind == DecodeErrorKind::UnknownHeader => {
                if let Some(&(h, message, version)) = header_of(&payload)
                    .and_then(|h| P::REMOVED.iter().find(|(removed, ..)| *removed == h))
                {
                    self.shared.core.metrics.outdated_notice(h);
                    tracing::debug!(
                        connection = self.conn.id(),
                        header = %h,
                        "client sent a removed message version; sending the outdated notice"
                    );
                    return self.conn.state.push(to_message(
                        &super::downgrade::removed(h, message, version),
                        self.conn.encoding(),
                    ));
                }
                let header = payload.header_text();
                match self.server_only(&payload) {
                    Some(h) => self.wrong_direction(format!(
                        "header `{h}` is a message servers send; clients may not send it"
                    )),
                    None => self.malformed(error.kind).refuse(
                        error_code::UNKNOWN_HEADER,
                        format!("header {header} is not a message this server accepts"),
                    ),
                }
            }
            Err(error) if error.kind == DecodeErrorKind::ConstraintViolation => {
                self.malformed(error.kind).refuse(
                    error_code::INVALID,
                    format!("frame {} was refused: {error}", payload.header_text()),
                )
            }
            Err(error) => self.malformed(error.kind).refuse(
                error_code::MALFORMED,
                format!("frame {} did not decode: {error}", payload.header_text()),
            ),
        }
    }

    /// Records the client's hello, shared with every connection that sent
    /// the same one. A second hello changes nothing: the first one stands.
    fn hello(&self, hello: crate::control::Hello) {
        if self.conn.state.hello.get().is_some() {
            return;
        }
        if hello.fingerprint != P::FINGERPRINT {
            tracing::debug!(
                connection = self.conn.id(),
                client = %hello.fingerprint,
                server = P::FINGERPRINT,
                "client built from a different protocol"
            );
        }
        let peer = self
            .shared
            .hellos
            .intern(hello, P::FINGERPRINT, &self.shared.headers);
        if self.conn.state.hello.set(peer).is_ok() && self.conn.state.outdated_peer().is_some() {
            self.shared
                .core
                .metrics
                .outdated_hello(self.transport, self.conn.encoding());
        }
    }

    /// Keeps the client's last position in a room for the join that
    /// replays from it (SPEC §9.7), or replays at once when the connection
    /// is in the room already.
    fn resume(&self, resume: crate::control::Resume) -> Result<(), super::outbox::SendError> {
        let kept =
            self.shared
                .core
                .rooms
                .resume(&self.conn.member(), &resume.room, resume.position);
        if kept {
            Ok(())
        } else {
            self.refuse(
                error_code::REFUSED,
                format!(
                    "resume for room `{}` refused: at most {} rooms are resumed per connection",
                    resume.room,
                    super::rooms::MAX_RESUMES
                ),
            )
        }
    }

    /// A client's presence state (`_k`, SPEC §9.8): checked (a presence
    /// message version that decodes and meets its constraints, within the
    /// backend's size bound, in a room the application made this
    /// connection present in), then coalesced per room. Anything else is
    /// refused with code 4.
    fn presence_set(&self, payload: Payload<'_>) -> Result<(), super::outbox::SendError> {
        let limits = &self.shared.core.config.limits.decode;
        let split = match payload {
            Payload::Text(text) => crate::control::PresenceHead::split_text(text, limits)
                .map(|(head, state)| (head, Payload::Text(state))),
            Payload::Binary(bytes) => crate::control::PresenceHead::split_binary(bytes, limits)
                .map(|(head, state)| (head, Payload::Binary(state))),
        };
        let (room, state) = match split {
            Ok((crate::control::PresenceHead::Set { room }, state)) => (room, state),
            Ok(_) => {
                return self.refuse(
                    error_code::REFUSED,
                    "presence frames other than `_k` are sent by servers only".to_owned(),
                );
            }
            Err(error) => {
                return self.malformed(error.kind).refuse(
                    error_code::REFUSED,
                    format!("presence set refused: the frame did not decode: {error}"),
                );
            }
        };
        let refused = |why: String| {
            self.refuse(
                error_code::REFUSED,
                format!("presence set for room `{room}` refused: {why}"),
            )
        };
        match header_of(&state) {
            Some(h) if P::PRESENCE.contains(&h) => {}
            Some(h) => return refused(format!("message {h} is not a presence message")),
            None => return refused("no state frame".to_owned()),
        }
        let value = match state {
            Payload::Text(text) => <P::Client as crate::Protocol>::decode_text_with(text, limits),
            Payload::Binary(bytes) => {
                <P::Client as crate::Protocol>::decode_binary_with(bytes, limits)
            }
        };
        let value = match value {
            Ok(value) => value,
            Err(error) => return refused(format!("the state did not decode: {error}")),
        };
        let max = self
            .shared
            .core
            .rooms
            .backend()
            .presence_config()
            .max_state_bytes;
        let frame = match super::connection::presence_frame::<P>(&value, max) {
            Ok(frame) => frame,
            Err(error) => return refused(error.to_string()),
        };
        match self
            .shared
            .core
            .rooms
            .set_presence(&self.conn.member(), &room, frame)
        {
            Ok(()) => Ok(()),
            Err(error) => refused(error.to_string()),
        }
    }

    /// The header, when it names a message of this package that only the
    /// server sends.
    fn server_only(&self, payload: &Payload<'_>) -> Option<Header> {
        let header = header_of(payload)?;
        self.shared
            .headers
            .binary_search(&header)
            .ok()
            .map(|_| header)
    }

    /// Counts a frame that did not decode; returns `self` to refuse it.
    fn malformed(&self, kind: DecodeErrorKind) -> &Self {
        self.shared.core.metrics.decode_error(kind);
        self
    }

    /// A client sent what only servers send.
    fn wrong_direction(&self, message: String) -> Result<(), super::outbox::SendError> {
        self.shared.core.metrics.refused(Reason::WrongDirection);
        self.refuse(error_code::WRONG_DIRECTION, message)
    }

    fn refuse(&self, code: u16, message: String) -> Result<(), super::outbox::SendError> {
        tracing::debug!(connection = self.conn.id(), code, %message, "frame refused");
        let notice = Control::Error(ErrorNotice { code, message });
        self.conn
            .state
            .push(to_message(&notice, self.conn.encoding()))
    }

    /// Writes everything queued; on a close request, finishes the
    /// connection.
    async fn write_outbox<T: Transport>(&self, ws: &mut T) -> Option<End> {
        let write_timeout = self.shared.core.config.limits.write_timeout;
        let metrics = &self.shared.core.metrics;
        let mut fed = 0;
        loop {
            // The frame is taken out of `Next` in a statement of its own, so
            // neither is kept in this future across the write's await (its
            // largest state is part of every idle connection).
            let feed = match self.conn.state.outbox.next() {
                Next::Frame(frame) => {
                    fed += 1;
                    metrics.frame_out(&frame);
                    self.inspect(Dir::Out, &frame);
                    ws.feed(frame)
                }
                Next::Close(Closing::Close {
                    code,
                    reason,
                    notice,
                }) => return Some(self.close(ws, code, reason, notice.map(|n| *n)).await),
                Next::Close(Closing::SlowConsumer { undelivered }) => {
                    return Some(self.slow_consumer(ws, undelivered).await);
                }
                Next::Idle => break,
            };
            match timeout(write_timeout, feed).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Some(End::Peer(None, "connection lost".into())),
                Err(_) => return Some(self.slow_consumer(ws, 0).await),
            }
        }
        if fed > 0 {
            metrics.written(fed);
            match timeout(write_timeout, ws.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Some(End::Peer(None, "connection lost".into())),
                Err(_) => return Some(self.slow_consumer(ws, 0).await),
            }
        }
        None
    }

    async fn slow_consumer<T: Transport>(&self, ws: &mut T, undelivered: usize) -> End {
        tracing::info!(
            connection = self.conn.id(),
            undelivered,
            "closing a slow consumer"
        );
        let limits = &self.shared.core.config.limits;
        let reason = format!(
            "client did not read: more than {} frames or {} bytes queued",
            limits.outbound_queue_frames, limits.outbound_queue_bytes
        );
        // The client is not reading, so waiting long for its close reply
        // only holds the socket: give it one write timeout at most.
        let wait = self.close_timeout().min(limits.write_timeout);
        self.close_within(ws, CloseCode::SLOW_CONSUMER, reason, None, wait)
            .await
    }

    /// Writes one frame at once (welcome, ping).
    async fn write<T: Transport>(&self, ws: &mut T, frame: Message) -> Result<(), End> {
        self.shared.core.metrics.frame_out(&frame);
        self.inspect(Dir::Out, &frame);
        match timeout(self.shared.core.config.limits.write_timeout, ws.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Peer(None, "connection lost".into())),
            Err(_) => Err(self.slow_consumer(ws, 0).await),
        }
    }

    /// Sends the notice (if any) and a close frame, then waits a little for
    /// the client's close frame so the TCP connection ends cleanly.
    async fn close<T: Transport>(
        &self,
        ws: &mut T,
        code: CloseCode,
        reason: String,
        notice: Option<Message>,
    ) -> End {
        self.close_within(ws, code, reason, notice, self.close_timeout())
            .await
    }

    /// Boxed: a close happens once per connection, and its future (two
    /// timeouts, the close frame and the notice) would otherwise be inlined
    /// into each of the loop's paths that may close, and so into every idle
    /// connection's memory.
    fn close_within<'s, T: Transport>(
        &'s self,
        ws: &'s mut T,
        code: CloseCode,
        reason: String,
        notice: Option<Message>,
        wait: std::time::Duration,
    ) -> Pin<Box<impl Future<Output = End> + 's>> {
        Box::pin(self.close_within_inline(ws, code, reason, notice, wait))
    }

    async fn close_within_inline<T: Transport>(
        &self,
        ws: &mut T,
        code: CloseCode,
        reason: String,
        notice: Option<Message>,
        wait: std::time::Duration,
    ) -> End {
        let frame = CloseFrame {
            code: WsCloseCode::from(code.0),
            reason: truncate_reason(&reason).into(),
        };
        let goodbye = async {
            if let Some(notice) = notice {
                ws.feed(notice).await?;
            }
            ws.send(Message::Close(Some(frame))).await
        };
        if timeout(wait, goodbye).await.is_ok() {
            // Read until the peer's close frame (or the end of the stream).
            let _ = timeout(wait, async {
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_close() {
                        break;
                    }
                }
            })
            .await;
        }
        End::Server(code, reason)
    }

    async fn read_failed<T: Transport>(&self, ws: &mut T, error: WsError) -> End {
        let max = self.shared.core.config.limits.max_frame_bytes;
        match error {
            WsError::Capacity(CapacityError::MessageTooLong { size, .. }) => {
                let reason = format!("frame of {size} bytes is over the {max}-byte limit");
                self.close(ws, CloseCode::TOO_BIG, reason, None).await
            }
            WsError::Capacity(other) => {
                self.close(ws, CloseCode::TOO_BIG, other.to_string(), None)
                    .await
            }
            WsError::Utf8(_) => {
                self.close(
                    ws,
                    CloseCode::INVALID_PAYLOAD,
                    "text frame is not UTF-8".into(),
                    None,
                )
                .await
            }
            WsError::Protocol(e) => {
                self.close(ws, CloseCode::PROTOCOL_ERROR, e.to_string(), None)
                    .await
            }
            other => End::Peer(None, other.to_string()),
        }
    }
}

/// The frame's header, when its first two bytes are one.
fn header_of(payload: &Payload<'_>) -> Option<Header> {
    let bytes = match payload {
        Payload::Text(s) => s.as_bytes(),
        Payload::Binary(b) => b,
    };
    Header::from_bytes([*bytes.first()?, *bytes.get(1)?])
}

/// Close reasons must fit a control frame (123 bytes).
fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// A data frame's bytes.
fn payload(message: &Message) -> Payload<'_> {
    match message {
        Message::Text(text) => Payload::Text(text.as_str()),
        Message::Binary(bytes) => Payload::Binary(bytes),
        // Control frames carry no Tagwire message: read as empty.
        _ => Payload::Binary(&[]),
    }
}

/// Resolves when the running job does; at once when none runs (frames
/// wait that a full outbox held back).
fn poll_running<'r, 'a>(
    running: &'r mut Option<Running<'a>>,
) -> impl Future<Output = Result<(), JobPanicked>> + 'r {
    std::future::poll_fn(move |cx| match running {
        Some(job) => job.as_mut().poll(cx),
        None => Poll::Ready(Ok(())),
    })
}
