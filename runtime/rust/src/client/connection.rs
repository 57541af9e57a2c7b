//! The connection task: connect, say hello, answer pings, watch the
//! heartbeat, deliver messages, and decide after every close whether and
//! when to reconnect (SPEC §9.2, §9.4).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;

use std::collections::{BTreeMap, HashMap};

use crate::control::{
    self, Control, DrainNotice, Hello, PresenceHead, PresenceKind, PresenceSnapshotNotice, Resume,
    RoomEnvelope, RoomPosition,
};
use crate::frame::{self, Incoming, Payload};
use crate::{CloseAction, CloseCode, Package, Protocol};

use super::backoff::{sanitize_factor, uniform_up_to};
use super::config::ClientConfig;
use super::connector::{self, Dial, DialError};
use super::event::{Event, ReconnectReason, Status};
use super::outbox::Outbox;
use super::presence::{PresenceChange, PresenceMaps};

/// How long the client waits for its close frame to go out, or for the
/// peer to finish the closing handshake, before dropping the stream.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Longest drain window the client honours: a notice cannot park it for
/// days (`window_ms` is a u32).
const MAX_DRAIN_WINDOW: Duration = Duration::from_secs(600);

/// Most rooms the client remembers a position for (a server resumes at
/// most 64 per connection; SPEC §9.7). Positions of further rooms are not
/// kept: their messages still arrive, without a resume after a reconnect.
const MAX_ROOMS: usize = 64;

/// How one open connection ended.
enum End {
    /// [`Client::close`](super::Client::close) or every handle dropped.
    ClosedByApp,
    /// A close code whose action is stop.
    Stop { code: CloseCode, reason: String },
    /// Reconnect with the ordinary backoff.
    Reconnect(ReconnectReason),
    /// A "reconnect later" close, or any drop after a drain notice.
    Later {
        code: Option<CloseCode>,
        notice: Option<(DrainNotice, Instant)>,
    },
}

/// What happens after an attempt that did not end the client.
enum Next {
    Backoff(ReconnectReason),
    /// Refused with 503 before the upgrade (a full or draining server, or
    /// a proxy out of room).
    Unavailable {
        reason: String,
        retry_after: Option<Duration>,
    },
    Later {
        code: Option<CloseCode>,
        notice: Option<(DrainNotice, Instant)>,
    },
}

/// Sets the outbox's done flag however the task ends.
struct FinishGuard<M>(Arc<Outbox<M>>);

impl<M> Drop for FinishGuard<M> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

pub(crate) struct Task<P: Package, D> {
    dial: D,
    config: ClientConfig,
    outbox: Arc<Outbox<P::Client>>,
    events: mpsc::Sender<Event<P>>,
    rng: SmallRng,
    /// The last position seen per room (`_h`, `_j`), kept across
    /// reconnects and presented (`_i`) after each hello.
    positions: HashMap<String, RoomPosition>,
    /// Every room's presence, shared with the handles.
    presence: Arc<PresenceMaps<P::Server>>,
    /// A snapshot whose `_n` frames are still coming.
    snapshot: Option<Snapshot<P::Server>>,
    /// When each room's last presence state went out.
    presence_sent: HashMap<String, Instant>,
}

/// A presence snapshot being read: its `_m`, and the `_n` members so far.
struct Snapshot<S> {
    room: String,
    position: RoomPosition,
    left: u32,
    members: BTreeMap<String, S>,
}

/// What to do with a room message at `position`.
fn advance(
    positions: &mut HashMap<String, RoomPosition>,
    room: &str,
    position: RoomPosition,
) -> bool {
    match positions.get_mut(room) {
        Some(last) if position.is_seen_by(*last) => false,
        Some(last) => {
            *last = position;
            true
        }
        None => {
            if positions.len() < MAX_ROOMS {
                positions.insert(room.to_owned(), position);
            }
            true
        }
    }
}

fn closed_by_app() -> Status {
    Status::Closed {
        code: Some(CloseCode::NORMAL),
        reason: "closed by the application".to_owned(),
    }
}

