//! Starting a service's event workers beside its HTTP server: the outbox relay
//! and (for consuming services) the consumer, named after the service.

use std::sync::Arc;

use platform::workers::Workers;

use crate::consumer::{ConsumerConfig, Handler};
use crate::outbox::OutboxStore;
use crate::relay::RelayConfig;
use crate::topology::Topology;

/// Where a service's event workers connect, and as whom.
#[derive(Debug, Clone)]
pub struct EventWorkers {
    /// The broker URL.
    pub amqp_url: String,
    /// The topology prefix (empty in production; tests isolate themselves).
    pub prefix: String,
    /// The service (`orders`, ...): names its connections and selects its queue.
    pub service: String,
}

impl EventWorkers {
    /// Workers of `service` on `amqp_url` under `prefix`.
    pub fn new(amqp_url: &str, prefix: &str, service: &str) -> Self {
        EventWorkers {
            amqp_url: amqp_url.into(),
            prefix: prefix.into(),
            service: service.into(),
        }
    }

    fn topology(&self) -> Topology {
        Topology::with_prefix(self.prefix.clone())
    }

    /// Starts the relay publishing `outbox`.
    pub fn spawn_relay(&self, workers: &mut Workers, outbox: Arc<dyn OutboxStore>) {
        let name = format!("{}{}-relay", self.prefix, self.service);
        let config = RelayConfig::new(&self.amqp_url, self.topology(), &name);
        workers.spawn("relay", move |ctx| {
            crate::relay::run(outbox.clone(), config.clone(), ctx)
        });
    }

    /// Starts the consumer of the service's queue.
    pub fn spawn_consumer(&self, workers: &mut Workers, handler: Arc<dyn Handler>) {
        let config = ConsumerConfig::new(&self.amqp_url, self.topology(), &self.service);
        workers.spawn("consumer", move |ctx| {
            crate::consumer::run(handler.clone(), config.clone(), ctx)
        });
    }
}
