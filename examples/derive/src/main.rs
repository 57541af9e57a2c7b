//! A protocol defined in Rust, no `.schema` file: `#[derive(tagwire::Protocol)]`
//! on one enum per direction, then a server and a client of it in one
//! program. The client moves its cursor; the server tells everyone where it
//! went. Prints the protocol as `.schema` text, the frames, and exits.
//!
//! ```text
//! cargo run -p example-derive
//! ```

use std::process::ExitCode;
use std::time::Duration;

use tagwire::client::{Client, ClientConfig};
use tagwire::server::{Connection, Handler, Server, ServerConfig};
use tagwire::{Protocol, SchemaExport};

/// A field type: anything deriving `Codec` can be nested in messages.
#[derive(tagwire::Codec, Debug, Clone, Copy, PartialEq)]
struct Point {
    x: f32,
    y: f32,
}

/// What clients send. Each variant is one message version with a 2-byte
/// header, assigned in declaration order (`aa`): append new variants at the end.
#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "client", package = "cursors")]
enum ClientMsg {
    Move { to: Point },
}

/// What the server sends. The two enums form one package, so their headers
/// must not clash: these are pinned after the client's.
#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "server", package = "cursors")]
enum ServerMsg {
    #[tagwire(header = "ba")]
    Moved { who: u64, to: Point },
}

/// What the server and the client take: the two directions, named. (A schema's
/// generated module writes this for you.)
struct Cursors;

impl tagwire::Package for Cursors {
    type Client = ClientMsg;
    type Server = ServerMsg;
    const NAME: &'static str = "cursors";
    // Told to the other side in the hello and welcome: equal means every frame agrees.
    const FINGERPRINT: &'static str = "cursors-1";
}

struct Relay;

impl Handler<Cursors> for Relay {
    async fn on_open(&self, conn: &Connection<Cursors>) {
        conn.join("board");
    }

    async fn on_message(&self, conn: &Connection<Cursors>, message: ClientMsg) {
        let ClientMsg::Move { to } = message;
        let moved = ServerMsg::Moved { who: conn.id(), to };
        conn.broadcast("board", &moved);
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // Commit this text and its lock to have the same protection against breaking
    // changes as schema users, and to generate TypeScript (docs/DERIVE.md).
    println!("{}", <ClientMsg as SchemaExport>::schema());
    println!("{}", <ServerMsg as SchemaExport>::schema());

    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = match listener.local_addr() {
        Ok(addr) => format!("ws://{addr}/ws"),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(Server::new(Relay, ServerConfig::default()).serve(listener));

    let (client, mut events) = Client::<Cursors>::connect(&url, ClientConfig::default());
    let sent = ClientMsg::Move {
        to: Point { x: 0.25, y: 0.5 },
    };
    println!(
        "client sends {sent:?} as the text frame {:?}",
        sent.to_text()
    );
    if let Err(e) = client.send(sent) {
        eprintln!("error: cannot send: {e}");
        return ExitCode::FAILURE;
    }
    let reply = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.next().await {
            if let Some(message) = event.into_message() {
                return Some(message);
            }
        }
        None
    })
    .await;
    client.close().await;
    match reply {
        Ok(Some(message)) => {
            println!("server sent {message:?}: {:?}", message.to_text());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("error: no reply from the server within 10 s");
            ExitCode::FAILURE
        }
    }
}
