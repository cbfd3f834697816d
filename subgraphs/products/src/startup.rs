//! Builds the service from its configuration: the store adapter chosen by the
//! database URL's scheme, the optional demo seed, the GraphQL schema, the REST
//! routes, health checks, and the bound HTTP server.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use platform::auth::JwtVerifier;
use platform::http::{
    graphql_router, health_router, postgres_ready, with_common_layers, ReadinessCheck, Server,
};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::graphql::{build_schema, ProductsSchema};
use crate::saga::{release_expired_reservations, StockHandler};
use crate::store::mongo::MongoCatalogStore;
use crate::store::postgres::PgCatalogStore;
use crate::store::{CatalogStore, StockLedger};
use events::workers::EventWorkers;
use platform::workers::Workers;

/// A built, bound service ready to run.
pub struct Service {
    server: Server,
    workers: Workers,
}

/// What the router is built from.
#[derive(Clone)]
pub struct AppState {
    /// The GraphQL schema.
    pub schema: ProductsSchema,
    /// The use cases (for REST).
    pub catalog: Catalog,
    /// Verifies bearer tokens.
    pub verifier: Arc<JwtVerifier>,
    /// `/health/ready`'s check of the store.
    pub ready: ReadinessCheck,
    /// The saga inspector's routes (`/internal/v1/saga/*`; PostgreSQL only:
    /// on MongoDB the orders service reports products' part as unavailable).
    pub saga: Option<Router>,
}

impl Service {
    /// Connects the store (creating and migrating a PostgreSQL database, or the
    /// MongoDB indexes), seeds when asked, and binds the port.
    pub async fn build(config: Config) -> anyhow::Result<Service> {
        let verifier = Arc::new(
            JwtVerifier::from_pem_or_file(
                config.jwt_public_key_pem.as_deref(),
                &config.jwt_public_key_path,
            )?
            .with_jwks_url(config.jwks_url.as_deref()),
        );
        let (store, ledger, ready, pool) = connect_store(&config).await?;
        if config.seed_demo {
            crate::seed::seed_if_empty(store.as_ref()).await?;
        }
        let catalog = Catalog::new(store);
        let schema = build_schema(
            catalog.clone(),
            Duration::from_millis(config.loader_delay_ms),
        );
        let saga = pool.as_ref().map(|pool| {
            let inspector = events::trail::Inspector::new(
                pool.clone(),
                &config.amqp_url,
                &config.events_prefix,
                "products",
            );
            events::trail::routes(inspector, verifier.clone())
        });
        let router = build_router(AppState {
            schema,
            catalog,
            verifier,
            ready,
            saga,
        });
        let server = Server::bind(&config.host, config.port, router).await?;
        let mut workers = if config.event_workers {
            start_event_workers(&config, ledger)
        } else {
            Workers::new()
        };
        if let Some(pool) = &pool {
            platform::metrics::spawn_pool_metrics(&mut workers, pool);
        }
        Ok(Service { server, workers })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server
            .run_with_workers(self.workers, platform::http::shutdown_signal())
            .await
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.server.run_with_workers(self.workers, shutdown).await
    }
}

/// A products store: the catalogue, the stock ledger, the readiness check
/// and, on PostgreSQL, the pool (for its metrics).
pub type Store = (
    Arc<dyn CatalogStore>,
    Arc<dyn StockLedger>,
    ReadinessCheck,
    Option<sqlx::PgPool>,
);

/// Opens the store the URL's scheme names, with its readiness check.
pub async fn connect_store(config: &Config) -> anyhow::Result<Store> {
    if config.uses_mongodb() {
        let mongo = Arc::new(
            MongoCatalogStore::connect(&config.database_url, &config.mongodb_database).await?,
        );
        let store: Arc<dyn CatalogStore> = mongo.clone();
        let ledger: Arc<dyn StockLedger> = mongo;
        tracing::info!(database = %config.mongodb_database, "using MongoDB");
        let ping = store.clone();
        let ready: ReadinessCheck = Arc::new(move || {
            let store = ping.clone();
            Box::pin(async move { store.ping().await.map_err(|e| format!("mongodb: {e}")) })
        });
        Ok((store, ledger, ready, None))
    } else {
        let store = Arc::new(
            PgCatalogStore::connect(&config.database_url, config.db_max_connections).await?,
        );
        let ready = postgres_ready(store.pool().clone());
        let pool = store.pool().clone();
        Ok((store.clone(), store, ready, Some(pool)))
    }
}

/// Starts the outbox relay, the consumer of order events and the expiry of
/// lapsed reservations.
fn start_event_workers(config: &Config, ledger: Arc<dyn StockLedger>) -> Workers {
    let mut workers = Workers::new();
    let events = EventWorkers::new(&config.amqp_url, &config.events_prefix, "products");
    events.spawn_relay(&mut workers, ledger.outbox());
    let ttl = Duration::from_secs(config.reservation_ttl_secs);
    events.spawn_consumer(
        &mut workers,
        Arc::new(StockHandler::new(ledger.clone(), ttl)),
    );
    let every = Duration::from_millis(config.reservation_sweep_ms);
    workers.spawn("reservation-expiry", move |ctx| {
        release_expired_reservations(ledger.clone(), every, ctx.token)
    });
    workers
}

/// The service's routes: `/graphql`, `/health/*` and `/api/v1/...`.
pub fn build_router(state: AppState) -> Router {
    with_common_layers(
        graphql_router(state.schema, state.verifier.clone())
            .merge(health_router(state.ready))
            .merge(crate::rest::admin_routes(
                state.catalog.clone(),
                state.verifier,
            ))
            .merge(crate::rest::routes(state.catalog))
            .merge(state.saga.unwrap_or_default()),
    )
}
