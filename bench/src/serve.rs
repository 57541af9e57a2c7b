//! One measurement (`idle-connections serve`): this process runs the server
//! under test, so the counting allocator sees only server-side memory, and
//! starts a client process that opens the connections.

use std::error::Error;
use std::io::{BufRead, BufReader, Lines, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ServeArgs;
use crate::heap::heap_bytes;
use crate::report::Measurement;
use tagwire_bench::contenders;
use tagwire_bench::measure::{cpu_time, open_files_limit, rss_bytes};
use tagwire_bench::net::listen;

/// File descriptors a process needs beyond one per connection.
const SPARE_FILES: u64 = 64;

/// How long the server may take to count every connection the clients opened.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(60);

pub fn run(args: &ServeArgs) -> Result<Measurement, Box<dyn Error>> {
    check_open_files(args.connections)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ping_interval = Duration::from_millis(args.ping_interval_ms);
    let (server, addr) = rt.block_on(async {
        let listener = listen()?;
        let addr = listener.local_addr()?;
        let server = contenders::start(args.contender, ping_interval, listener)?;
        Ok::<_, Box<dyn Error>>((server, addr))
    })?;
    // Let the runtime's workers start and park before the baseline reading.
    std::thread::sleep(Duration::from_millis(200));
    let heap_before = heap_bytes();
    let rss_before = rss_bytes()?;

    let mut clients = Clients::spawn(args, addr)?;
    let connect_secs = clients.wait_ready()?;
    let deadline = Instant::now() + ACCEPT_TIMEOUT;
    while server.connections() < args.connections && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Connections opened at once ping in bursts, one per interval: start
    // the window half an interval after them, so that a window of whole
    // intervals holds whole bursts.
    let mut settle = args.timing.settle_secs;
    if args.contender.pings() && connect_over_secs(args) == 0.0 {
        settle = settle.max(args.ping_interval_ms as f64 / 2000.0 - connect_secs);
    }
    std::thread::sleep(Duration::from_secs_f64(settle));
    let open_after_connect = server.connections();
    let heap_connected = heap_bytes();
    let rss_connected = rss_bytes()?;

    let (_, pongs_before, _) = clients.stats()?;
    let cpu_before = cpu_time()?;
    let window_start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(args.timing.window_secs));
    let cpu_after = cpu_time()?;
    let window = window_start.elapsed();
    let (_, pongs_after, closed) = clients.stats()?;
    let open_after_window = server.connections();
    let heap_after_window = heap_bytes();
    let rss_after_window = rss_bytes()?;

    clients.finish()?;
    drop(server);
    rt.shutdown_timeout(Duration::from_secs(1));

    let to_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    Ok(Measurement {
        contender: args.contender.name().to_owned(),
        ping_interval_ms: if args.contender.pings() {
            args.ping_interval_ms
        } else {
            0
        },
        connections: to_u64(args.connections),
        open_after_connect: to_u64(open_after_connect),
        open_after_window: to_u64(open_after_window),
        heap_before: to_u64(heap_before),
        heap_connected: to_u64(heap_connected),
        heap_after_window: to_u64(heap_after_window),
        rss_before,
        rss_connected,
        rss_after_window,
        cpu_us: to_u64_micros(cpu_after.saturating_sub(cpu_before)),
        window_us: to_u64_micros(window),
        pongs_in_window: pongs_after.saturating_sub(pongs_before),
        closed_by_server: closed,
        connect_secs,
        connect_over_secs: connect_over_secs(args),
    })
}

/// Seconds over which the clients open their connections: as asked, or
/// one ping interval (capped at the window) for the contenders that ping.
fn connect_over_secs(args: &ServeArgs) -> f64 {
    args.client.connect_over_secs.unwrap_or_else(|| {
        if args.contender.pings() {
            (args.ping_interval_ms as f64 / 1000.0).min(args.timing.window_secs)
        } else {
            0.0
        }
    })
}

fn to_u64_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn check_open_files(connections: usize) -> Result<(), Box<dyn Error>> {
    let needed = u64::try_from(connections)? + SPARE_FILES;
    match open_files_limit()? {
        Some(limit) if limit < needed => Err(format!(
            "{connections} connections need about {needed} open files per process, but the \
             limit is {limit}: raise it with `ulimit -n` (see `ulimit -Hn` for the ceiling)"
        )
        .into()),
        _ => Ok(()),
    }
}

/// The client process and its line protocol (see `clients.rs`).
struct Clients {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Clients {
    fn spawn(args: &ServeArgs, server: SocketAddr) -> Result<Self, Box<dyn Error>> {
        let mut client = args.client.clone();
        client.connect_over_secs = Some(connect_over_secs(args));
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("clients")
            .arg("--server")
            .arg(server.to_string())
            .arg("--connections")
            .arg(args.connections.to_string());
        client.append_to(&mut command);
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("client process has no stdout")?;
        Ok(Clients {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    fn next_line(&mut self) -> Result<String, Box<dyn Error>> {
        Ok(self
            .lines
            .next()
            .ok_or("the client process ended early")??)
    }

    /// Waits for `ready`; returns how long the clients took to connect.
    fn wait_ready(&mut self) -> Result<f64, Box<dyn Error>> {
        let line = self.next_line()?;
        if let Some(ready) = line.strip_prefix("ready ") {
            let seconds = ready.split_whitespace().nth(1).unwrap_or("0");
            return Ok(seconds.parse()?);
        }
        Err(format!("client process: {line}").into())
    }

    /// `(open, pongs, closed)` as the client process counts them.
    fn stats(&mut self) -> Result<(u64, u64, u64), Box<dyn Error>> {
        let stdin = self.stdin.as_mut().ok_or("client stdin closed")?;
        writeln!(stdin, "stats")?;
        stdin.flush()?;
        let line = self.next_line()?;
        let rest = line
            .strip_prefix("stats ")
            .ok_or_else(|| format!("client process: expected stats, got {line}"))?;
        let mut values = [0u64; 3];
        for (slot, field) in values.iter_mut().zip(rest.split_whitespace()) {
            let (_, value) = field.split_once('=').ok_or("malformed stats line")?;
            *slot = value.parse()?;
        }
        Ok((values[0], values[1], values[2]))
    }

    /// Closes the client's stdin, which ends it, and waits for it.
    fn finish(mut self) -> Result<(), Box<dyn Error>> {
        drop(self.stdin.take());
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        // An early error return: do not leave the client process behind.
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
