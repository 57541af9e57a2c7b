//! The server: relays every line posted to everyone in the room, and serves
//! the page (`web/`, bundled by esbuild) that talks to it.
//!
//! ```text
//! cargo run                     # http://127.0.0.1:8080/
//! cargo run -- 127.0.0.1:3000   # another address
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tagwire::server::{Connection, Handler, Server, ServerConfig};

/// The generated protocol (from `schema/{{package}}.schema`, by `build.rs`):
/// `ClientMessage`, `ServerMessage`, one struct per message version, `Package`.
pub mod protocol {
    tagwire::include_protocol!("{{package}}");
}

use protocol::{ClientMessage, Package, PostedV1};

const ROOM: &str = "main";

#[derive(Default)]
struct App {
    next_id: AtomicU64,
}

impl Handler<Package> for App {
    // Runs once the client's hello has arrived.
    async fn on_open(&self, conn: &Connection<Package>) {
        conn.join(ROOM);
    }

    async fn on_message(&self, conn: &Connection<Package>, message: ClientMessage) {
        match message {
            // The runtime has already checked the schema's `@len` bounds.
            ClientMessage::PostV1(post) => {
                let posted = PostedV1 {
                    id: self.next_id.fetch_add(1, Ordering::Relaxed),
                    author: post.author,
                    text: post.text,
                };
                conn.broadcast(ROOM, &posted.into());
            }
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:8080".into());
    let server = Server::new(App::default(), ServerConfig::default());
    // The page and its bundle from us; GET /ws (and /sse, /health) from Tagwire.
    let pages = Router::new()
        .route("/", get(|| page("index.html")))
        .route("/app.js", get(|| page("dist/app.js")));

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("{{name}} on http://{}/", listener.local_addr()?);
    // Until SIGTERM or Ctrl-C, then a graceful drain: clients move on unnoticed.
    server.serve_with(pages, listener).await
}

/// A file of `web/`, read on each request so a rebuilt bundle needs no restart.
async fn page(file: &str) -> Response {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("web").join(file);
    match tokio::fs::read_to_string(&path).await {
        Ok(body) if file.ends_with(".html") => Html(body).into_response(),
        Ok(body) => ([(header::CONTENT_TYPE, "text/javascript")], body).into_response(),
        Err(e) => (
            StatusCode::NOT_FOUND,
            format!("{}: {e} (build the page: see README.md)\n", path.display()),
        )
            .into_response(),
    }
}
