//! The in-process backend: a deployment is one `LocalBackend`, its nodes
//! are `LocalBackend::node` handles.

use std::sync::Arc;

use tagwire::server::backend::{Backend, BoxFuture, HistoryWindow, LocalBackend, PresenceConfig};

use super::{Deployment, Engine};

pub struct Local;

struct Nodes(LocalBackend);

impl Engine for Local {
    fn deployment(
        &self,
        _test: &str,
        window: HistoryWindow,
        presence: PresenceConfig,
    ) -> Box<dyn Deployment> {
        Box::new(Nodes(LocalBackend::new(window).with_presence(presence)))
    }
}

impl Deployment for Nodes {
    fn node(&self) -> BoxFuture<'_, Arc<dyn Backend>> {
        let node: Arc<dyn Backend> = Arc::new(self.0.node());
        Box::pin(async move { node })
    }
}

mod suite {
    crate::conformance!(super::Local);
    crate::conformance_presence!(super::Local);
}
