//! The Server-Sent Events fallback (SPEC §9.5): server frames as `data:`
//! lines of one long response, client frames as POSTs. Both ends plug into
//! the WebSocket connection loop as one [`SseTransport`], so heartbeat,
//! drain, limits and the handler work the same.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_channel::mpsc;
use futures_util::{Sink, SinkExt, Stream};
use rand::{Rng, SeedableRng};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::guard::{Authenticate, TransportKind};
use super::handler::Handler;
use super::shared::Shared;
use crate::{Encoding, Package};

/// Most frames one POST may carry.
pub(crate) const MAX_FRAMES_PER_POST: usize = 64;

/// The SSE response's body on one side, the POSTed frames on the other.
#[derive(Debug)]
pub(crate) struct SseTransport {
    inbound: mpsc::Receiver<Message>,
    outbound: mpsc::Sender<Bytes>,
    next_id: u64,
}

fn closed() -> WsError {
    WsError::ConnectionClosed
}

impl Stream for SseTransport {
    type Item = Result<Message, WsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inbound).poll_next(cx).map(|m| m.map(Ok))
    }
}

impl Sink<Message> for SseTransport {
    type Error = WsError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.outbound.poll_ready(cx).map_err(|_| closed())
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), WsError> {
        let event = match message {
            Message::Text(frame) => {
                self.next_id += 1;
                format!("id: {}\ndata: {}\n\n", self.next_id, frame.as_str())
            }
            Message::Close(frame) => {
                // No close frame comes back over SSE: end the inbound side
                // so the loop does not wait for one.
                self.inbound.close();
                let (code, reason) = frame.map_or((1000, String::new()), |f| {
                    (
                        u16::from(f.code),
                        f.reason.as_str().replace(['\r', '\n'], " "),
                    )
                });
                format!("event: close\ndata: {code}|{reason}\n\n")
            }
            // SSE sessions are text-only; WebSocket pings do not exist here.
            Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {
                return Ok(());
            }
        };
        self.outbound
            .start_send(Bytes::from(event))
            .map_err(|_| closed())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.outbound)
            .poll_flush(cx)
            .map_err(|_| closed())
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.outbound)
            .poll_close(cx)
            .map_err(|_| closed())
    }
}

fn new_token() -> String {
    let mut rng = rand::rngs::StdRng::from_os_rng();
    format!("{:032x}", rng.random::<u128>())
}

/// `GET /sse`: opens a session.
pub(crate) async fn open<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
    request: Request,
) -> Response {
    use super::upgrade::{Admitted, admit, peer_of};
    // A session counts as a connection from here until it ends, as a
    // WebSocket does from its upgrade request.
    let Admitted { slot, connect, .. } = match admit(
        &shared.core,
        &request,
        peer_of(&request),
        TransportKind::Sse,
    ) {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal.response(),
    };
    let client = connect.peer;
    let context = match super::session::authenticate(&shared, &connect).await {
        Ok(context) => context,
        Err(denied) => {
            // As a WebSocket gets 4004: the stream opens and says why it
            // ends, since an EventSource cannot read an HTTP status either.
            let reason = denied.reason().replace(['\r', '\n'], " ");
            tracing::debug!(%reason, "SSE session refused by authentication");
            return event_stream(Body::from(format!(
                "event: close\ndata: {}|{reason}\n\n",
                denied.close_code().0
            )));
        }
    };
    let token = new_token();
    let (in_tx, in_rx) = mpsc::channel::<Message>(MAX_FRAMES_PER_POST);
    let (mut out_tx, out_rx) = mpsc::channel::<Bytes>(16);
    let first = Bytes::from(format!("event: session\ndata: {token}\n\n"));
    if out_tx.try_send(first).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    shared.core.sse.lock().insert(token.clone(), in_tx);
    let mut transport = SseTransport {
        inbound: in_rx,
        outbound: out_tx,
        next_id: 0,
    };
    let conn = shared.new_connection(Encoding::Text, client, context, TransportKind::Sse);
    let session = shared.clone();
    tokio::spawn(async move {
        // Given back however the task ends (done, panicked, aborted).
        let _slot = slot;
        super::session::run(session.clone(), &mut transport, conn, TransportKind::Sse).await;
        session.core.sse.lock().remove(&token);
    });
    event_stream(Body::from_stream(futures_util::StreamExt::map(
        out_rx,
        Ok::<_, std::convert::Infallible>,
    )))
}

/// A `text/event-stream` response that no proxy should buffer (the SSE
/// transport's and the inspector's frame stream).
pub(super) fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Ask nginx-style proxies not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `POST /sse/{token}`: frames from the client, LF-separated.
pub(crate) async fn post<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    if let Err(why) = shared.core.config.origins.check(request.headers()) {
        return super::upgrade::Refused::Origin(why).response();
    }
    let Some(mut inbound) = shared.core.sse.lock().get(&token).cloned() else {
        return (StatusCode::NOT_FOUND, "no such SSE session; reconnect\n").into_response();
    };
    let max_frame = shared.core.config.limits.max_frame_bytes;
    let limit = max_frame
        .saturating_add(1)
        .saturating_mul(MAX_FRAMES_PER_POST);
    let Ok(body) = axum::body::to_bytes(request.into_body(), limit).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body over the size limit\n").into_response();
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not UTF-8\n").into_response();
    };
    let frames: Vec<&str> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .collect();
    if frames.len() > MAX_FRAMES_PER_POST {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "more than 64 frames in one POST\n",
        )
            .into_response();
    }
    if frames.iter().any(|f| f.len() > max_frame) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "a frame is over the maximum frame size\n",
        )
            .into_response();
    }
    for frame in frames {
        if inbound.send(Message::text(frame)).await.is_err() {
            return (StatusCode::NOT_FOUND, "SSE session ended; reconnect\n").into_response();
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
