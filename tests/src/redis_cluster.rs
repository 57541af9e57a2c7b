//! A Redis Cluster of one test's own: six redis-server processes (three
//! primaries, three replicas, `cluster-node-timeout` 1000 ms) made with
//! `redis-cli --cluster create`, so that a test can kill a primary with
//! SIGKILL, watch its replica take over, and start the killed node again
//! (it rejoins as a replica), without touching the shared cluster of
//! `scripts/services`.
//!
//! Every node is a [`RedisServer`]: dropping the cluster kills and reaps
//! them all and removes their directories, on every path out of a test.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::redis_server::RedisServer;

/// A running Redis Cluster of the test's own (see the module documentation).
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts six nodes on free loopback ports, makes them a cluster with
    /// one replica per primary, and waits for `cluster_state:ok`.
    ///
    /// # Panics
    ///
    /// When redis-server or redis-cli is missing, or the cluster is not ok
    /// within 30 s.
    #[must_use]
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..6).map(|_| RedisServer::start_cluster_node()).collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| {
                panic!("redis-cli --cluster create: {e}; run `scripts/services start` first")
            });
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = RedisCluster { nodes };
        cluster.wait_ok(Duration::from_secs(30));
        cluster.wait_synced(Duration::from_secs(30));
        cluster
    }

    /// Waits until every running replica's link to its primary is up: a
    /// replica that never synced is not eligible to take over.
    ///
    /// # Panics
    ///
    /// When that takes longer than `limit`.
    pub fn wait_synced(&self, limit: Duration) {
        let start = Instant::now();
        loop {
            let synced = self.running().all(|node| {
                let info = self.cli(node.port(), &["INFO", "replication"]);
                info.contains("role:master") || info.contains("master_link_status:up")
            });
            if synced {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "replicas not synced within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every node's `redis://127.0.0.1:PORT`.
    #[must_use]
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// `redis-cli -p PORT args...` on the node at `port`: its reply.
    #[must_use]
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn running(&self) -> impl Iterator<Item = &RedisServer> {
        self.nodes.iter().filter(|node| node.is_running())
    }

    /// The port of the primary that serves `key`'s slot now, as a running
    /// node sees it.
    ///
    /// # Panics
    ///
    /// When no running node names one.
    #[must_use]
    pub fn primary_for(&self, key: &str) -> u16 {
        let any = self.running().next().expect("a running node").port();
        let slot: u16 = self
            .cli(any, &["CLUSTER", "KEYSLOT", key])
            .parse()
            .expect("CLUSTER KEYSLOT answers a slot");
        for line in self.cli(any, &["CLUSTER", "NODES"]).lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                matches!((from.parse::<u16>(), to.parse::<u16>()), (Ok(f), Ok(t)) if f <= slot && slot <= t)
            });
            if serves {
                let port = fields[1]
                    .split(['@', ':'])
                    .nth(1)
                    .and_then(|port| port.parse().ok())
                    .expect("ip:port@bus");
                return port;
            }
        }
        panic!("no primary serves slot {slot}")
    }

    /// The node's role: `master` or `slave`.
    #[must_use]
    pub fn role(&self, port: u16) -> String {
        self.cli(port, &["ROLE"])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    fn node(&mut self, port: u16) -> &mut RedisServer {
        self.nodes
            .iter_mut()
            .find(|node| node.port() == port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
    }

    /// SIGKILLs the node at `port` and reaps it; returns when the signal
    /// was sent.
    pub fn kill(&mut self, port: u16) -> Instant {
        self.node(port).kill()
    }

    /// The node's process id.
    #[must_use]
    pub fn pid(&mut self, port: u16) -> u32 {
        self.node(port).pid()
    }

    /// Starts the killed node at `port` again (with its nodes.conf: it
    /// rejoins, as a replica of the primary promoted meanwhile).
    ///
    /// # Panics
    ///
    /// As [`RedisServer::restart`].
    pub fn restart(&mut self, port: u16) -> Instant {
        self.node(port).restart()
    }

    /// SIGKILLs every node (the whole cluster gone at once).
    pub fn kill_all(&mut self) -> Instant {
        let at = Instant::now();
        for node in self.nodes.iter_mut().filter(|node| node.is_running()) {
            node.kill();
        }
        at
    }

    /// Starts every killed node again (each with its nodes.conf, without
    /// data) and waits until the cluster is ok and its replicas synced.
    ///
    /// # Panics
    ///
    /// As [`RedisCluster::start`].
    pub fn restart_all(&mut self) -> Instant {
        let at = Instant::now();
        for node in self.nodes.iter_mut().filter(|node| !node.is_running()) {
            node.restart();
        }
        self.wait_ok(Duration::from_secs(30));
        self.wait_synced(Duration::from_secs(30));
        at
    }

    /// Waits until every running node says `cluster_state:ok` and agrees
    /// that every slot is served; returns how long it took.
    ///
    /// # Panics
    ///
    /// When that takes longer than `limit`.
    pub fn wait_ok(&self, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let ok = self.running().all(|node| {
                let info = self.cli(node.port(), &["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
            });
            if ok {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "the cluster was not ok within {limit:?}: {}",
                self.running()
                    .next()
                    .map(|node| self.cli(node.port(), &["CLUSTER", "NODES"]))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
