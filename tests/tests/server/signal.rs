//! The standalone server (`Server::serve`, here the relay-server binary)
//! drains on SIGTERM and SIGINT and exits when its last client is gone.

use crate::runtime_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runtime_support::*;
use tagwire::control::Control;
use tokio::net::TcpStream;

struct Running {
    child: Child,
    addr: SocketAddr,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_relay-server"))
        .args(["127.0.0.1:0", "--grace-ms", "500", "--window-ms", "200"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start relay-server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Running {
        child,
        addr,
        stdout,
    }
}

async fn drains_on(signal: &str) {
    let mut server = start();
    let addr = server.addr;
    assert_eq!(health(addr).await, Some(200));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut peer = handshake(tcp, &format!("ws://{addr}/ws"), None)
        .await
        .expect("handshake");
    assert!(matches!(
        next(&mut peer).await,
        Got::Control(Control::Welcome(_))
    ));

    // Taken before `kill` runs, so the server's clock cannot start earlier.
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args([signal, &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    // The signal is handled asynchronously: poll briefly for the 503.
    let mut code = health(addr).await;
    while code != Some(503) && signalled.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        code = health(addr).await;
    }
    assert_eq!(code, Some(503));

    let notice = next_data(&mut peer).await;
    assert!(
        matches!(notice, Got::Control(Control::Drain(_))),
        "{notice:?}"
    );
    assert!(
        signalled.elapsed() >= Duration::from_millis(500),
        "notice before the grace period"
    );
    assert!(matches!(
        next_data(&mut peer).await,
        Got::Close(Some(4001), _)
    ));
    drop(peer);

    let exit = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().expect("wait");
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut server.stdout, &mut rest);
        (status, rest)
    })
    .await
    .expect("join");
    assert!(exit.0.success(), "{:?}", exit.0);
    assert_eq!(exit.1.trim(), "drained");
}

#[tokio::test]
async fn sigterm_starts_a_drain_and_the_process_exits_after_it() {
    drains_on("-TERM").await;
}

#[tokio::test]
async fn sigint_starts_a_drain_too() {
    drains_on("-INT").await;
}
