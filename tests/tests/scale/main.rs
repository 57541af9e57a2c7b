//! Scale-out: rooms across nodes on one backend, the Redis backend, a Redis
//! outage, deploys behind a load balancer, a node killed, and the HAProxy
//! configuration docs/SCALE.md gives. One test binary for what used to be
//! one per file, so the runtime is linked once instead of seven times; each
//! former file is a module (`server_scale.rs` is `rooms`).
//!
//! As separate binaries these ran one after another, never two at once,
//! and some rely on that: one takes the shared redis-server away, and the
//! deploys and outages measure timings that another test's load would
//! skew. So every test here first takes [`alone`] or [`shared`].
//!
//! `redis_outage` also sets a panic hook for the process that records any
//! panic outside the tests' own files, and each outage fails on what was
//! recorded: a panic inside the runtime during a test here that ran before
//! it fails that outage too. No other test runs beside an outage, and none
//! of them may panic inside the runtime either.

#[path = "../runtime_support/mod.rs"]
mod runtime_support;

mod backend_redis;
mod backend_redis_cluster;
mod docs_haproxy;
mod engines;
mod node_kill;
mod presence;
mod presence_redis;
mod redis_outage;
mod rolling_deploy;
mod rooms;
mod runtime_deploy;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Held for writing by a test that must run with no other test of this
/// binary, for reading by every other test. tokio's: held across awaits,
/// and each test has its own runtime.
static MACHINE: RwLock<()> = RwLock::const_new(());

/// For a test that takes the shared redis-server away, or whose timings
/// another test's load would skew: it runs with no other test of this
/// binary.
pub async fn alone() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().await
}

/// For every other test: it runs beside the others that share, never beside
/// one that runs [`alone`].
pub async fn shared() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().await
}

/// [`shared`] for a test without a runtime.
pub fn shared_blocking() -> RwLockReadGuard<'static, ()> {
    MACHINE.blocking_read()
}
