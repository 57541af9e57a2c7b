//! Connecting a broadcast backend by engine name, for the test binaries that
//! run a node as a process of its own (`presence-node`) and the tests that
//! start them: one place that knows how each engine is configured.

use std::str::FromStr;
use std::sync::Arc;

use tagwire::server::backend::{
    Backend, BackendError, HistoryWindow, NatsBackend, NatsConfig, PresenceConfig, RedisBackend,
    RedisConfig,
};

/// An engine and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineSpec {
    /// A redis-server (`redis:URL`).
    Redis(String),
    /// A Redis Cluster (`redis-cluster:URL,URL,...`: any of its nodes).
    RedisCluster(Vec<String>),
    /// A nats-server with JetStream (`nats:URL`), memory storage.
    Nats(String),
}

impl FromStr for EngineSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        match spec.split_once(':') {
            Some(("redis", url)) => Ok(EngineSpec::Redis(url.to_owned())),
            Some(("redis-cluster", urls)) => Ok(EngineSpec::RedisCluster(
                urls.split(',').map(str::to_owned).collect(),
            )),
            Some(("nats", url)) => Ok(EngineSpec::Nats(url.to_owned())),
            _ => Err(format!(
                "`{spec}` names no engine: expected redis:URL, redis-cluster:URL,URL,... or nats:URL"
            )),
        }
    }
}

impl EngineSpec {
    /// The engine's name: `redis`, `redis-cluster`, `nats`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            EngineSpec::Redis(_) => "redis",
            EngineSpec::RedisCluster(_) => "redis-cluster",
            EngineSpec::Nats(_) => "nats",
        }
    }
}

impl std::fmt::Display for EngineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineSpec::Redis(url) => write!(f, "redis:{url}"),
            EngineSpec::RedisCluster(urls) => write!(f, "redis-cluster:{}", urls.join(",")),
            EngineSpec::Nats(url) => write!(f, "nats:{url}"),
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
    let config = match spec {
        EngineSpec::Redis(url) => RedisConfig::new(url.clone()),
        EngineSpec::RedisCluster(urls) => RedisConfig::cluster(urls.clone()),
        EngineSpec::Nats(url) => {
            let mut config = NatsConfig::new(url.clone())
                .with_prefix(prefix)
                .with_window(window)
                .with_presence(presence);
            config.reconnect_min = std::time::Duration::from_millis(20);
            config.reconnect_max = std::time::Duration::from_millis(200);
            return Ok(Arc::new(NatsBackend::connect(config).await?));
        }
    };
    let mut config = config
        .with_prefix(prefix)
        .with_window(window)
        .with_presence(presence);
    config.reconnect_max = std::time::Duration::from_millis(200);
    Ok(Arc::new(RedisBackend::connect(config).await?))
}
