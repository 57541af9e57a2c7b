//! A real HAProxy in front of the scale-out tests' nodes
//! (tests/tests/scale/rolling_deploy.rs, tests/tests/scale/node_kill.rs): the
//! configuration docs/SCALE.md recommends on loopback ports, the process, and
//! what its stats socket says about each server.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::process::{Proc, lock};

/// HAProxy's check interval: docs/SCALE.md's sample.
pub const CHECK_INTER: Duration = Duration::from_secs(5);
/// Failed checks before a server is DOWN: the sample's.
pub const FALL: u32 = 4;
/// Good checks before a server is UP: the sample's.
pub const RISE: u32 = 2;

/// The backend the slots are in.
const BACKEND: &str = "tagwire_nodes";

/// docs/SCALE.md's settings for WebSockets, on loopback ports, with a stats
/// socket to watch the checks; one `server` per slot (a node's name and
/// port).
#[must_use]
pub fn config(front: u16, slots: &[(&str, u16)], socket: &Path) -> String {
    let mut servers = String::new();
    for (name, port) in slots {
        let _ = writeln!(servers, "    server {name} 127.0.0.1:{port}");
    }
    format!(
        "global
    # 502 connections, two sockets each: HAProxy raises its open-file
    # limit to about 2 x maxconn and refuses to start if the hard limit is lower.
    maxconn 1500
    stats socket {socket} mode 600 level admin

defaults
    mode http
    # A connection a dead node refuses is retried on another node at once,
    # long before the health checks take the node out.
    option redispatch
    retries 2
    timeout connect 5s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout client 75s
    timeout server 75s
    # Above the server's 30 s ping interval: only dead tunnels are reaped.
    timeout tunnel 1h
    timeout client-fin 10s
    timeout server-fin 10s

frontend tagwire
    bind 127.0.0.1:{front}
    default_backend {BACKEND}

backend {BACKEND}
    balance leastconn
    option httpchk
    http-check send meth GET uri /health
    http-check expect status 200
    default-server check inter {inter}s fall {FALL} rise {RISE} maxconn 5000
{servers}",
        socket = socket.display(),
        inter = CHECK_INTER.as_secs(),
    )
}

/// One server's line of `show stat`.
#[derive(Debug, Clone)]
pub struct ServerStat {
    /// `UP`, `UP 1/4` (failing checks), `DOWN`, `DOWN 1/2` (passing them).
    pub status: String,
    /// Connections to it now (`scur`).
    pub sessions: u64,
    /// Connections that were meant for it and went to another server
    /// (`wredis`).
    pub redispatches: u64,
}

impl ServerStat {
    /// `DOWN`, or `DOWN 1/2` on the way up: HAProxy sends it nothing.
    #[must_use]
    pub fn down(&self) -> bool {
        self.status.starts_with("DOWN")
    }

    /// `UP`, or `UP 1/4` on the way down: still taking connections.
    #[must_use]
    pub fn up(&self) -> bool {
        self.status.starts_with("UP")
    }
}

/// The servers of the backend, by name, from the stats socket.
///
/// # Errors
///
/// When the socket cannot be read or its header lacks a column used here.
pub async fn show_stat(socket: &Path) -> std::io::Result<HashMap<String, ServerStat>> {
    let mut stream = tokio::net::UnixStream::connect(socket).await?;
    stream.write_all(b"show stat\n").await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let (Some(px), Some(sv), Some(scur), Some(status), Some(wredis)) = (
        column("pxname"),
        column("svname"),
        column("scur"),
        column("status"),
        column("wredis"),
    ) else {
        return Err(std::io::Error::other(format!("unexpected stats: {text}")));
    };
    let number = |fields: &[&str], at: usize| fields.get(at).and_then(|s| s.parse().ok());
    let mut servers = HashMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.get(px) == Some(&BACKEND)
            && let Some(name) = fields
                .get(sv)
                .filter(|n| **n != "BACKEND" && **n != "FRONTEND")
        {
            servers.insert(
                (*name).to_owned(),
                ServerStat {
                    status: fields.get(status).copied().unwrap_or_default().to_owned(),
                    sessions: number(&fields, scur).unwrap_or(0),
                    redispatches: number(&fields, wredis).unwrap_or(0),
                },
            );
        }
    }
    Ok(servers)
}

