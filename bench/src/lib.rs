//! Shared pieces of the runtime benchmarks (`idle-connections` and
//! `runtime-load`): process measurements from `/proc`, child processes
//! driven over a line protocol, `key=value` result lines, the client side
//! of the `relay` protocol, and the figures and targets a `scripts/bench`
//! run is checked against.

pub mod child;
pub mod contenders;
pub mod figures;
pub mod measure;
pub mod net;
pub mod record;
pub mod targets;
