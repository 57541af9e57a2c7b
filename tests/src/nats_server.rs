//! A nats-server of one test's own, with JetStream: its port, its store
//! directory, so that the test can kill it (SIGKILL) and start it again on
//! the same port with what it stored, or stop it (SIGSTOP) and let it go on
//! (SIGCONT), without touching the shared server of `scripts/services`.
//!
//! The process is owned by the guard: dropping it kills and reaps it and
//! removes its directory, on every path out of a test.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;

/// A running nats-server of the test's own (see the module documentation).
#[derive(Debug)]
pub struct NatsServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// How long a start may take before the test fails.
const START_LIMIT: Duration = Duration::from_secs(10);

impl NatsServer {
    /// Starts nats-server with JetStream on a free loopback port, its store
    /// in a fresh directory under the system's temporary directory, and
    /// waits until it answers with JetStream on.
    ///
    /// # Panics
    ///
    /// When nats-server is missing (with the command that installs it) or
    /// does not answer within 10 s.
    #[must_use]
    pub fn start() -> NatsServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "tagwire-nats-{}-{port}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let mut server = NatsServer {
            port,
            dir,
            child: None,
        };
        server.spawn();
        server
    }

    /// `nats://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.join("store"))
            .arg("-l")
            .arg(self.dir.join("nats.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting nats-server: {e}; run `scripts/services start` first (it installs \
                     nats-server; see docs/SCALE.md)"
                )
            });
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if self
                .info()
                .is_some_and(|info| info.contains("\"jetstream\":true"))
            {
                return;
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "nats-server exited at start ({status}); log:\n{}",
                    self.log()
                );
            }
            assert!(
                start.elapsed() < START_LIMIT,
                "nats-server did not answer within {START_LIMIT:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's INFO line, when it answers.
    fn info(&self) -> Option<String> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        line.starts_with("INFO").then_some(line)
    }

    /// The server's log so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
    }

    /// Kills the server (SIGKILL) and reaps it; returns when.
    pub fn kill(&mut self) -> Instant {
        let at = Instant::now();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        at
    }

    /// SIGSTOP: the server keeps its sockets open and answers nothing until
    /// [`NatsServer::resume`].
    ///
    /// # Panics
    ///
    /// When it is not running or the signal cannot be sent.
    pub fn pause(&mut self) -> Instant {
        let at = Instant::now();
        self.signal("STOP");
        at
    }

    /// SIGCONT: a stopped server goes on where it was.
    ///
    /// # Panics
    ///
    /// As [`NatsServer::pause`].
    pub fn resume(&mut self) -> Instant {
        let at = Instant::now();
        self.signal("CONT");
        at
    }

    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("nats-server is running").id();
        let status = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill -{name} {pid}: {e}"));
        assert!(status.success(), "kill -{name} {pid}: {status}");
    }

    /// Starts it again on the same port and store; returns when the start
    /// began.
    pub fn restart(&mut self) -> Instant {
        let at = Instant::now();
        self.spawn();
        at
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
