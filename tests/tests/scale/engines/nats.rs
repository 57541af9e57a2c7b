//! NATS JetStream: the shared nats-server of `scripts/services` (a prefix
//! per deployment) for the cases, and a nats-server of the test's own for
//! the outage (memory storage, the backend's default: it comes back empty).

use tagwire::server::backend::BoxFuture;
use tagwire_tests::engine::EngineSpec;
use tagwire_tests::nats_server::NatsServer;
use tagwire_tests::services::nats_url;

use super::{PrivateEngine, Reached};

/// The shared nats-server.
pub struct Nats;

/// A nats-server of the test's own.
pub struct OwnNats(NatsServer);

impl Reached for Nats {
    fn spec(&self) -> EngineSpec {
        EngineSpec::Nats(nats_url())
    }
}

impl Reached for OwnNats {
    fn spec(&self) -> EngineSpec {
        EngineSpec::Nats(self.0.url())
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
