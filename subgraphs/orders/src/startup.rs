//! Builds the service from its configuration: the database, the catalogue
//! client, the use cases, GraphQL, REST, health, the bound server and the event
//! workers (outbox relay and the consumer of stock and payment events).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use events::outbox::PgOutbox;
use events::trail::Inspector;
use events::workers::EventWorkers;
use platform::auth::JwtVerifier;
use platform::http::{graphql_router, health_router, postgres_ready, with_common_layers, Server};
use platform::workers::Workers;

use crate::catalog::{Catalog, ProductsClient};
use crate::config::Config;
use crate::graphql::{build_schema, OrdersSchema};
use crate::inspector::SagaInspector;
use crate::orders::Orders;
use crate::saga::OrderSagaHandler;
use crate::store::{OrderStore, MIGRATOR};

/// A built, bound service.
pub struct Service {
    server: Server,
    workers: Workers,
}

impl Service {
    /// Connects (creating and migrating the database), builds and binds.
    pub async fn build(config: Config) -> anyhow::Result<Service> {
        let catalog = Arc::new(ProductsClient::new(
            &config.products_url,
            Duration::from_millis(config.quote_timeout_ms),
            config.quote_retries,
        )?);
        Self::build_with_catalog(config, catalog).await
    }

    /// Like [`Service::build`] with another catalogue.
    pub async fn build_with_catalog(
        config: Config,
        catalog: Arc<dyn Catalog>,
    ) -> anyhow::Result<Service> {
        let verifier = Arc::new(
            JwtVerifier::from_pem_or_file(
                config.jwt_public_key_pem.as_deref(),
                &config.jwt_public_key_path,
            )?
            .with_jwks_url(config.jwks_url.as_deref()),
        );
        let pool = platform::db::connect_with(
            &config.database_url,
            &[&MIGRATOR, &events::MIGRATOR],
            config.db_max_connections,
        )
        .await?;
        let local = Inspector::new(
            pool.clone(),
            &config.amqp_url,
            &config.events_prefix,
            "orders",
        );
        let inspector = SagaInspector::new(
            local.clone(),
            &config.products_url,
            &config.payments_url,
            Duration::from_millis(config.quote_timeout_ms),
        )?;
        let orders = Orders::new(OrderStore::new(pool.clone()), catalog)
            .with_max_open_orders(config.max_open_orders)
            .with_inspector(inspector);
        let router = build_router(
            build_schema(orders.clone()),
            orders.clone(),
            events::trail::routes(local, verifier.clone()),
            verifier,
            pool.clone(),
        );
        let server = Server::bind(&config.host, config.port, router).await?;
        let mut workers = Workers::new();
        platform::metrics::spawn_pool_metrics(&mut workers, &pool);
        // Live order status: this replica hears every replica's changes.
        let (feed, listen_pool) = (orders.feed().clone(), pool.clone());
        workers.spawn("order-status-listener", move |ctx| {
            feed.clone().listen(listen_pool.clone(), ctx)
        });
        if config.event_workers {
            let events = EventWorkers::new(&config.amqp_url, &config.events_prefix, "orders");
            events.spawn_relay(&mut workers, Arc::new(PgOutbox::new(pool)));
            events.spawn_consumer(&mut workers, Arc::new(OrderSagaHandler::new(orders)));
        }
        Ok(Service { server, workers })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves until SIGTERM or Ctrl-C, then stops the workers.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server
            .run_with_workers(self.workers, platform::http::shutdown_signal())
            .await
    }

    /// Serves until `shutdown` resolves, then stops the workers.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.server.run_with_workers(self.workers, shutdown).await
    }
}

/// The service's routes: `/graphql`, `/health/*`, `/api/v1/orders...` and
/// the saga inspector's `/internal/v1/saga/*` (`saga`).
pub fn build_router(
    schema: OrdersSchema,
    orders: Orders,
    saga: Router,
    verifier: Arc<JwtVerifier>,
    pool: sqlx::PgPool,
) -> Router {
    with_common_layers(
        graphql_router(schema, verifier.clone())
            .merge(health_router(postgres_ready(pool)))
            .merge(crate::rest::routes(orders, verifier))
            .merge(saga),
    )
}
