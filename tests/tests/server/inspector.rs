//! The live inspector (docs/OPERATING.md, "The live inspector"): off by
//! default, refused without its token, its state JSON checked against the
//! server's own view, and its frame stream showing a known frame decoded.

use crate::runtime_support;

use std::net::SocketAddr;
use std::time::Duration;

use runtime_support::*;
use tagwire::Protocol;
use tagwire::server::{InspectorConfig, ServerConfig};
use tagwire_tests::relay::{ClientMessage, JoinV1};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const TOKEN: &str = "s3cret token";

/// `GET path` with extra header lines; the status and the body.
async fn get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head[9..12].parse().expect("a status");
    (status, body.to_string())
}

fn inspected() -> ServerConfig {
    ServerConfig::default().with_inspector(Some(InspectorConfig::new("/_inspect", TOKEN)))
}

#[tokio::test]
async fn the_inspector_is_off_by_default() {
    let (server, _) = server(ServerConfig::default());
    let addr = serve_router(&server).await;
    for path in ["/_inspect", "/_inspect/state", "/_inspect/frames?conn=1"] {
        assert_eq!(get(addr, path, "").await.0, 404, "{path}");
    }
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_refused() {
    let (server, _) = server(inspected());
    let addr = serve_router(&server).await;
    for (path, headers) in [
        ("/_inspect/state", ""),
        ("/_inspect/state?token=wrong", ""),
        ("/_inspect/state?token=s3cret", ""),
        ("/_inspect", "Authorization: Bearer nope\r\n"),
        ("/_inspect/frames?conn=1&token=", ""),
    ] {
        assert_eq!(get(addr, path, headers).await.0, 401, "{path} {headers}");
    }
    let (status, body) = get(addr, "/_inspect?token=s3cret%20token", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("Tagwire inspector"));
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    assert_eq!(get(addr, "/_inspect/state", &auth).await.0, 200);
    // Without a token the router leaves the inspector to the application.
    let (own, _) = server_of(
        ServerConfig::default().with_inspector(Some(InspectorConfig::behind_own_auth("/_inspect"))),
    );
    let addr = serve_router(&own).await;
    assert_eq!(get(addr, "/_inspect/state", "").await.0, 404);
}

fn server_of(config: ServerConfig) -> (RelayServer, std::sync::Arc<Relay>) {
    server(config)
}

#[tokio::test]
async fn state_and_frames_show_a_known_client() {
    let (server, _) = server(inspected());
    let handle = server.handle();
    let addr = serve_router(&server).await;
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut ws = handshake(tcp, &format!("ws://{addr}/ws"), None)
        .await
        .expect("handshake");
    let local = ws.get_ref().local_addr().expect("local addr");
    send(
        &mut ws,
        &ClientMessage::JoinV1(JoinV1 {
            room: "lobby".into(),
        }),
    )
    .await;
    tokio::time::timeout(Duration::from_secs(5), async {
        while handle.room_len("lobby") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("joined");

    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let (status, body) = get(addr, "/_inspect/state", &auth).await;
    assert_eq!(status, 200, "{body}");
    let state: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(state["drain"], "serving");
    assert_eq!(state["backend"]["state"], "connected");
    assert_eq!(state["connection_count"], handle.connection_count());
    let conns = state["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    let id = c["id"].as_u64().expect("an id");
    assert_eq!(c["peer"], local.to_string());
    assert_eq!(c["transport"], "websocket");
    assert_eq!(c["encoding"], "text");
    assert_eq!(c["rooms"], serde_json::json!(["lobby"]));
    assert_eq!(c["frames_in"], 1);
    assert_eq!(c["outdated"], false);
    let rooms = state["rooms"].as_array().expect("rooms");
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0]["name"], "lobby");
    assert_eq!(rooms[0]["subscription"], "subscribed");
    assert_eq!(rooms[0]["members"][0]["id"], id);

    // The frame stream of that connection: once it is attached, an echo
    // goes in and comes out, both shown decoded.
    let mut sse = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /_inspect/frames?conn={id}&token=s3cret+token HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    );
    sse.write_all(request.as_bytes()).await.expect("write");
    let mut lines = BufReader::new(sse).lines();
    let mut events = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            if line.starts_with("event: ready") {
                send(&mut ws, &echo(7)).await;
            }
            if let Some(data) = line.strip_prefix("data: ")
                && data.starts_with("{\"seq\"")
            {
                events.push(serde_json::from_str::<serde_json::Value>(data).expect("JSON"));
                if events.len() == 2 {
                    break;
                }
            }
        }
    });
    read.await.expect("two frames within 5 s");
    let _ = next(&mut ws).await;
    assert_eq!(events[0]["dir"], "in");
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["dropped"], 0);
    assert_eq!(events[0]["raw"], echo(7).to_text());
    assert!(
        events[0]["value"]
            .as_str()
            .expect("value")
            .contains("echo 7"),
        "{:?}",
        events[0]
    );
    let header = events[0]["header"].as_str().expect("header").to_string();
    assert_eq!(&echo(7).to_text()[..2], header);
    assert!(events[0]["name"].is_string(), "{:?}", events[0]);
    assert_eq!(events[1]["dir"], "out");
    assert_eq!(events[1]["name"], events[0]["name"]);
    assert!(
        events[1]["value"]
            .as_str()
            .expect("value")
            .contains("echo 7")
    );
}
