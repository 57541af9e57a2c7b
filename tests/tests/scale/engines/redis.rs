//! Redis: the shared redis-server of `scripts/services` (a key prefix per
//! deployment) for the cases, and a redis-server of the test's own,
//! without persistence, for the outage; Redis Cluster likewise, the shared
//! cluster of `scripts/services` and a cluster of the test's own (six
//! nodes, all killed and started again, without data).

use tagwire::server::backend::{BoxFuture, HistoryWindow, PresenceConfig};
use tagwire_tests::engine::EngineSpec;
use tagwire_tests::redis_cluster::RedisCluster;
use tagwire_tests::redis_server::{Persistence, RedisServer};
use tagwire_tests::services::{redis_cluster_urls, redis_url};

use super::{Deployment, Engine, Nodes, PrivateEngine, unique};

/// The shared redis-server.
pub struct Redis;

/// A redis-server of the test's own.
pub struct OwnRedis(RedisServer);

/// The shared Redis Cluster.
pub struct Cluster;

/// A Redis Cluster of the test's own.
pub struct OwnCluster(RedisCluster);

fn nodes(
    spec: EngineSpec,
    test: &str,
    window: HistoryWindow,
    presence: PresenceConfig,
) -> Box<dyn Deployment> {
    Box::new(Nodes {
        spec,
        prefix: unique(test),
        window,
        presence,
    })
}

impl Engine for Cluster {
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        nodes(
            EngineSpec::RedisCluster(redis_cluster_urls()),
            test,
            window,
            presence,
        )
    }
}

impl Engine for OwnCluster {
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        nodes(
            EngineSpec::RedisCluster(self.0.urls()),
            test,
            window,
            presence,
        )
    }
}

impl PrivateEngine for OwnCluster {
    fn kill(&mut self) {
        self.0.kill_all();
    }
    fn start(&mut self) -> BoxFuture<'_, ()> {
        tokio::task::block_in_place(|| self.0.restart_all());
        Box::pin(async {})
    }
    fn keeps_data(&self) -> bool {
        false
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

mod cluster_suite {
    crate::conformance!(super::Cluster);
    crate::conformance_presence!(super::Cluster);
    crate::conformance_outage!(super::OwnCluster(tokio::task::block_in_place(
        super::RedisCluster::start
    )));
}
