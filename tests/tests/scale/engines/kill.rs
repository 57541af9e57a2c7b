//! A node killed with SIGKILL, per engine: a `presence-node` process makes
//! members present in a room; a node in this process, subscribed to the
//! room, sees them join; the process is killed (no leave, no linger, its
//! connections closed by the kernel); its members must leave, in the room's
//! order, within the lease and two sweeps. Prints how long it took.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tagwire::server::backend::HistoryWindow;
use tagwire_tests::engine::{EngineSpec, connect};
use tagwire_tests::process::Proc;

use super::cases::quick_presence;
use super::{Recorder, eventually, unique};

const MEMBERS: usize = 3;

/// Runs the case against `spec`; returns the time from the kill to the
/// last leave seen.
pub async fn members_of_a_killed_node_leave(spec: EngineSpec) -> Duration {
    let config = quick_presence();
    let prefix = unique("kill");
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("presence-kill");
    std::fs::create_dir_all(&logs).expect("log dir");
    let survivor = connect(&spec, &prefix, HistoryWindow::default(), config)
        .await
        .unwrap_or_else(|e| panic!("connecting to {spec}: {e}"));
    let seen = Recorder::attach(&survivor);
    survivor.subscribe("lobby").await.expect("subscribe");
    let mut command = Command::new(env!("CARGO_BIN_EXE_presence-node"));
    command.args([
        &spec.to_string(),
        "--prefix",
        &prefix,
        "--room",
        "lobby",
        "--members",
        &MEMBERS.to_string(),
        "--lease-ms",
        &config.lease.as_millis().to_string(),
        "--linger-ms",
        &config.linger.as_millis().to_string(),
    ]);
    let mut node = Proc::spawn(
        "presence-node",
        command,
        &logs.join(format!("{prefix}.log")),
    );
    node.wait_line("ready", Duration::from_secs(20)).await;
    eventually("the node's members to join", || {
        seen.presence("lobby").len() == MEMBERS
    })
    .await;
    // Several leases long, the live node's members stay.
    tokio::time::sleep(config.lease * 3).await;
    assert_eq!(
        seen.presence("lobby").len(),
        MEMBERS,
        "{:?}",
        seen.presence("lobby")
    );
    let killed = node.kill();
    eventually("the killed node's members to leave", || {
        seen.presence("lobby").len() == 2 * MEMBERS
    })
    .await;
    let took = killed.elapsed();
    let events = seen.presence("lobby");
    assert!(
        events[MEMBERS..].iter().all(|(_, kind, ..)| *kind == 'l'),
        "{events:?}"
    );
    let bound = config.lease + config.renew_every() * 2 + Duration::from_millis(500);
    assert!(
        took <= bound,
        "members left {took:?} after the kill, over {bound:?}"
    );
    assert!(
        survivor
            .presence_snapshot("lobby")
            .await
            .expect("snapshot")
            .members
            .is_empty()
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_members_of_a_node_killed_with_sigkill_leave_within_the_lease() {
    let _shared = crate::shared().await;
    let took =
        members_of_a_killed_node_leave(EngineSpec::Redis(tagwire_tests::services::redis_url()))
            .await;
    eprintln!("redis: members of a killed node removed {took:?} after SIGKILL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_members_of_a_node_killed_with_sigkill_leave_within_the_lease() {
    let _shared = crate::shared().await;
    let took = members_of_a_killed_node_leave(EngineSpec::RedisCluster(
        tagwire_tests::services::redis_cluster_urls(),
    ))
    .await;
    eprintln!("redis-cluster: members of a killed node removed {took:?} after SIGKILL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_members_of_a_node_killed_with_sigkill_leave_within_the_lease() {
    let _shared = crate::shared().await;
    let took =
        members_of_a_killed_node_leave(EngineSpec::Nats(tagwire_tests::services::nats_url())).await;
    eprintln!("nats: members of a killed node removed {took:?} after SIGKILL");
}
