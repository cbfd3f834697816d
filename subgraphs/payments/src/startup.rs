//! Builds the service from its configuration: the database, the use cases, the
//! GraphQL schema, REST routes, health checks, the bound server and the event
//! workers (outbox relay and the consumer of `payment.requested` /
//! `order.cancelled`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use events::outbox::PgOutbox;
use events::workers::EventWorkers;
use platform::auth::JwtVerifier;
use platform::http::{graphql_router, health_router, postgres_ready, with_common_layers, Server};
use platform::workers::Workers;

use crate::config::Config;
use crate::graphql::{build_schema, PaymentsSchema};
use crate::payments::Payments;
use crate::provider::{CardProvider, SimulatedProvider};
use crate::saga::PaymentHandler;
use crate::store::{PaymentStore, MIGRATOR};

/// A built, bound service.
pub struct Service {
    server: Server,
    workers: Workers,
}

impl Service {
    /// Connects (creating and migrating the database), builds and binds.
    pub async fn build(config: Config) -> anyhow::Result<Service> {
        Self::build_with_provider(config, Arc::new(SimulatedProvider::default())).await
    }

    /// Like [`Service::build`] with another card provider.
    pub async fn build_with_provider(
        config: Config,
        provider: Arc<dyn CardProvider>,
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
        let store = PaymentStore::new(pool.clone());
        let payments = Payments::new(
            store,
            provider,
            Duration::from_millis(config.provider_timeout_ms),
        );
        let saga = events::trail::Inspector::new(
            pool.clone(),
            &config.amqp_url,
            &config.events_prefix,
            "payments",
        );
        let router = build_router(
            build_schema(payments.clone()),
            payments.clone(),
            events::trail::routes(saga, verifier.clone()),
            verifier,
            pool.clone(),
        );
        let server = Server::bind(&config.host, config.port, router).await?;
        let mut workers = Workers::new();
        platform::metrics::spawn_pool_metrics(&mut workers, &pool);
        if config.event_workers {
            let events = EventWorkers::new(&config.amqp_url, &config.events_prefix, "payments");
            events.spawn_relay(&mut workers, Arc::new(PgOutbox::new(pool)));
            events.spawn_consumer(
                &mut workers,
                Arc::new(PaymentHandler::new(payments.clone())),
            );
            if config.reconcile_every_ms > 0 {
                let every = Duration::from_millis(config.reconcile_every_ms);
                let after = Duration::from_millis(config.in_doubt_after_ms);
                workers.spawn("charge-reconciler", move |ctx| {
                    reconcile_charges_in_doubt(payments.clone(), every, after, ctx.token)
                });
            }
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

/// The service's routes: `/graphql`, `/health/*`, `/api/v1/payments...` and
/// the saga inspector's `/internal/v1/saga/*` (`saga`).
pub fn build_router(
    schema: PaymentsSchema,
    payments: Payments,
    saga: Router,
    verifier: Arc<JwtVerifier>,
    pool: sqlx::PgPool,
) -> Router {
    with_common_layers(
        graphql_router(schema, verifier.clone())
            .merge(health_router(postgres_ready(pool)))
            .merge(crate::rest::routes(payments, verifier))
            .merge(saga),
    )
}

/// Every `every`, settles charges in doubt on the provider's record (see
/// [`Payments::reconcile_in_doubt`]) until `token` is cancelled.
async fn reconcile_charges_in_doubt(
    payments: Payments,
    every: Duration,
    in_doubt_after: Duration,
    token: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        match payments.reconcile_in_doubt(in_doubt_after, 100).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(settled = n, "charges in doubt reconciled"),
            Err(e) => tracing::warn!(error = %e, "reconciling charges in doubt failed"),
        }
    }
}
