//! The metrics route (feature `metrics`, docs/RUNTIME.md "Metrics"): known
//! traffic in, then a scrape read with a Prometheus text parser
//! (`prometheus-parse`), each series checked by value.

use crate::runtime_support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::SinkExt;
use prometheus_parse::{Scrape, Value};
use runtime_support::*;
use tagwire::control::{Control, Resume, RoomPosition};
use tagwire::server::{RateLimits, ServerConfig};
use tagwire::{Package, Protocol, Quota};
use tagwire_tests::relay::{self, ClientMessage, DeliveredV1, EchoV1, JoinV1, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

/// `GET /metrics`, parsed as Prometheus would.
async fn scrape(addr: SocketAddr) -> Scrape {
    let (_, response) = http(addr, "GET", "/metrics", &[]).await;
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    assert!(
        body.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("a valid exposition")
}

/// The value of the series `name` with exactly `labels` (0 when absent:
/// a series that never moved).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = scrape.samples.iter().find(|s| {
        s.metric == name
            && s.labels.len() == labels.len()
            && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
    });
    match found.map(|s| &s.value) {
        None => 0.0,
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        Some(other) => panic!("{name} is not a single value: {other:?}"),
    }
}

/// Observations of the histogram `name` (its `+Inf` bucket, checked
/// against its `_count`).
fn observations(scrape: &Scrape, name: &str) -> f64 {
    let buckets = scrape
        .samples
        .iter()
        .find_map(|s| match &s.value {
            Value::Histogram(b) if s.metric == name => Some(b.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no histogram {name}"));
    let all = buckets
        .iter()
        .find(|b| b.less_than.is_infinite())
        .map_or(0.0, |b| b.count);
    assert_eq!(all, value(scrape, &format!("{name}_count"), &[]));
    all
}

/// Scrapes until `done` holds (the server's side of a close lands a little
/// after the client's).
async fn scrape_until(addr: SocketAddr, done: impl Fn(&Scrape) -> bool) -> Scrape {
    for _ in 0..250 {
        let s = scrape(addr).await;
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the metrics never showed what was waited for");
}

/// A `DecodeErrorKind`'s label: its name in snake case.
fn kind_label(kind: tagwire::DecodeErrorKind) -> String {
    let mut out = String::new();
    for (i, c) in format!("{kind:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn echo_with(seq: u64, body: &str) -> ClientMessage {
    ClientMessage::EchoV1(EchoV1 {
        seq,
        body: body.into(),
    })
}

/// The `message` and `version` labels of a header, from the package.
fn labels_of(header: tagwire::Header) -> (&'static str, String) {
    let (name, version) = relay::Package::describe(header).expect("a relay message");
    (name, version.to_string())
}

const OPEN: &str = "tagwire_connections";

fn open_now(s: &Scrape) -> f64 {
    value(
        s,
        OPEN,
        &[
            ("transport", "websocket"),
            ("encoding", "text"),
            ("version", "current"),
        ],
    )
}

fn closed(s: &Scrape, code: &str, by: &str) -> f64 {
    value(
        s,
        "tagwire_connections_closed_total",
        &[("code", code), ("by", by)],
    )
}

fn refusals(s: &Scrape, reason: &str) -> f64 {
    value(s, "tagwire_refusals_total", &[("reason", reason)])
}

#[tokio::test]
async fn a_scrape_after_known_traffic_reads_each_event() {
    quiet_expected_panics();
    let mut config = ServerConfig::default()
        .with_metrics_path(Some("/metrics".into()))
        .with_rate_limits(RateLimits::default().per_connection(Quota::per_second(1).with_burst(3)));
    config.limits.max_connections = 4;
    config.limits.outbound_queue_frames = 16;
    config.drain.grace = Duration::from_millis(100);
    config.drain.window = Duration::from_millis(20);
    config.drain.batches = 1;
    config.drain.close_timeout = Duration::from_millis(100);
    config.limits.write_timeout = Duration::from_millis(100);
    let (server, app) = server(config);
    let handle = server.handle();
    let addr = serve_router(&server).await;

    let nothing = scrape(addr).await;
    assert_eq!(open_now(&nothing), 0.0);
    assert_eq!(value(&nothing, "tagwire_panics_total", &[]), 0.0);
    assert_eq!(
        value(&nothing, "tagwire_drain_phase", &[("phase", "serving")]),
        1.0
    );
    assert_eq!(value(&nothing, "tagwire_backend_connected", &[]), 1.0);

    // Four connections: the node's limit.
    let mut decoder = ws(addr, "/ws", &[]).await.expect("decode-error peer");
    let mut limited = ws(addr, "/ws", &[]).await.expect("rate-limited peer");
    let mut slow = ws(addr, "/ws", &[]).await.expect("slow peer");
    let idle = ws(addr, "/ws", &[]).await.expect("idle peer");
    assert_eq!(refused_status(ws(addr, "/ws", &[]).await), 503);
    assert_eq!(
        refused_status(ws(addr, "/ws", &[("origin", "https://evil.example")]).await),
        403
    );

    // Three frames that do not decode or go the wrong way.
    let echo_header = echo(0).header();
    let truncated = {
        let text = echo_with(1, "cut").to_text();
        text[..text.len() - 4].to_owned()
    };
    let truncated_kind = ClientMessage::decode_text(&truncated)
        .expect_err("a truncated echo does not decode")
        .kind;
    let server_only = ServerMessage::DeliveredV1(DeliveredV1 {
        room: "r".into(),
        from: "x".into(),
        seq: 1,
        body: "b".into(),
    })
    .to_text();
    decoder
        .send(Message::text(truncated.clone()))
        .await
        .expect("send");
    decoder.send(Message::text("zz|")).await.expect("send");
    decoder
        .send(Message::text(server_only))
        .await
        .expect("send");
    for _ in 0..3 {
        assert!(matches!(
            next_data(&mut decoder).await,
            Got::Control(Control::Error(_))
        ));
    }

    // Five echoes against a burst of three: two refused.
    let mut echo_bytes = truncated.len();
    for seq in 0..5 {
        let frame = echo(seq).to_text();
        echo_bytes += frame.len();
        limited.send(Message::text(frame)).await.expect("send");
    }
    let mut echoed = 0;
    let mut rate_limited = 0;
    for _ in 0..5 {
        match next_data(&mut limited).await {
            Got::Message(_) => echoed += 1,
            Got::Control(Control::Error(_)) => rate_limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((echoed, rate_limited), (3, 2));

    // A client that stops reading: 20 broadcasts against a queue of 16,
    // queued before its task can write (one thread).
    let join = ClientMessage::JoinV1(JoinV1 {
        room: "slow".into(),
    })
    .to_text();
    let join_bytes = join.len();
    slow.send(Message::text(join)).await.expect("join");
    while handle.room_len("slow") == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = |seq| {
        ServerMessage::DeliveredV1(DeliveredV1 {
            room: "slow".into(),
            from: "test".into(),
            seq,
            body: "x".into(),
        })
    };
    let accepted: usize = (0..20)
        .map(|seq| handle.broadcast("slow", &delivered(seq)))
        .sum();
    assert_eq!(accepted, 16);
    let s = scrape_until(addr, |s| closed(s, "4002", "server") == 1.0).await;
    drop(slow);

    assert_eq!(value(&s, "tagwire_slow_consumer_closes_total", &[]), 1.0);
    assert_eq!(value(&s, "tagwire_undelivered_frames_total", &[]), 17.0);
    assert_eq!(value(&s, "tagwire_broadcasts_total", &[]), 20.0);
    assert_eq!(value(&s, "tagwire_broadcast_deliveries_total", &[]), 16.0);
    assert_eq!(observations(&s, "tagwire_fanout_duration_seconds"), 20.0);
    assert_eq!(
        observations(&s, "tagwire_backend_publish_duration_seconds"),
        20.0
    );
    assert_eq!(open_now(&s), 3.0);
    assert_eq!(
        value(
            &s,
            "tagwire_connections_opened_total",
            &[("transport", "websocket"), ("encoding", "text")]
        ),
        4.0
    );
    assert_eq!(refusals(&s, "connection_limit"), 1.0);
    assert_eq!(refusals(&s, "origin"), 1.0);
    assert_eq!(refusals(&s, "rate_limit"), 2.0);
    assert_eq!(refusals(&s, "wrong_direction"), 1.0);
    assert_eq!(refusals(&s, "draining"), 0.0);
    assert_eq!(
        value(
            &s,
            "tagwire_decode_errors_total",
            &[("kind", "unknown_header")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "tagwire_decode_errors_total",
            &[("kind", &kind_label(truncated_kind))]
        ),
        1.0
    );
    let (echo_name, echo_version) = labels_of(echo_header);
    let echo_labels = [("message", echo_name), ("version", echo_version.as_str())];
    // Counted by the header a frame carries: the truncated echo too.
    assert_eq!(
        value(&s, "tagwire_frames_received_total", &echo_labels),
        6.0
    );
    assert_eq!(
        value(&s, "tagwire_received_bytes_total", &echo_labels),
        echo_bytes as f64
    );
    assert_eq!(value(&s, "tagwire_frames_sent_total", &echo_labels), 3.0);
    let (join_name, join_version) = labels_of(
        ClientMessage::JoinV1(JoinV1 {
            room: String::new(),
        })
        .header(),
    );
    let join_labels = [("message", join_name), ("version", join_version.as_str())];
    assert_eq!(
        value(&s, "tagwire_frames_received_total", &join_labels),
        1.0
    );
    assert_eq!(
        value(&s, "tagwire_received_bytes_total", &join_labels),
        join_bytes as f64
    );
    assert_eq!(
        value(
            &s,
            "tagwire_frames_received_total",
            &[("message", "_unknown"), ("version", "")]
        ),
        1.0
    );
    // A welcome for each of the four, and the errors of the two above.
    assert!(
        value(
            &s,
            "tagwire_frames_sent_total",
            &[("message", "_control"), ("version", "")]
        ) >= 9.0
    );
    // Handled: the six echoes that decoded and passed the limit, the join.
    assert_eq!(observations(&s, "tagwire_handler_duration_seconds"), 4.0);
    assert!(observations(&s, "tagwire_outbox_depth_frames") >= 1.0);

    // Application code that panics: its connection alone, 1011.
    let mut panicking = ws(addr, "/ws", &[]).await.expect("a slot is free again");
    panicking
        .send(Message::text(echo_with(9, "panic").to_text()))
        .await
        .expect("send");
    assert!(matches!(
        next_data(&mut panicking).await,
        Got::Close(Some(1011), _)
    ));
    let s = scrape_until(addr, |s| closed(s, "1011", "server") == 1.0).await;
    assert_eq!(value(&s, "tagwire_panics_total", &[]), 1.0);
    assert_eq!(
        value(&s, "tagwire_panics_total", &[]),
        handle.handler_panics() as f64
    );
    drop(panicking);

    // The drain: its phase and what is left, from start to done.
    handle.drain();
    let s = scrape(addr).await;
    assert_eq!(value(&s, "tagwire_drain_phase", &[("phase", "grace")]), 1.0);
    assert_eq!(
        value(&s, "tagwire_drain_phase", &[("phase", "serving")]),
        0.0
    );
    assert_eq!(value(&s, "tagwire_drain_connections_remaining", &[]), 3.0);
    assert_eq!(refused_status(ws(addr, "/ws", &[]).await), 503);
    let readers =
        [decoder, limited, idle].map(|peer| spawn_reader(peer, tokio::time::Instant::now()));
    let report = handle.drained().await;
    for reader in readers {
        reader.await.expect("reader");
    }
    let s = scrape_until(addr, |s| closed(s, "4001", "server") == 3.0).await;
    assert_eq!(report.notified, 3);
    assert_eq!(value(&s, "tagwire_drain_phase", &[("phase", "done")]), 1.0);
    assert_eq!(value(&s, "tagwire_drain_connections_remaining", &[]), 0.0);
    assert_eq!(refusals(&s, "draining"), 1.0);
    assert_eq!(open_now(&s), 0.0);
    // Every close the application saw, by its report's code.
    let closes = app.closes.lock().expect("lock").clone();
    assert_eq!(closes.len(), 5);
    let by_server = closes.iter().filter(|c| c.by_server).count();
    let scraped: f64 = ["4001", "4002", "1011"]
        .iter()
        .map(|code| closed(&s, code, "server"))
        .sum();
    assert_eq!(scraped, by_server as f64);
}

/// A room message through the backend: Redis when `TAGWIRE_REDIS_URL` is
/// set (as `scripts/test-all` does), else the in-process one. Timed to its
/// position, fanned out to the member, and a resume from another epoch
/// read as a replay that ends in a `reset` gap.
#[tokio::test]
async fn a_publish_through_the_backend_is_counted_and_timed() {
    let mut config = ServerConfig::default().with_metrics_path(Some("/metrics".into()));
    if let Ok(url) = std::env::var("TAGWIRE_REDIS_URL") {
        let prefix = format!("metrics-{}", std::process::id());
        let backend = tagwire::server::backend::RedisBackend::connect(
            tagwire::server::backend::RedisConfig::new(url).with_prefix(prefix),
        )
        .await
        .expect("redis");
        config.backend = Some(std::sync::Arc::new(backend));
    }
    let (server, _app) = server(config);
    let handle = server.handle();
    let addr = serve_router(&server).await;
    let mut member = ws(addr, "/ws", &[]).await.expect("member");
    let resume = Control::Resume(Resume {
        room: "news".into(),
        position: RoomPosition {
            epoch: 987_654_321,
            seq: 5,
        },
    });
    member
        .send(Message::text(resume.to_text()))
        .await
        .expect("resume");
    send(
        &mut member,
        &ClientMessage::JoinV1(JoinV1 {
            room: "news".into(),
        }),
    )
    .await;
    // The resume's answer: a gap, since no room of this backend has that epoch.
    assert!(matches!(
        next_data(&mut member).await,
        Got::Control(Control::Gap(_))
    ));
    while !handle.is_subscribed("news") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let message = ServerMessage::DeliveredV1(DeliveredV1 {
        room: "news".into(),
        from: "test".into(),
        seq: 1,
        body: "hello".into(),
    });
    handle.publish("news", &message).await.expect("published");
    assert_eq!(next_data(&mut member).await, Got::Message(message));
    let s = scrape_until(addr, |s| {
        value(s, "tagwire_broadcast_deliveries_total", &[]) == 1.0
    })
    .await;
    assert_eq!(value(&s, "tagwire_backend_connected", &[]), 1.0);
    assert_eq!(value(&s, "tagwire_broadcasts_total", &[]), 1.0);
    assert_eq!(
        observations(&s, "tagwire_backend_publish_duration_seconds"),
        1.0
    );
    assert_eq!(observations(&s, "tagwire_fanout_duration_seconds"), 1.0);
    assert_eq!(value(&s, "tagwire_backend_replays_total", &[]), 1.0);
    assert_eq!(
        value(&s, "tagwire_backend_gaps_total", &[("kind", "reset")]),
        1.0
    );
    assert_eq!(
        value(&s, "tagwire_backend_gaps_total", &[("kind", "trimmed")]),
        0.0
    );
}

/// Off unless asked: no route, no handle.
#[tokio::test]
async fn metrics_are_off_by_default() {
    let (server, _) = server(ServerConfig::default());
    assert!(server.handle().metrics().is_none());
    let (server, _) = server_with_handle_only();
    let text = server.handle().metrics().expect("on").encode();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("valid");
    assert_eq!(
        value(
            &scrape,
            OPEN,
            &[
                ("transport", "sse"),
                ("encoding", "text"),
                ("version", "current")
            ]
        ),
        0.0
    );
    assert!(scrape.docs.contains_key("tagwire_handler_duration_seconds"));
}

fn server_with_handle_only() -> (RelayServer, std::sync::Arc<Relay>) {
    server(ServerConfig::default().with_metrics(true))
}
