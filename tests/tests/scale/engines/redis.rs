//! Redis: the shared redis-server of `scripts/services` (a key prefix per
//! deployment) for the cases, and a redis-server of the test's own,
//! without persistence, for the outage.

use std::sync::Arc;

use tagwire::server::backend::{
    Backend, BoxFuture, HistoryWindow, PresenceConfig, RedisBackend, RedisConfig,
};
use tagwire_tests::redis_server::{Persistence, RedisServer};
use tagwire_tests::services::redis_url;

use super::{Deployment, Engine, PrivateEngine, unique};

/// The shared redis-server.
pub struct Redis;

/// A redis-server of the test's own.
pub struct OwnRedis(RedisServer);

struct Nodes(RedisConfig);

fn deployment(
    url: String,
    test: &str,
    window: HistoryWindow,
    presence: PresenceConfig,
) -> Box<dyn Deployment> {
    let mut config = RedisConfig::new(url)
        .with_prefix(unique(test))
        .with_window(window)
        .with_presence(presence);
    config.reconnect_max = std::time::Duration::from_millis(200);
    Box::new(Nodes(config))
}

impl Engine for Redis {
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        deployment(redis_url(), test, window, presence)
    }
}

impl Engine for OwnRedis {
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        deployment(self.0.url(), test, window, presence)
    }
}

impl PrivateEngine for OwnRedis {
    fn kill(&mut self) {
        self.0.kill();
    }
    fn start(&mut self) -> BoxFuture<'_, ()> {
        self.0.restart();
        Box::pin(async {})
    }
    fn keeps_data(&self) -> bool {
        false
    }
}

impl Deployment for Nodes {
    fn node(&self) -> BoxFuture<'_, Arc<dyn Backend>> {
        Box::pin(async move {
            let backend = RedisBackend::connect(self.0.clone())
                .await
                .unwrap_or_else(|error| panic!("connecting to {}: {error}", self.0.url));
            let backend: Arc<dyn Backend> = Arc::new(backend);
            backend
        })
    }
}

mod suite {
    crate::conformance!(super::Redis);
    crate::conformance_presence!(super::Redis);
    crate::conformance_outage!(super::OwnRedis(
        tagwire_tests::redis_server::RedisServer::start(super::Persistence::None)
    ));
}
