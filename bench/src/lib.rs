//! Shared pieces of the runtime benchmarks (`idle-connections` and
//! `runtime-load`): process measurements from `/proc`, child processes
//! driven over a line protocol, `key=value` result lines, and the client
//! side of the `relay` protocol.

pub mod child;
pub mod contenders;
pub mod measure;
pub mod net;
pub mod record;
