//! Redis: the shared redis-server of `scripts/services` (a key prefix per
//! deployment) for the cases, and a redis-server of the test's own,
//! without persistence, for the outage; Redis Cluster likewise, the shared
//! cluster of `scripts/services` and a cluster of the test's own (six
//! nodes, all killed and started again, without data).

use tagwire::server::backend::BoxFuture;
use tagwire_tests::engine::EngineSpec;
use tagwire_tests::redis_cluster::RedisCluster;
use tagwire_tests::redis_server::{Persistence, RedisServer};
use tagwire_tests::services::{redis_cluster_urls, redis_url};

use super::{PrivateEngine, Reached};

/// The shared redis-server.
pub struct Redis;

/// A redis-server of the test's own.
pub struct OwnRedis(RedisServer);

/// The shared Redis Cluster.
pub struct Cluster;

/// A Redis Cluster of the test's own.
pub struct OwnCluster(RedisCluster);

impl Reached for Cluster {
    fn spec(&self) -> EngineSpec {
        EngineSpec::RedisCluster(redis_cluster_urls())
    }
}

impl Reached for OwnCluster {
    fn spec(&self) -> EngineSpec {
        EngineSpec::RedisCluster(self.0.urls())
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

impl Reached for Redis {
    fn spec(&self) -> EngineSpec {
        EngineSpec::Redis(redis_url())
    }
}

impl Reached for OwnRedis {
    fn spec(&self) -> EngineSpec {
        EngineSpec::Redis(self.0.url())
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
