//! A chat room: the Tagwire server relays every line to everyone, and serves
//! the page (`web/`, bundled by esbuild) that talks to it.
//!
//! ```text
//! cargo run -p example-chat                     # http://127.0.0.1:8080/
//! cargo run -p example-chat -- 127.0.0.1:0      # any free port; the address is printed
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tagwire::server::{Connection, Handler, Server, ServerConfig};

/// The generated protocol: `ClientMessage`, `ServerMessage`, `PostV1`, `PostedV1`, `Package`.
pub mod chat {
    tagwire::include_protocol!("chat");
}

const ROOM: &str = "chat";

#[derive(Default)]
struct Chat {
    next_id: AtomicU64,
}

impl Handler<chat::Package> for Chat {
    // Runs once the client's hello has arrived.
    async fn on_open(&self, conn: &Connection<chat::Package>) {
        conn.join(ROOM);
    }

    async fn on_message(&self, conn: &Connection<chat::Package>, message: chat::ClientMessage) {
        match message {
            // The runtime has already checked the schema's `@len` bounds.
            chat::ClientMessage::PostV1(post) => {
                let posted = chat::PostedV1 {
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
    let server = Server::new(Chat::default(), ServerConfig::default());
    // The page and its bundle from us; GET /ws (and /sse, /health) from Tagwire.
    let pages = Router::new()
        .route("/", get(|| page("index.html")))
        .route("/app.js", get(|| page("dist/app.js")));

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("chat on http://{}/", listener.local_addr()?);
    // Until SIGTERM or Ctrl-C, then a graceful drain (docs/RUNTIME.md).
    server.serve_with(pages, listener).await
}

/// A file of `web/`, read on each request so a rebuilt bundle needs no restart.
async fn page(file: &str) -> Response {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("web").join(file);
    match tokio::fs::read_to_string(&path).await {
        Ok(body) if file.ends_with(".html") => Html(body).into_response(),
        Ok(body) => ([(header::CONTENT_TYPE, "text/javascript")], body).into_response(),
        Err(e) => (
            axum::http::StatusCode::NOT_FOUND,
            format!("{}: {e} (build the page: see README.md)\n", path.display()),
        )
            .into_response(),
    }
}
