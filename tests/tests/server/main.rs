//! The server on its own node: the drain, the heartbeat, guards, limits,
//! SSE, evolution, failing application code, signals, and the hostile-input
//! matrix. One test binary for what used to be one per file
//! (`server_*.rs`), so the runtime is linked once instead of eleven times;
//! each former file is a module (`server_drain.rs` is `drain`).
//!
//! What this process shares, and why that is safe:
//!
//! - The global allocator is `allocation-counter`'s (`hostile` and
//!   `evolution` measure heap through `hostile_support`). It counts per
//!   thread, and every measured test runs on a current-thread runtime of
//!   its own test thread, so the other tests' allocations never reach its
//!   counts; for them the allocator is the system's with a counter beside.
//! - `runtime_support::quiet_expected_panics` replaces the panic hook once
//!   for the process. It only keeps the relay handler's own panic text off
//!   stderr and passes every other panic to the default hook, so a test
//!   that did not ask for it loses nothing.

#[path = "../hostile_support/mod.rs"]
mod hostile_support;
#[path = "../runtime_support/mod.rs"]
mod runtime_support;

mod constraints;
mod drain;
mod e2e;
mod evolution;
mod failures;
mod guards;
mod heartbeat;
mod hostile;
mod inspector;
mod limits;
mod metrics;
mod signal;
mod sse;
