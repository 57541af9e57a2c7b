//! A redis-server of one test's own: its port, its directory, its persistence,
//! so that the test can kill it (SIGKILL), start it again on the same port
//! with whatever it persisted, or stop it (SIGSTOP) and let it continue
//! (SIGCONT), without touching the shared server of `scripts/services`.
//!
//! The process is owned by the guard: dropping it continues a stopped
//! server, kills and reaps it and removes its directory, on every path out
//! of a test, a failed assertion included.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;

/// What the server keeps across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Nothing (`save ""`, `appendonly no`): a restart starts empty, as
    /// docs/SCALE.md recommends for the backend.
    None,
    /// An append-only file fsynced before every reply (`appendonly yes`,
    /// `appendfsync always`): a restart has every write that was answered.
    AppendFsyncAlways,
    /// Snapshots only when [`RedisServer::save`] asks (`save ""`,
    /// `appendonly no`): a restart has what the last one held.
    Snapshot,
}

/// A running redis-server of the test's own (see the module documentation).
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    persistence: Persistence,
    /// The cluster bus port, for a node of a Redis Cluster.
    cluster_bus: Option<u16>,
    child: Option<Child>,
    stopped: bool,
}

/// How long a start may take before the test fails (loading a small
/// dataset takes milliseconds).
const START_LIMIT: Duration = Duration::from_secs(10);

impl RedisServer {
    /// Starts redis-server on a free loopback port with `persistence`, in a
    /// fresh directory under the system's temporary directory, and waits
    /// until it answers.
    ///
    /// # Panics
    ///
    /// When redis-server is missing (with the command that installs it) or
    /// does not answer within 10 s.
    #[must_use]
    pub fn start(persistence: Persistence) -> RedisServer {
        Self::start_with(persistence, None)
    }

    /// [`RedisServer::start`] as a node of a Redis Cluster yet to be made
    /// (`cluster-enabled`, its bus on a free port of its own,
    /// `cluster-node-timeout` 1000 ms, no persistence but its nodes.conf,
    /// kept across a restart): see [`crate::redis_cluster`].
    ///
    /// # Panics
    ///
    /// As [`RedisServer::start`].
    #[must_use]
    pub fn start_cluster_node() -> RedisServer {
        Self::start_with(Persistence::None, Some(free_port()))
    }

    fn start_with(persistence: Persistence, cluster_bus: Option<u16>) -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "tagwire-redis-{}-{port}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let mut server = RedisServer {
            port,
            dir,
            persistence,
            cluster_bus,
            child: None,
            stopped: false,
        };
        server.spawn();
        server
    }

    /// The port it listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the process runs (not killed).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `redis://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--daemonize", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--logfile", "redis.log", "--dbfilename", "dump.rdb"])
            // No snapshot unless the test asks for one.
            .args(["--save", ""]);
        match self.persistence {
            Persistence::None | Persistence::Snapshot => {
                command.args(["--appendonly", "no"]);
            }
            Persistence::AppendFsyncAlways => {
                command.args(["--appendonly", "yes", "--appendfsync", "always"]);
            }
        }
        if let Some(bus) = self.cluster_bus {
            command
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    &bus.to_string(),
                ])
                .args(["--cluster-config-file", "nodes.conf"])
                .args(["--cluster-node-timeout", "1000"])
                // A replica that never synced may not take over: start the
                // first sync at once, not after the default 5 s.
                .args(["--repl-diskless-sync-delay", "0"]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting redis-server: {e}; run `scripts/services start` first (it installs \
                     redis-server; see docs/SCALE.md)"
                )
            });
        self.child = Some(child);
        self.stopped = false;
        let start = Instant::now();
        loop {
            if self.command(&["PING"]).is_ok_and(|reply| reply == "+PONG") {
                return;
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "redis-server exited ({status}) on port {}: {}",
                    self.port,
                    self.log()
                );
            }
            assert!(
                start.elapsed() < START_LIMIT,
                "redis-server on port {} did not answer within {START_LIMIT:?}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The server's log, for failure messages.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    /// Sends one command and returns the first line of the reply (`+OK`,
    /// `-ERR …`, `:3`, `$5`): enough for PING, SAVE, CONFIG SET and the like.
    ///
    /// # Errors
    ///
    /// When the server cannot be reached or does not answer within 2 s.
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes())?;
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line)?;
        Ok(line.trim_end().to_owned())
    }

    /// Writes a snapshot now (`SAVE`): what a restart of a
    /// [`Persistence::Snapshot`] server comes back with.
    ///
    /// # Panics
    ///
    /// When the save fails.
    pub fn save(&self) -> Instant {
        let reply = self.command(&["SAVE"]);
        assert!(matches!(&reply, Ok(r) if r == "+OK"), "SAVE: {reply:?}");
        Instant::now()
    }

    /// The process id.
    ///
    /// # Panics
    ///
    /// When the server is not running.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("redis-server is running").id()
    }

    /// SIGKILL, and reaps the process: nothing it had not written survives.
    /// Returns when the signal was sent.
    ///
    /// # Panics
    ///
    /// When the server is not running.
    pub fn kill(&mut self) -> Instant {
        let mut child = self.child.take().expect("redis-server is running");
        let at = Instant::now();
        child
            .kill()
            .unwrap_or_else(|e| panic!("SIGKILL to redis-server: {e}"));
        child
            .wait()
            .unwrap_or_else(|e| panic!("reaping redis-server: {e}"));
        self.stopped = false;
        at
    }

    /// Starts it again on the same port, in the same directory (so with
    /// what it persisted), and waits until it answers. Returns when it was
    /// started (clients may have reconnected before it answers this).
    ///
    /// # Panics
    ///
    /// As [`RedisServer::start`], or when it still runs.
    pub fn restart(&mut self) -> Instant {
        assert!(self.child.is_none(), "redis-server still runs");
        let at = Instant::now();
        self.spawn();
        at
    }

    /// SIGSTOP: the server keeps its sockets open (the kernel even accepts
    /// new connections) and answers nothing until [`RedisServer::resume`].
    ///
    /// # Panics
    ///
    /// When the signal cannot be sent.
    pub fn pause(&mut self) -> Instant {
        let at = Instant::now();
        signal("STOP", self.pid());
        self.stopped = true;
        at
    }

    /// SIGCONT: a stopped server goes on where it was.
    ///
    /// # Panics
    ///
    /// When the signal cannot be sent.
    pub fn resume(&mut self) -> Instant {
        let at = Instant::now();
        signal("CONT", self.pid());
        self.stopped = false;
        at
    }
}

fn signal(name: &str, pid: u32) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill -{name} {pid}: {e}"));
    assert!(status.success(), "kill -{name} {pid}: {status}");
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL ends a stopped process too; continuing it first means
            // that, should the kill fail, the server is not left stopped with
            // its port and its clients' sockets held.
            if self.stopped {
                let _ = Command::new("kill")
                    .args(["-CONT", &child.id().to_string()])
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
