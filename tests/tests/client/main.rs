//! The Rust client: under tokio's paused clock over in-memory pipes, over
//! loopback sockets, against real servers (routes, several nodes), and
//! across a protocol evolution (an old client, a new server). One test binary for what used to be one per file, so the
//! runtime is linked once instead of three times; each former file is a
//! module (`client_paused.rs` is `paused`, `evolution_e2e.rs` is
//! `evolution`).

mod evolution;
mod loopback;
mod nodes;
mod paused;
