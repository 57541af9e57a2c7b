//! Connecting a broadcast backend by engine name, for the test binaries that
//! run a node as a process of its own (`presence-node`) and the tests that
//! start them: one place that knows how each engine is configured.

use std::str::FromStr;
use std::sync::Arc;

use tagwire::server::backend::{
    Backend, BackendError, HistoryWindow, PresenceConfig, RedisBackend, RedisConfig,
};

/// An engine and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineSpec {
    /// A redis-server (`redis:URL`).
    Redis(String),
}

impl FromStr for EngineSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        match spec.split_once(':') {
            Some(("redis", url)) => Ok(EngineSpec::Redis(url.to_owned())),
            _ => Err(format!("`{spec}` names no engine: expected redis:URL")),
        }
    }
}

impl EngineSpec {
    /// The engine's name: `redis`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            EngineSpec::Redis(_) => "redis",
        }
    }
}

impl std::fmt::Display for EngineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineSpec::Redis(url) => write!(f, "redis:{url}"),
        }
    }
}

/// A connected node of `spec`, its keys (or streams) under `prefix`.
///
/// # Errors
///
/// When the first connection attempt fails.
pub async fn connect(
    spec: &EngineSpec,
    prefix: &str,
    window: HistoryWindow,
    presence: PresenceConfig,
) -> Result<Arc<dyn Backend>, BackendError> {
    Ok(match spec {
        EngineSpec::Redis(url) => {
            let mut config = RedisConfig::new(url.clone())
                .with_prefix(prefix)
                .with_window(window)
                .with_presence(presence);
            config.reconnect_max = std::time::Duration::from_millis(200);
            Arc::new(RedisBackend::connect(config).await?)
        }
    })
}