/// Every change of a server's status as the stats socket showed it (polled
/// every 50 ms), and the last stats read.
#[derive(Debug, Default)]
pub struct Health {
    /// When, which server, its new status.
    pub changes: Vec<(Instant, String, String)>,
    /// The last `show stat`.
    pub last: HashMap<String, ServerStat>,
}

impl Health {
    /// When `server` was first seen down at or after `since`.
    #[must_use]
    pub fn down_at(&self, server: &str, since: Instant) -> Option<Instant> {
        self.changes
            .iter()
            .find(|(at, s, status)| *at >= since && s == server && status.starts_with("DOWN"))
            .map(|(at, _, _)| *at)
    }

    /// When `server` was first seen up at or after `since`.
    #[must_use]
    pub fn up_at(&self, server: &str, since: Instant) -> Option<Instant> {
        self.changes
            .iter()
            .find(|(at, s, status)| *at >= since && s == server && status.starts_with("UP"))
            .map(|(at, _, _)| *at)
    }

    /// `server`'s last stats.
    #[must_use]
    pub fn server(&self, server: &str) -> Option<&ServerStat> {
        self.last.get(server)
    }

    /// `server`'s connections now (0 when unknown).
    #[must_use]
    pub fn sessions(&self, server: &str) -> u64 {
        self.server(server).map_or(0, |s| s.sessions)
    }
}

/// An haproxy process with [`config`], its stats socket watched; killed,
/// its watcher stopped and its socket removed when dropped.
#[derive(Debug)]
pub struct Haproxy {
    /// Where clients connect.
    pub front: u16,
    socket: PathBuf,
    health: Arc<Mutex<Health>>,
    watcher: tokio::task::JoinHandle<()>,
    _process: Proc,
}

impl Haproxy {
    /// Writes `dir/haproxy.cfg`, starts `binary` on it (log in
    /// `dir/haproxy.log`), and waits for its stats socket. `name` keeps the
    /// sockets of tests running at once apart.
    ///
    /// # Panics
    ///
    /// When the configuration cannot be written or the socket does not
    /// appear within 10 s.
    pub async fn start(name: &str, binary: &str, slots: &[(&str, u16)], dir: &Path) -> Haproxy {
        let front = crate::process::free_port();
        // Under /tmp: a Unix socket's path must stay short (108 bytes).
        let socket = std::env::temp_dir().join(format!(
            "tagwire-haproxy-{}-{name}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&socket);
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config(front, slots, &socket)).expect("haproxy.cfg");
        let mut command = Command::new(binary);
        command.arg("-db").arg("-f").arg(&path);
        let process = Proc::spawn("haproxy", command, &dir.join("haproxy.log"));
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "haproxy made no stats socket within 10 s (see {})",
                dir.join("haproxy.log").display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let health = Arc::new(Mutex::new(Health::default()));
        let watcher = tokio::spawn(watch(socket.clone(), health.clone()));
        Haproxy {
            front,
            socket,
            health,
            watcher,
            _process: process,
        }
    }

    /// The WebSocket URL through HAProxy.
    #[must_use]
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.front)
    }

    /// What the stats socket said so far.
    pub fn health(&self) -> MutexGuard<'_, Health> {
        lock(&self.health)
    }

    /// Reads the stats now (the watcher's last poll may be 50 ms old).
    ///
    /// # Panics
    ///
    /// When the socket cannot be read.
    pub async fn stats(&self) -> HashMap<String, ServerStat> {
        show_stat(&self.socket).await.expect("haproxy's stats")
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        self.watcher.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

async fn watch(socket: PathBuf, health: Arc<Mutex<Health>>) {
    loop {
        if let Ok(stats) = show_stat(&socket).await {
            let now = Instant::now();
            let mut health = lock(&health);
            for (name, stat) in &stats {
                if health.last.get(name).map(|s| &s.status) != Some(&stat.status) {
                    health
                        .changes
                        .push((now, name.clone(), stat.status.clone()));
                }
            }
            health.last = stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
