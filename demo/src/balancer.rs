//! A TCP load balancer, like the one in front of a real deployment: it
//! health-checks every backend's `/health` and sends each new TCP connection
//! to the newest backend that is up. It knows nothing about Tagwire.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A backend is taken out after this many failed checks in a row.
const FAILURES_TO_GO_DOWN: u32 = 2;

#[derive(Debug)]
struct Backend {
    addr: SocketAddr,
    up: AtomicBool,
    removed: AtomicBool,
}

#[derive(Debug)]
pub struct Balancer {
    backends: Mutex<Vec<Arc<Backend>>>,
    check_every: Duration,
}

/// The status code of `GET /health`, or `None` when the backend does not answer.
async fn health(addr: SocketAddr) -> Option<u16> {
    let check = async {
        let mut tcp = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).await.ok()?;
        // "HTTP/1.1 200"
        std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(1), check)
        .await
        .ok()
        .flatten()
}

impl Balancer {
    pub fn new(check_every: Duration) -> Self {
        Balancer {
            backends: Mutex::new(Vec::new()),
            check_every,
        }
    }

    fn backends(&self) -> Vec<Arc<Backend>> {
        self.backends.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Starts health-checking `addr`; it takes connections once a check passes.
    pub fn add(&self, addr: SocketAddr) {
        let backend = Arc::new(Backend {
            addr,
            up: AtomicBool::new(false),
            removed: AtomicBool::new(false),
        });
        if let Ok(mut backends) = self.backends.lock() {
            backends.push(backend.clone());
        }
        let every = self.check_every;
        tokio::spawn(async move {
            let mut failures = 0;
            while !backend.removed.load(Ordering::SeqCst) {
                if health(backend.addr).await == Some(200) {
                    failures = 0;
                    backend.up.store(true, Ordering::SeqCst);
                } else {
                    failures += 1;
                    if failures >= FAILURES_TO_GO_DOWN {
                        backend.up.store(false, Ordering::SeqCst);
                    }
                }
                tokio::time::sleep(every).await;
            }
        });
    }

    /// Stops checking `addr` and sends it nothing more.
    pub fn remove(&self, addr: SocketAddr) {
        if let Ok(mut backends) = self.backends.lock() {
            backends.retain(|b| {
                let keep = b.addr != addr;
                if !keep {
                    b.removed.store(true, Ordering::SeqCst);
                    b.up.store(false, Ordering::SeqCst);
                }
                keep
            });
        }
    }

    pub fn is_up(&self, addr: SocketAddr) -> bool {
        self.backends()
            .iter()
            .any(|b| b.addr == addr && b.up.load(Ordering::SeqCst))
    }

    /// The newest backend that is up.
    fn pick(&self) -> Option<SocketAddr> {
        self.backends()
            .iter()
            .rev()
            .find(|b| b.up.load(Ordering::SeqCst))
            .map(|b| b.addr)
    }

    /// Accepts connections on `listener` and pipes each to a backend that is
    /// up; with none up, the connection is closed at once.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                // Out of file descriptors, say: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Some(addr) = self.pick() else {
                drop(inbound);
                continue;
            };
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(addr).await {
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    }
}