impl<P: Package, D: Dial> Task<P, D> {
    pub(crate) fn new(
        dial: D,
        config: ClientConfig,
        outbox: Arc<Outbox<P::Client>>,
        events: mpsc::Sender<Event<P>>,
        presence: Arc<PresenceMaps<P::Server>>,
    ) -> Self {
        let rng = match config.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        Task {
            dial,
            config,
            outbox,
            events,
            rng,
            positions: HashMap::new(),
            presence,
            snapshot: None,
            presence_sent: HashMap::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        let guard = FinishGuard(Arc::clone(&self.outbox));
        let status = self.lifecycle().await;
        tracing::info!(?status, "tagwire client stopped");
        // Refuse sends before the application hears of the end.
        drop(guard);
        self.emit(Event::Status(status)).await;
    }

    /// Hands `event` to the application, waiting while its buffer is full
    /// (backpressure: the socket is not read meanwhile). Once a close is
    /// requested, an event that does not fit is dropped so that
    /// [`Client::close`](super::Client::close) cannot hang on an
    /// application that stopped reading.
    async fn emit(&mut self, event: Event<P>) {
        tokio::select! {
            biased;
            // Nobody listening (Events dropped) is fine: the client still sends.
            _ = self.events.send(event) => {}
            () = self.outbox.close_wanted() => {
                tracing::debug!("tagwire client: closing; dropped an event nobody read");
            }
        }
    }

    async fn lifecycle(&mut self) -> Status {
        let urls = self.dial.urls();
        if urls.is_empty() {
            return Status::Closed {
                code: None,
                reason: "no URL to connect to".to_owned(),
            };
        }
        for url in &urls {
            if let Err(DialError::Fatal(reason) | DialError::Retry(reason)) =
                connector::request(url, self.config.encoding)
            {
                return Status::Closed { code: None, reason };
            }
        }
        // Clients given the same nodes spread over them from the start. (One
        // URL draws nothing, so a seeded client's delays stay as they were.)
        let mut turn = if urls.len() > 1 {
            self.rng.random_range(0..urls.len())
        } else {
            0
        };
        // Waits since the server last answered (the n of the backoff).
        let mut retry: u32 = 0;
        // Applied to the backoff: a drain notice's multiplier, else 1.
        let mut factor: f64 = 1.0;
        let mut attempt: u32 = 0;
        loop {
            if self.outbox.close_requested() {
                return closed_by_app();
            }
            attempt = attempt.saturating_add(1);
            self.emit(Event::Status(Status::Connecting { attempt }))
                .await;
            let url = &urls[turn % urls.len()];
            turn = turn.wrapping_add(1);
            let next = match self.connect(url).await {
                Err(None) => return closed_by_app(),
                Err(Some(DialError::Fatal(reason))) => {
                    return Status::Closed {
                        code: None,
                        reason: format!("{url}: {reason}"),
                    };
                }
                Err(Some(DialError::Retry(reason))) => {
                    tracing::debug!(%reason, attempt, "tagwire client: connection attempt failed");
                    Next::Backoff(ReconnectReason::Network(reason))
                }
                Err(Some(DialError::Unavailable {
                    reason,
                    retry_after,
                })) => {
                    tracing::debug!(%reason, ?retry_after, attempt, "tagwire client: the server has no room");
                    Next::Unavailable {
                        reason,
                        retry_after,
                    }
                }
                Ok(ws) => {
                    self.emit(Event::Status(Status::Open)).await;
                    let mut answered = false;
                    let end = self.session(ws, &mut answered).await;
                    if answered {
                        // The server spoke: this was a working connection.
                        retry = 0;
                        factor = 1.0;
                        attempt = 0;
                    }
                    match end {
                        End::ClosedByApp => return closed_by_app(),
                        End::Stop { code, reason } => {
                            return Status::Closed {
                                code: Some(code),
                                reason,
                            };
                        }
                        End::Reconnect(reason) => Next::Backoff(reason),
                        End::Later { code, notice } => Next::Later { code, notice },
                    }
                }
            };
            let (reason, delay) = match next {
                Next::Backoff(reason) => {
                    let delay = self.config.backoff.delay(retry, factor, &mut self.rng);
                    retry = retry.saturating_add(1);
                    (reason, delay)
                }
                Next::Unavailable {
                    reason,
                    retry_after,
                } => {
                    // As after a deploy: the backoff multiplied (never less
                    // than a drain notice already asked for), each client at
                    // its own random moment, around the server's Retry-After.
                    factor = factor.max(sanitize_factor(self.config.later_multiplier));
                    let ceiling =
                        self.config
                            .backoff
                            .unavailable_ceiling(retry, factor, retry_after);
                    retry = retry.saturating_add(1);
                    (
                        ReconnectReason::Network(reason),
                        uniform_up_to(ceiling, &mut self.rng),
                    )
                }
                Next::Later {
                    notice: Some((notice, at)),
                    ..
                } => {
                    factor = sanitize_factor(notice.backoff_multiplier);
                    retry = retry.max(1);
                    let window =
                        Duration::from_millis(u64::from(notice.window_ms)).min(MAX_DRAIN_WINDOW);
                    let moment = at + uniform_up_to(window, &mut self.rng);
                    let delay = moment.saturating_duration_since(Instant::now());
                    (
                        ReconnectReason::Deploy {
                            reason: notice.reason,
                        },
                        delay,
                    )
                }
                Next::Later { code, notice: None } => {
                    factor = sanitize_factor(self.config.later_multiplier);
                    retry = retry.max(1);
                    let delay = uniform_up_to(self.config.backoff.ceiling(0), &mut self.rng);
                    let reason = match code {
                        Some(code) if code != CloseCode::DRAIN => ReconnectReason::Closed(code),
                        _ => ReconnectReason::Deploy {
                            reason: "server draining".to_owned(),
                        },
                    };
                    (reason, delay)
                }
            };
            tracing::info!(%reason, ?delay, "tagwire client reconnecting");
            self.emit(Event::Status(Status::Reconnecting { reason, delay }))
                .await;
            if !sleep(&self.outbox, delay).await {
                return closed_by_app();
            }
        }
    }

    /// One connection attempt; `Err(None)` if the application closed
    /// meanwhile.
    async fn connect(
        &mut self,
        url: &str,
    ) -> Result<WebSocketStream<D::Stream>, Option<DialError>> {
        let request = connector::request(url, self.config.encoding).map_err(Some)?;
        let max = self.config.limits.max_frame_bytes;
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max));
        let limit = self.config.connect_timeout;
        let outbox = Arc::clone(&self.outbox);
        let dial = timeout(limit, self.dial.dial(request, ws_config));
        tokio::pin!(dial);
        loop {
            tokio::select! {
                result = &mut dial => {
                    return match result {
                        Ok(Ok(ws)) => Ok(ws),
                        Ok(Err(e)) => Err(Some(connector::classify(e))),
                        Err(_) => Err(Some(DialError::Retry(format!(
                            "connection attempt timed out after {limit:?}"
                        )))),
                    };
                }
                () = outbox.wake.notified() => {
                    if outbox.close_requested() {
                        return Err(None);
                    }
                }
            }
        }
    }

    /// Runs one open connection until it ends. Sets `answered` once the
    /// server sent a data frame.
    async fn session<S>(&mut self, mut ws: WebSocketStream<S>, answered: &mut bool) -> End
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let encoding = self.config.encoding;
        let limits = self.config.limits;
        let ping_timeout = self.config.ping_timeout;
        let hello = Control::Hello(Hello {
            package: P::NAME.to_owned(),
            fingerprint: P::FINGERPRINT.to_owned(),
            headers: P::headers().iter().map(|h| h.as_str()).collect(),
        });
        if let Err(e) = ws.feed(frame::to_message(&hello, encoding)).await {
            return End::Reconnect(ReconnectReason::Network(e.to_string()));
        }
        // Where this client left each room: the server replays what it
        // missed when it joins the room again (SPEC §9.7).
        for (room, position) in &self.positions {
            let resume = Control::Resume(Resume {
                room: room.clone(),
                position: *position,
            });
            if let Err(e) = ws.feed(frame::to_message(&resume, encoding)).await {
                return End::Reconnect(ReconnectReason::Network(e.to_string()));
            }
        }
        if let Err(e) = ws.flush().await {
            return End::Reconnect(ReconnectReason::Network(e.to_string()));
        }
        if let Err(e) = self.flush_queue(&mut ws).await {
            return End::Reconnect(ReconnectReason::Network(e));
        }
        // A snapshot cut off by the last connection's end is not resumed.
        self.snapshot = None;
        let mut presence_due = match self.flush_presence(&mut ws).await {
            Ok(due) => due,
            Err(e) => return End::Reconnect(ReconnectReason::Network(e)),
        };
        let presence_timer = sleep_until(presence_due.unwrap_or_else(Instant::now));
        tokio::pin!(presence_timer);

        let mut notice: Option<(DrainNotice, Instant)> = None;
        let watchdog = sleep_until(Instant::now() + ping_timeout);
        tokio::pin!(watchdog);
        let outbox = Arc::clone(&self.outbox);
        let wake = outbox.wake.notified();
        tokio::pin!(wake);

        let end = loop {
            tokio::select! {
                received = ws.next() => {
                    let message = match received {
                        None => break End::Reconnect(ReconnectReason::Network(
                            "connection closed without a close frame".to_owned(),
                        )),
                        Some(Err(e)) => break End::Reconnect(ReconnectReason::Network(e.to_string())),
                        Some(Ok(message)) => message,
                    };
                    let payload = match &message {
                        Message::Text(text) => Payload::Text(text.as_str()),
                        Message::Binary(bytes) => Payload::Binary(bytes),
                        Message::Close(frame) => {
                            let frame = frame.clone();
                            finish_closing(&mut ws).await;
                            break closed_by_server(frame);
                        }
                        // WebSocket pings are answered by tungstenite.
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                    };
                    *answered = true;
                    if is_header(payload, control::PRESENCE_MEMBER) {
                        if let Some(event) = self.presence_member(payload, &limits) {
                            self.emit(event).await;
                        }
                        continue;
                    }
                    if let Some(event) = self.end_snapshot() {
                        // Members stopped coming before the count said.
                        tracing::warn!("tagwire client: a presence snapshot ended early");
                        self.emit(event).await;
                    }
                    if is_room_message(payload) {
                        if let Some(event) = self.room_message(payload, &limits) {
                            self.emit(event).await;
                        }
                        continue;
                    }
                    let incoming = match frame::decode::<P::Server>(payload, &limits) {
                        Ok(incoming) => incoming,
                        Err(error) => {
                            tracing::warn!(
                                header = %payload.header_text(),
                                %error,
                                "tagwire client: skipping a frame that does not decode",
                            );
                            continue;
                        }
                    };
                    match incoming {
                        Incoming::Message(message) => self.emit(Event::Message(message)).await,
                        Incoming::Control(Control::Ping) => {
                            watchdog.as_mut().reset(Instant::now() + ping_timeout);
                            if let Err(e) = ws.send(frame::to_message(&Control::Pong, encoding)).await {
                                break End::Reconnect(ReconnectReason::Network(e.to_string()));
                            }
                        }
                        Incoming::Control(Control::Welcome(welcome)) => {
                            let interval = Duration::from_millis(u64::from(welcome.ping_interval_ms));
                            if interval >= ping_timeout {
                                tracing::warn!(
                                    ?interval,
                                    ?ping_timeout,
                                    "tagwire client: the server pings less often than the client's ping timeout",
                                );
                            }
                            if welcome.fingerprint != P::FINGERPRINT {
                                tracing::warn!(
                                    server = %welcome.fingerprint,
                                    client = P::FINGERPRINT,
                                    "tagwire client: protocol fingerprints differ",
                                );
                                self.emit(Event::ProtocolMismatch {
                                    server_package: welcome.package,
                                    server_fingerprint: welcome.fingerprint,
                                })
                                .await;
                            }
                        }
                        Incoming::Control(Control::Drain(drain)) => {
                            tracing::info!(reason = %drain.reason, window_ms = drain.window_ms, "tagwire client: drain notice");
                            notice = Some((drain, Instant::now()));
                        }
                        Incoming::Control(Control::Error(error)) => {
                            self.emit(Event::Error(error)).await;
                        }
                        Incoming::Control(Control::Outdated(outdated)) => {
                            tracing::info!(
                                header = %outdated.header,
                                message = %outdated.message,
                                version = outdated.version,
                                "tagwire client: the server's protocol is newer than this client's",
                            );
                            self.emit(Event::Outdated(outdated)).await;
                        }
                        Incoming::Control(Control::Gap(gap)) => {
                            tracing::info!(room = %gap.room, kind = %gap.kind, position = %gap.position, "tagwire client: room messages lost");
                            if let Some(last) = self.positions.get_mut(&gap.room) {
                                *last = gap.position;
                            } else if self.positions.len() < MAX_ROOMS {
                                self.positions.insert(gap.room.clone(), gap.position);
                            }
                            self.emit(Event::Gap {
                                room: gap.room,
                                kind: gap.kind,
                                position: gap.position,
                            })
                            .await;
                        }
                        Incoming::Control(Control::PresenceSnapshot(snapshot)) => {
                            if let Some(event) = self.start_snapshot(snapshot) {
                                self.emit(event).await;
                            }
                        }
                        Incoming::Control(Control::Hello(_) | Control::Pong | Control::Resume(_)) => {
                            tracing::debug!("tagwire client: ignoring a client-only control message");
                        }
                    }
                }
                () = &mut watchdog => {
                    tracing::info!(?ping_timeout, "tagwire client: no ping from the server; closing");
                    close(&mut ws, CloseCode::HEARTBEAT_TIMEOUT, "no ping").await;
                    break End::Reconnect(ReconnectReason::Heartbeat);
                }
                () = &mut presence_timer, if presence_due.is_some() => {
                    match self.flush_presence(&mut ws).await {
                        Ok(due) => presence_due = due,
                        Err(e) => break End::Reconnect(ReconnectReason::Network(e)),
                    }
                    if let Some(due) = presence_due {
                        presence_timer.as_mut().reset(due);
                    }
                }
                () = &mut wake => {
                    wake.set(outbox.wake.notified());
                    if let Err(e) = self.flush_queue(&mut ws).await {
                        break End::Reconnect(ReconnectReason::Network(e));
                    }
                    match self.flush_presence(&mut ws).await {
                        Ok(due) => presence_due = due,
                        Err(e) => break End::Reconnect(ReconnectReason::Network(e)),
                    }
                    if let Some(due) = presence_due {
                        presence_timer.as_mut().reset(due);
                    }
                    if outbox.close_requested() {
                        close(&mut ws, CloseCode::NORMAL, "").await;
                        finish_closing(&mut ws).await;
                        break End::ClosedByApp;
                    }
                }
            }
        };
        match (end, notice) {
            // After a drain notice, any drop is the deploy (unless the
            // server said stop or the application closed).
            (End::Reconnect(_), Some(notice)) => End::Later {
                code: None,
                notice: Some(notice),
            },
            (End::Later { code, .. }, notice @ Some(_)) => End::Later { code, notice },
            (end, _) => end,
        }
    }

    /// Reads an `_h` room message: `None` for a duplicate or a frame that
    /// does not decode (logged).
    fn room_message(&mut self, payload: Payload<'_>, limits: &crate::Limits) -> Option<Event<P>> {
        let split = match payload {
            Payload::Text(text) => RoomEnvelope::split_text(text, limits)
                .map(|(room, at, inner)| (room, at, Payload::Text(inner))),
            Payload::Binary(bytes) => RoomEnvelope::split_binary(bytes, limits)
                .map(|(room, at, inner)| (room, at, Payload::Binary(inner))),
        };
        if let Ok((room, position, inner)) = &split
            && is_header(*inner, control::PRESENCE_EVENT)
        {
            return self.presence_event(room, *position, *inner, limits);
        }
        let decoded = match payload {
            Payload::Text(text) => RoomEnvelope::split_text(text, limits)
                .map(|(room, at, inner)| (room, at, P::Server::decode_text_with(inner, limits))),
            Payload::Binary(bytes) => RoomEnvelope::split_binary(bytes, limits)
                .map(|(room, at, inner)| (room, at, P::Server::decode_binary_with(inner, limits))),
        };
        let (room, position, message) = match decoded {
            Ok(parts) => parts,
            Err(error) => {
                tracing::warn!(%error, "tagwire client: skipping a room frame that does not decode");
                return None;
            }
        };
        if !advance(&mut self.positions, &room, position) {
            tracing::debug!(%room, %position, "tagwire client: dropping a room message seen before");
            return None;
        }
        match message {
            Ok(message) => Some(Event::RoomMessage {
                room,
                position,
                message,
            }),
            Err(error) => {
                tracing::warn!(%room, %position, %error, "tagwire client: skipping a room message that does not decode");
                None
            }
        }
    }

    /// Reads a presence event (`_l` in `_h`): applies it to the room's
    /// presence unless it is a duplicate or in the last snapshot already.
    fn presence_event(
        &mut self,
        room: &str,
        position: RoomPosition,
        inner: Payload<'_>,
        limits: &crate::Limits,
    ) -> Option<Event<P>> {
        let split = match inner {
            Payload::Text(text) => {
                PresenceHead::split_text(text, limits).map(|(h, s)| (h, Payload::Text(s)))
            }
            Payload::Binary(bytes) => {
                PresenceHead::split_binary(bytes, limits).map(|(h, s)| (h, Payload::Binary(s)))
            }
        };
        let (kind, member, state) = match split {
            Ok((PresenceHead::Event { kind, member }, state)) => (kind, member, state),
            Ok(_) => return None,
            Err(error) => {
                tracing::warn!(%room, %error, "tagwire client: skipping a presence event that does not decode");
                return None;
            }
        };
        if !advance(&mut self.positions, room, position) {
            return None;
        }
        // The map keeps one decoded state, the event carries another
        // (decoding twice spares the states a `Clone` bound).
        let (kept, carried) = if kind == PresenceKind::Leave {
            (None, None)
        } else {
            match (
                decode_state::<P>(state, limits),
                decode_state::<P>(state, limits),
            ) {
                (Ok(kept), Ok(carried)) => (Some(kept), Some(carried)),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!(%room, %member, %error, "tagwire client: skipping a presence state that does not decode");
                    return None;
                }
            }
        };
        if !self.presence.apply(room, position, kind, &member, kept) {
            return None;
        }
        let change = match (kind, carried) {
            (PresenceKind::Join, Some(state)) => PresenceChange::Join { member, state },
            (PresenceKind::Update, Some(state)) => PresenceChange::Update { member, state },
            (PresenceKind::Leave, _) => PresenceChange::Leave { member },
            _ => return None,
        };
        Some(Event::Presence {
            room: room.to_owned(),
            position,
            change,
        })
    }

    /// An `_m`: members follow (or, with none, the room's presence is
    /// empty at once).
    fn start_snapshot(&mut self, snapshot: PresenceSnapshotNotice) -> Option<Event<P>> {
        self.snapshot = Some(Snapshot {
            room: snapshot.room,
            position: snapshot.position,
            left: snapshot.count,
            members: BTreeMap::new(),
        });
        if snapshot.count == 0 {
            return self.end_snapshot();
        }
        None
    }

    /// An `_n`: one member of the snapshot being read.
    fn presence_member(
        &mut self,
        payload: Payload<'_>,
        limits: &crate::Limits,
    ) -> Option<Event<P>> {
        let split = match payload {
            Payload::Text(text) => {
                PresenceHead::split_text(text, limits).map(|(h, s)| (h, Payload::Text(s)))
            }
            Payload::Binary(bytes) => {
                PresenceHead::split_binary(bytes, limits).map(|(h, s)| (h, Payload::Binary(s)))
            }
        };
        let max = self.presence.max_members();
        let snapshot = self.snapshot.as_mut()?;
        match split {
            Ok((PresenceHead::Member { room, member }, state)) if room == snapshot.room => {
                match decode_state::<P>(state, limits) {
                    Ok(state) if snapshot.members.len() < max => {
                        snapshot.members.insert(member, state);
                    }
                    Ok(_) => {
                        tracing::warn!(%room, "tagwire client: presence snapshot beyond the bound; member ignored")
                    }
                    Err(error) => {
                        tracing::warn!(%room, %member, %error, "tagwire client: skipping a presence state that does not decode")
                    }
                }
            }
            Ok(_) => tracing::warn!(
                "tagwire client: a presence member of another room than its snapshot's"
            ),
            Err(error) => {
                tracing::warn!(%error, "tagwire client: skipping a presence member that does not decode")
            }
        }
        snapshot.left = snapshot.left.saturating_sub(1);
        if snapshot.left == 0 {
            return self.end_snapshot();
        }
        None
    }

    /// Replaces the room's presence with the snapshot read.
    fn end_snapshot(&mut self) -> Option<Event<P>> {
        let snapshot = self.snapshot.take()?;
        let members = snapshot.members.len();
        if !self
            .presence
            .replace(&snapshot.room, snapshot.position, snapshot.members)
        {
            return None;
        }
        Some(Event::Presence {
            room: snapshot.room,
            position: snapshot.position,
            change: PresenceChange::Snapshot { members },
        })
    }

    /// Sends the presence states that wait, for rooms whose last one went
    /// out at least an interval ago; when the next of the others is due.
    async fn flush_presence<S>(
        &mut self,
        ws: &mut WebSocketStream<S>,
    ) -> Result<Option<Instant>, String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let interval = self.config.presence_interval;
        let now = Instant::now();
        let sent = &mut self.presence_sent;
        sent.retain(|_, at| now.duration_since(*at) < interval);
        let ready = self.outbox.take_presence(|room| !sent.contains_key(room));
        let encoding = self.config.encoding;
        for (room, state) in &ready {
            let head = PresenceHead::Set {
                room: room.as_str(),
            };
            let message = match encoding {
                crate::Encoding::Text => Message::Text(head.to_text(&state.to_text()).into()),
                crate::Encoding::Binary => {
                    Message::Binary(head.to_binary(&state.to_binary()).into())
                }
            };
            ws.feed(message).await.map_err(|e| e.to_string())?;
            sent.insert(room.clone(), now);
        }
        if !ready.is_empty() {
            ws.flush().await.map_err(|e| e.to_string())?;
        }
        let due = self
            .outbox
            .presence_waiting()
            .iter()
            .filter_map(|room| sent.get(room).map(|at| *at + interval))
            .min();
        Ok(due)
    }

    /// Writes every queued message, in order.
    async fn flush_queue<S>(&mut self, ws: &mut WebSocketStream<S>) -> Result<(), String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let encoding = self.config.encoding;
        let mut any = false;
        while let Some(message) = self.outbox.pop() {
            ws.feed(frame::to_message(&message, encoding))
                .await
                .map_err(|e| e.to_string())?;
            any = true;
        }
        if any {
            ws.flush().await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Whether a frame is an `_h` room message.
fn is_room_message(payload: Payload<'_>) -> bool {
    is_header(payload, control::ROOM)
}

/// Whether a frame starts with `header`.
fn is_header(payload: Payload<'_>, header: crate::Header) -> bool {
    let bytes = match payload {
        Payload::Text(text) => text.as_bytes(),
        Payload::Binary(bytes) => bytes,
    };
    bytes.starts_with(header.as_str().as_bytes())
}

/// A presence state's frame, decoded.
fn decode_state<P: Package>(
    state: Payload<'_>,
    limits: &crate::Limits,
) -> Result<P::Server, crate::DecodeError> {
    match state {
        Payload::Text(text) => P::Server::decode_text_with(text, limits),
        Payload::Binary(bytes) => P::Server::decode_binary_with(bytes, limits),
    }
}

/// Sleeps `delay`; `false` if the application closed meanwhile.
async fn sleep<M>(outbox: &Outbox<M>, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        tokio::select! {
            () = sleep_until(deadline) => return true,
            () = outbox.wake.notified() => {
                if outbox.close_requested() {
                    return false;
                }
            }
        }
    }
}

