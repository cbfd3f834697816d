//! Starting a service's event workers beside its HTTP server: the outbox relay
//! and (for consuming services) the consumer, named after the service.

use std::sync::Arc;

use platform::auth::JwtVerifier;
use platform::config::ServiceConfig;
use platform::service::ServiceBuilder;
use platform::workers::Workers;
use sqlx::PgPool;

use crate::consumer::{check_routes, ConsumerConfig, Handler};
use crate::outbox::OutboxStore;
use crate::relay::RelayConfig;
use crate::topology::Topology;
use crate::trail::Inspector;

/// Where a service's event workers connect, and as whom.
#[derive(Debug, Clone)]
pub struct EventWorkers {
    /// The broker URL.
    pub amqp_url: String,
    /// The topology prefix (empty in production; tests isolate themselves).
    pub prefix: String,
    /// The service (`orders`, ...): names its connections and selects its queue.
    pub service: String,
    /// Whether this process runs them (`*_EVENT_WORKERS`).
    pub enabled: bool,
}

impl EventWorkers {
    /// Workers of `service` on `amqp_url` under `prefix`.
    pub fn new(amqp_url: &str, prefix: &str, service: &str) -> Self {
        EventWorkers {
            amqp_url: amqp_url.into(),
            prefix: prefix.into(),
            service: service.into(),
            enabled: true,
        }
    }

    /// Workers of `service` as its configuration says (broker, prefix).
    pub fn for_service(config: &ServiceConfig, service: &str) -> Self {
        EventWorkers {
            enabled: config.event_workers,
            ..Self::new(config.amqp_url(), &config.events_prefix, service)
        }
    }

    /// Unless this process runs no event workers: starts the relay publishing
    /// `outbox` and, for a consuming service, the consumer applying events
    /// with `handler`, which must apply exactly what the service's queue
    /// receives ([`check_routes`]).
    pub fn start(
        &self,
        service: &mut ServiceBuilder,
        outbox: Arc<dyn OutboxStore>,
        handler: Option<Arc<dyn Handler>>,
    ) -> anyhow::Result<()> {
        if let Some(handler) = &handler {
            check_routes(&self.service, handler.as_ref())?;
        }
        if !self.enabled {
            return Ok(());
        }
        self.spawn_relay(service.workers(), outbox);
        if let Some(handler) = handler {
            self.spawn_consumer(service.workers(), handler);
        }
        Ok(())
    }

    /// The service's part of the saga inspector, over its database `pool`.
    pub fn inspector(&self, pool: PgPool) -> Inspector {
        Inspector::new(pool, &self.amqp_url, &self.prefix, &self.service)
    }

    /// The service's saga inspector routes (`/internal/v1/saga/*`, admins
    /// only) over its database `pool`.
    pub fn trail_routes(&self, pool: PgPool, verifier: Arc<JwtVerifier>) -> axum::Router {
        crate::trail::routes(self.inspector(pool), verifier)
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
