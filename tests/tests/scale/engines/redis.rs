//! Redis: the shared redis-server of `scripts/services` (a key prefix per
//! deployment) for the cases, and a redis-server of the test's own,
//! without persistence, for the outage.

use tagwire::server::backend::{BoxFuture, HistoryWindow, PresenceConfig};
use tagwire_tests::engine::EngineSpec;
use tagwire_tests::redis_server::{Persistence, RedisServer};
use tagwire_tests::services::redis_url;

use super::{Deployment, Engine, Nodes, PrivateEngine, unique};

/// The shared redis-server.
pub struct Redis;

/// A redis-server of the test's own.
pub struct OwnRedis(RedisServer);

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