/// What the server's close frame asks for (SPEC §9.4).
fn closed_by_server(frame: Option<CloseFrame>) -> End {
    let Some(frame) = frame else {
        // 1005: closed without a status code; not in the table, so reconnect.
        return End::Reconnect(ReconnectReason::Closed(CloseCode(1005)));
    };
    let code = CloseCode(u16::from(frame.code));
    let reason = frame.reason.as_str().to_owned();
    tracing::info!(%code, %reason, "tagwire client: server closed the connection");
    match code.action() {
        CloseAction::Stop => End::Stop { code, reason },
        CloseAction::Reconnect => End::Reconnect(ReconnectReason::Closed(code)),
        CloseAction::ReconnectLater => End::Later {
            code: Some(code),
            notice: None,
        },
    }
}

/// Sends a close frame (bounded by [`CLOSE_WAIT`]).
async fn close<S>(ws: &mut WebSocketStream<S>, code: CloseCode, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: WsCloseCode::from(code.0),
        reason: reason.into(),
    };
    if let Err(e) = timeout(CLOSE_WAIT, ws.close(Some(frame)))
        .await
        .unwrap_or_else(|_| {
            Err(tokio_tungstenite::tungstenite::Error::Io(
                std::io::Error::new(std::io::ErrorKind::TimedOut, "close timed out"),
            ))
        })
    {
        tracing::debug!(%e, "tagwire client: could not send the close frame");
    }
}

/// Lets the closing handshake finish (tungstenite answers the peer's close
/// frame while being read) until the stream ends, bounded by [`CLOSE_WAIT`].
async fn finish_closing<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = timeout(CLOSE_WAIT, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}
