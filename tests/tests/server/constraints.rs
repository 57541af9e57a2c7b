//! Schema constraints and `@rate` on a running server (docs/SCHEMA.md), over
//! real loopback sockets with `schemas/signup`: a frame that breaks a
//! constraint is answered with error 7 `invalid` naming the field and never
//! reaches the handler; the connection stays usable; a reply that breaks one
//! is refused by `Connection::send` instead of reaching a client whose
//! decoder would reject it; the schema's `@rate(3/m)` is enforced without any
//! server configuration.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tagwire::control::{Control, ErrorNotice, error_code};
use tagwire::server::{Connection, Handler, SendError, Server, ServerConfig};
use tagwire::{Protocol, Violation};
use tagwire_tests::signup::{self, ClientMessage, ServerMessage, SignUpV1, WelcomeV1};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Welcomes every sign-up; user `zero` gets id 0, which `@range(1..)`
/// forbids, so that reply must be refused by `send`.
#[derive(Default)]
struct Accounts {
    signed_up: Mutex<Vec<String>>,
    refused_sends: Mutex<Vec<SendError>>,
}

impl Handler<signup::Package> for Accounts {
    async fn on_message(&self, conn: &Connection<signup::Package>, message: ClientMessage) {
        if let ClientMessage::SignUpV1(request) = message {
            let user_id = if request.username == "zero" { 0 } else { 7 };
            self.signed_up
                .lock()
                .expect("not poisoned")
                .push(request.username.clone());
            if let Err(refused) = conn.send(WelcomeV1 {
                user_id,
                username: request.username,
            }) {
                self.refused_sends
                    .lock()
                    .expect("not poisoned")
                    .push(refused);
            }
        }
    }
}

fn sign_up(username: &str, age: u8) -> String {
    ClientMessage::SignUpV1(SignUpV1 {
        username: username.into(),
        email: "a@b.c".into(),
        age,
        interests: vec!["chess".into()],
    })
    .to_text()
}

/// The next frame that is not a ping or the welcome control message.
async fn next(ws: &mut Ws) -> Result<ServerMessage, Control> {
    loop {
        let frame = ws.next().await.expect("a frame").expect("readable");
        let Message::Text(text) = frame else { continue };
        if text.starts_with('_') {
            match Control::decode_text(&text).expect("a control message") {
                Control::Ping | Control::Welcome(_) => continue,
                other => return Err(other),
            }
        }
        return Ok(ServerMessage::decode_text(&text).expect("a valid server message"));
    }
}

async fn start() -> (std::net::SocketAddr, Arc<Accounts>) {
    let app = Arc::new(Accounts::default());
    let server = Server::new(app.clone(), ServerConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server.serve(listener));
    (addr, app)
}

#[tokio::test]
async fn a_frame_breaking_a_constraint_gets_error_7_and_a_reply_breaking_one_is_not_sent() {
    let (addr, app) = start().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connect");

    // age 5 decodes as a u8 but breaks `@range(13..=130)`.
    ws.send(Message::text(sign_up("young", 5)))
        .await
        .expect("send");
    match next(&mut ws).await {
        Err(Control::Error(ErrorNotice { code, message })) => {
            assert_eq!(code, error_code::INVALID, "{message}");
            assert!(
                message.contains("age"),
                "the error names the field: {message}"
            );
            assert!(
                message.contains("13..=130"),
                "and the constraint: {message}"
            );
        }
        other => panic!("expected error 7, got {other:?}"),
    }

    // The connection stays: a valid sign-up is welcomed.
    ws.send(Message::text(sign_up("ada", 36)))
        .await
        .expect("send");
    assert_eq!(
        next(&mut ws).await,
        Ok(ServerMessage::WelcomeV1(WelcomeV1 {
            user_id: 7,
            username: "ada".into()
        }))
    );

    // The handler's reply to `zero` (user_id 0) is refused by `send`, so the
    // client hears nothing for it. It is the third sign-up of the minute,
    // the most `@rate(3/m)` allows (the invalid one counted too).
    ws.send(Message::text(sign_up("zero", 40)))
        .await
        .expect("send");
    // The fourth within the minute is over the schema's rate limit.
    ws.send(Message::text(sign_up("late", 40)))
        .await
        .expect("send");
    match next(&mut ws).await {
        Err(Control::Error(ErrorNotice { code, message })) => {
            assert_eq!(code, error_code::RATE_LIMITED, "{message}");
        }
        other => panic!("expected error 5 for the fourth sign-up, got {other:?}"),
    }

    assert_eq!(
        *app.signed_up.lock().expect("not poisoned"),
        ["ada", "zero"],
        "the invalid and the late one never reached the handler"
    );
    let refused = app.refused_sends.lock().expect("not poisoned").clone();
    assert_eq!(refused.len(), 1, "{refused:?}");
    match &refused[0] {
        SendError::Invalid(violation) => {
            let shown: &Violation = violation;
            assert!(shown.to_string().contains("user_id"), "{shown}");
        }
        other => panic!("expected SendError::Invalid, got {other:?}"),
    }
}
