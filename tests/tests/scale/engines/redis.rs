//! Redis: the shared redis-server of `scripts/services` (a key prefix per
//! deployment) for the cases, and a redis-server of the test's own,
//! without persistence, for the outage.

use std::sync::Arc;

use tagwire::server::backend::{Backend, BoxFuture, HistoryWindow, PresenceConfig};
use tagwire_tests::engine::{EngineSpec, connect};
use tagwire_tests::redis_server::{Persistence, RedisServer};
use tagwire_tests::services::redis_url;

use super::{Deployment, Engine, PrivateEngine, unique};

/// The shared redis-server.
pub struct Redis;

/// A redis-server of the test's own.
pub struct OwnRedis(RedisServer);

/// Nodes of one engine under one prefix: what every engine of the suite
/// that runs as a process makes its deployments of.
pub struct Nodes {
    pub spec: EngineSpec,
    pub prefix: String,
    pub window: HistoryWindow,
    pub presence: PresenceConfig,
}

impl Deployment for Nodes {
    fn node(&self) -> BoxFuture<'_, Arc<dyn Backend>> {
        Box::pin(async move {
            connect(&self.spec, &self.prefix, self.window, self.presence)
                .await
                .unwrap_or_else(|error| panic!("connecting to {}: {error}", self.spec))
        })
    }
}

impl Engine for Redis {
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        Box::new(Nodes {
            spec: EngineSpec::Redis(redis_url()),
            prefix: unique(test),
            window,
            presence,
        })
    }
}

impl Engine for OwnRedis {
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        Box::new(Nodes {
            spec: EngineSpec::Redis(self.0.url()),
            prefix: unique(test),
            window,
            presence,
        })
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

mod suite {
    crate::conformance!(super::Redis);
    crate::conformance_presence!(super::Redis);
    crate::conformance_outage!(super::OwnRedis(
        tagwire_tests::redis_server::RedisServer::start(super::Persistence::None)
    ));
}
