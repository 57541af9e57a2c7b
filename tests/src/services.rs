//! What `scripts/services start` provides to the scale-out tests
//! (docs/SCALE.md): read from the environment its `target/services/env`
//! exports. A test that needs a service fails without it, saying what to
//! run: it never skips.

/// The value of `name` (`TAGWIRE_REDIS_URL`, `TAGWIRE_HAPROXY`).
///
/// # Panics
///
/// When `name` is unset or empty, with the command that sets it.
#[must_use]
pub fn service(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: run `scripts/services start` and `. target/services/env` first \
             (it starts a loopback redis-server and installs haproxy; see docs/SCALE.md)"
        ),
    }
}

/// The loopback redis-server's URL (`TAGWIRE_REDIS_URL`).
///
/// # Panics
///
/// As [`service`].
#[must_use]
pub fn redis_url() -> String {
    service("TAGWIRE_REDIS_URL")
}

/// The loopback Redis Cluster's node URLs (`TAGWIRE_REDIS_CLUSTER_URLS`,
/// comma separated: six nodes, three primaries and their replicas).
///
/// # Panics
///
/// As [`service`].
#[must_use]
pub fn redis_cluster_urls() -> Vec<String> {
    service("TAGWIRE_REDIS_CLUSTER_URLS")
        .split(',')
        .map(str::to_owned)
        .collect()
}
