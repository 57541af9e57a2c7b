//! Child processes the scale-out tests start (scale-node, haproxy): each is
//! killed and reaped when its [`Proc`] is dropped, so a failing test leaves
//! nothing running, and its stdout lines are kept with the moment each was
//! read, since the tests time phases by what the nodes print.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Locks `mutex`, also when a panicking thread poisoned it: the tests'
/// shared records stay readable for the failure message.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A loopback port nothing listens on now.
///
/// # Panics
///
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A child process killed (SIGKILL) and reaped when dropped, with its stdout
/// lines and when each was read; its stderr goes to a log file.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Proc {
    /// Starts `command` with stdout read by a thread of its own and stderr
    /// written to `log`.
    ///
    /// # Panics
    ///
    /// When the log cannot be created or the process cannot start.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Proc {
        let log = std::fs::File::create(log)
            .unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().expect("piped stdout");
        // Ends when the process does (its stdout closes).
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lock(&sink).push((Instant::now(), line));
            }
        });
        Proc {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    /// The name the failure messages use.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the first line starting with `prefix` was read.
    #[must_use]
    pub fn line(&self, prefix: &str) -> Option<Instant> {
        lock(&self.lines)
            .iter()
            .find(|(_, l)| l.starts_with(prefix))
            .map(|(at, _)| *at)
    }

    /// Waits for a line starting with `prefix`.
    ///
    /// # Panics
    ///
    /// When none was printed within `limit`.
    pub async fn wait_line(&self, prefix: &str, limit: Duration) -> Instant {
        let start = Instant::now();
        loop {
            if let Some(at) = self.line(prefix) {
                return at;
            }
            assert!(
                start.elapsed() < limit,
                "{} printed no `{prefix}` within {limit:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends SIGTERM: a node drains.
    ///
    /// # Panics
    ///
    /// When `kill` fails.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM {}", self.name);
    }

    /// Sends SIGKILL and reaps the process: a crash, nothing runs after the
    /// signal. Returns when the signal was sent.
    ///
    /// # Panics
    ///
    /// When the process had already exited or cannot be reaped.
    pub fn kill(&mut self) -> Instant {
        assert!(
            matches!(self.child.try_wait(), Ok(None)),
            "{} is not running",
            self.name
        );
        let at = Instant::now();
        self.child
            .kill()
            .unwrap_or_else(|e| panic!("SIGKILL to {}: {e}", self.name));
        self.child
            .wait()
            .unwrap_or_else(|e| panic!("reaping {}: {e}", self.name));
        at
    }

    /// Waits for the process to exit with status 0; returns when it was seen
    /// gone.
    ///
    /// # Panics
    ///
    /// When it exits with another status, or still runs after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> Instant {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "{} exited with {status}", self.name);
                    return Instant::now();
                }
                Ok(None) => {}
                Err(e) => panic!("waiting for {}: {e}", self.name),
            }
            assert!(
                start.elapsed() < limit,
                "{} still running after {limit:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Already exited (and reaped) is fine: both calls then do nothing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
