//! The Tagwire demo: a shared board (chat lines and cursors) served by the
//! Rust runtime to a page that uses the generated TypeScript and the
//! `tagwire` client, behind a health-checking load balancer, with deploys
//! anyone can start from the page (see docs/DEMO.md).
//!
//! ```text
//! ./scripts/demo                      # builds the page, then runs this on 127.0.0.1:8080
//! cargo run -p tagwire-demo -- --port 8080 [--grace-ms 2000] [--window-ms 2000]
//!     [--reconnect-ms 4000] [--ping-ms 10000] [--health-ms 100] [--linger-ms 15000]
//!     [--web DIR] [--web-v1 DIR] [--runtime DIR]
//! ```

mod app;
mod balancer;
mod supervisor;

pub mod board {
    tagwire::include_protocol!("board");
}

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use balancer::Balancer;
use supervisor::{Settings, Supervisor};
use tokio::net::TcpListener;

const USAGE: &str = "usage: tagwire-demo [--port N] [--grace-ms N] [--window-ms N] [--reconnect-ms N] [--ping-ms N] [--health-ms N] [--linger-ms N] [--web DIR] [--web-v1 DIR] [--runtime DIR]";

#[derive(Debug)]
struct Args {
    port: u16,
    settings: Settings,
}

fn parse_args() -> Result<Args, String> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = Args {
        port: 8080,
        settings: Settings {
            grace: Duration::from_secs(2),
            window: Duration::from_secs(2),
            reconnect_window: Duration::from_secs(4),
            ping_interval: Duration::from_secs(10),
            health_every: Duration::from_millis(100),
            linger: tagwire::server::backend::PresenceConfig::default().linger,
            web_dir: demo.join("web"),
            web_v1_dir: demo.join("web-v1"),
            runtime_dir: demo.join("../runtime/typescript/dist"),
        },
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let s = &mut args.settings;
        match flag.as_str() {
            "--port" => args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--grace-ms" => s.grace = millis(&value()?)?,
            "--window-ms" => s.window = millis(&value()?)?,
            "--reconnect-ms" => s.reconnect_window = millis(&value()?)?,
            "--ping-ms" => s.ping_interval = millis(&value()?)?,
            "--health-ms" => s.health_every = millis(&value()?)?,
            "--linger-ms" => s.linger = millis(&value()?)?,
            "--web" => s.web_dir = PathBuf::from(value()?),
            "--web-v1" => s.web_v1_dir = PathBuf::from(value()?),
            "--runtime" => s.runtime_dir = PathBuf::from(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn millis(s: &str) -> Result<Duration, String> {
    s.parse()
        .map(Duration::from_millis)
        .map_err(|e| format!("`{s}` is not a number of milliseconds: {e}"))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    for dir in [&args.settings.web_dir, &args.settings.web_v1_dir] {
        let page = dir.join("dist/main.js");
        if !page.exists() {
            tracing::warn!(
                "{} is missing: build the pages with ./scripts/demo",
                page.display()
            );
        }
    }
    let front = TcpListener::bind(("127.0.0.1", args.port)).await?;
    let addr = front.local_addr()?;
    let balancer = Arc::new(Balancer::new(args.settings.health_every));
    let supervisor = Supervisor::new(args.settings, balancer.clone());
    supervisor.start_instance().await?;
    tokio::spawn(balancer.serve(front));
    // The browser tests read this line to learn the port.
    println!("tagwire demo on http://{addr}/");
    shutdown_signal().await;
    Ok(())
}
