//! The Rust client against real servers on loopback: a closure connector
//! reaches the server's default route, a path the server does not serve is
//! a clear error instead of endless retries, and a client given several
//! nodes moves to another one when its node drains. Real time, short waits.

use std::net::SocketAddr;
use std::time::Duration;

use tagwire::client::{Client, ClientConfig, Event, Events, Status};
use tagwire::server::{Connection, DrainConfig, Handler, Server, ServerConfig};
use tagwire_tests::relay::{self, ClientMessage, EchoV1, ServerMessage};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

struct Relay;

impl Handler<relay::Package> for Relay {
    async fn on_message(&self, conn: &Connection<relay::Package>, message: ClientMessage) {
        tagwire_tests::relay_app::relay(conn, message);
    }
}

type RelayServer = Server<relay::Package, Relay>;

async fn serve(config: ServerConfig) -> (RelayServer, SocketAddr) {
    let server = Server::new(Relay, config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let s = server.clone();
    tokio::spawn(async move { s.serve(listener).await });
    (server, addr)
}

async fn event(events: &mut Events<relay::Package>) -> Event<relay::Package> {
    timeout(WAIT, events.next())
        .await
        .expect("an event in time")
        .expect("the client is running")
}

async fn opened(events: &mut Events<relay::Package>) {
    loop {
        match event(events).await {
            Event::Status(Status::Open) => return,
            Event::Status(Status::Closed { code, reason }) => {
                panic!("closed ({code:?}): {reason}")
            }
            _ => {}
        }
    }
}

/// Sends an echo and waits for it: the connection works end to end.
async fn round_trip(
    client: &Client<relay::Package>,
    events: &mut Events<relay::Package>,
    seq: u64,
) {
    let echo = EchoV1 {
        seq,
        body: "hi".into(),
    };
    client
        .send(ClientMessage::EchoV1(echo.clone()))
        .expect("send");
    loop {
        if let Event::Message(ServerMessage::EchoV1(got)) = event(events).await {
            assert_eq!(got, echo);
            return;
        }
    }
}

#[tokio::test]
async fn a_closure_connector_reaches_the_servers_default_route() {
    let (_server, addr) = serve(ServerConfig::default()).await;
    let (client, mut events) = Client::<relay::Package>::connect_with(
        move || TcpStream::connect(addr),
        ClientConfig::default(),
    );
    opened(&mut events).await;
    round_trip(&client, &mut events, 1).await;
    client.close().await;
}

#[tokio::test]
async fn a_path_the_server_does_not_serve_closes_the_client_with_the_reason() {
    let (_server, addr) = serve(ServerConfig::default().with_ws_path("/socket")).await;
    let (_client, mut events) = Client::<relay::Package>::connect_with(
        move || TcpStream::connect(addr),
        ClientConfig::default(),
    );
    loop {
        match event(&mut events).await {
            Event::Status(Status::Closed { code: None, reason }) => {
                assert!(
                    reason.starts_with("ws://localhost/ws: handshake refused with HTTP 404")
                        && reason.ends_with("(the server's default WebSocket route is /ws)"),
                    "{reason}"
                );
                return;
            }
            Event::Status(Status::Reconnecting { reason, .. }) => {
                panic!("retried a path that is not served: {reason}")
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_client_given_several_nodes_moves_to_another_when_its_node_drains() {
    let drain = DrainConfig::default()
        .with_grace(Duration::ZERO)
        .with_window(Duration::from_millis(100))
        .with_reconnect_window(Duration::from_millis(100));
    let config = ServerConfig::default().with_drain(drain);
    let (a, a_addr) = serve(config.clone()).await;
    let (b, b_addr) = serve(config).await;
    // A node that refuses connections first in the list, or not: the start
    // is random, and the client goes round the list until one answers.
    let dead = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_url = format!("ws://{}/ws", dead.local_addr().expect("address"));
    drop(dead);
    let urls = [
        dead_url,
        format!("ws://{a_addr}/ws"),
        format!("ws://{b_addr}/ws"),
    ];
    let (client, mut events) =
        Client::<relay::Package>::connect_any(urls, ClientConfig::default().with_seed(7));
    opened(&mut events).await;
    round_trip(&client, &mut events, 1).await;
    let (on, other) = match (a.handle().connection_count(), b.handle().connection_count()) {
        (1, 0) => (&a, &b),
        (0, 1) => (&b, &a),
        counts => panic!("connections on a and b: {counts:?}"),
    };
    on.handle().drain();
    opened(&mut events).await;
    round_trip(&client, &mut events, 2).await;
    assert_eq!(
        other.handle().connection_count(),
        1,
        "moved to the other node"
    );
    assert_eq!(on.handle().connection_count(), 0);
    client.close().await;
}

#[tokio::test]
async fn a_client_given_no_url_closes_at_once() {
    let (_client, mut events) =
        Client::<relay::Package>::connect_any(Vec::<String>::new(), ClientConfig::default());
    match event(&mut events).await {
        Event::Status(Status::Closed { code: None, reason }) => {
            assert_eq!(reason, "no URL to connect to");
        }
        other => panic!("{other:?}"),
    }
}
