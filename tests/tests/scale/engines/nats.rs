//! NATS JetStream: the shared nats-server of `scripts/services` (a prefix
//! per deployment) for the cases, and a nats-server of the test's own for
//! the outage (memory storage, the backend's default: it comes back empty).

use tagwire::server::backend::{BoxFuture, HistoryWindow, PresenceConfig};
use tagwire_tests::engine::EngineSpec;
use tagwire_tests::nats_server::NatsServer;
use tagwire_tests::services::nats_url;

use super::{Deployment, Engine, Nodes, PrivateEngine, unique};

/// The shared nats-server.
pub struct Nats;

/// A nats-server of the test's own.
pub struct OwnNats(NatsServer);

impl Engine for Nats {
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        Box::new(Nodes {
            spec: EngineSpec::Nats(nats_url()),
            prefix: unique(test),
            window,
            presence,
        })
    }
}

impl Engine for OwnNats {
    fn deployment(
        &self,
        test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        Box::new(Nodes {
            spec: EngineSpec::Nats(self.0.url()),
            prefix: unique(test),
            window,
            presence,
        })
    }
}

impl PrivateEngine for OwnNats {
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
    crate::conformance!(super::Nats);
    crate::conformance_presence!(super::Nats);
    crate::conformance_outage!(super::OwnNats(
        tagwire_tests::nats_server::NatsServer::start()
    ));
}
