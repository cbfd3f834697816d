//! The service kit: what every service's start-up has in common. A service
//! names its own parts (schema, REST routes, store, workers) on a
//! [`ServiceBuilder`]; the kit adds GraphQL's endpoint, the health and metrics
//! routes, the common layers, the pool metrics, and binds a [`Service`] that
//! serves until stopped and then stops its workers.
//!
//! ```no_run
//! # async fn build(pool: sqlx::PgPool, verifier: std::sync::Arc<platform::auth::JwtVerifier>,
//! #                schema: async_graphql::Schema<async_graphql::EmptyMutation,
//! #                    async_graphql::EmptyMutation, async_graphql::EmptySubscription>)
//! #     -> anyhow::Result<platform::service::Service> {
//! platform::service::ServiceBuilder::new("127.0.0.1", 0, platform::config::Profile::Development)
//!     .graphql(schema, verifier)
//!     .routes(axum::Router::new())
//!     .postgres(&pool)
//!     .bind()
//!     .await
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Executor;
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::auth::JwtVerifier;
use crate::config::Profile;
use crate::http::{
    graphql_router, health_router, postgres_ready, shutdown_signal, with_common_layers,
    ReadinessCheck, Server,
};
use crate::workers::{WorkerContext, Workers};

/// A built, bound service with its workers.
pub struct Service {
    server: Server,
    workers: Workers,
}

impl Service {
    /// The port actually bound (tests bind port 0).
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves until SIGTERM or Ctrl-C, then stops the workers.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run(shutdown_signal()).await
    }

    /// Serves until `shutdown` resolves, then stops the workers (after the
    /// requests in flight are answered).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.server.run_with_workers(self.workers, shutdown).await
    }
}

/// Assembles a [`Service`] from its parts.
pub struct ServiceBuilder {
    host: String,
    port: u16,
    profile: Profile,
    routes: Router,
    ready: Option<ReadinessCheck>,
    workers: Workers,
}

impl ServiceBuilder {
    /// A service to listen on `host:port` (usually from
    /// [`ServiceConfig::builder`](crate::config::ServiceConfig::builder)).
    pub fn new(host: &str, port: u16, profile: Profile) -> Self {
        ServiceBuilder {
            host: host.to_string(),
            port,
            profile,
            routes: Router::new(),
            ready: None,
            workers: Workers::new(),
        }
    }

    /// Serves `schema` on `/graphql` (and GraphiQL outside production).
    pub fn graphql<E: Executor>(mut self, schema: E, verifier: Arc<JwtVerifier>) -> Self {
        let production = self.profile.is_production();
        self.routes = self
            .routes
            .merge(graphql_router(schema, verifier, production));
        self
    }

    /// Adds routes (REST, the JWKS, the saga inspector's).
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// The store is this PostgreSQL pool: `/health/ready` checks it and its
    /// gauges are exported.
    pub fn postgres(mut self, pool: &sqlx::PgPool) -> Self {
        crate::metrics::spawn_pool_metrics(&mut self.workers, pool);
        self.ready(postgres_ready(pool.clone()))
    }

    /// What `/health/ready` checks besides the workers.
    pub fn ready(mut self, check: ReadinessCheck) -> Self {
        self.ready = Some(check);
        self
    }

    /// The workers, to spawn more on.
    pub fn workers(&mut self) -> &mut Workers {
        &mut self.workers
    }

    /// Spawns a supervised worker (see [`Workers::spawn`]).
    pub fn worker<F>(
        mut self,
        name: &'static str,
        start: impl Fn(WorkerContext) -> F + Send + 'static,
    ) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.workers.spawn(name, start);
        self
    }

    /// Runs `job` at start and then every `period` until the service stops;
    /// `job` reports its own failures.
    pub fn every<F, Fut>(self, name: &'static str, period: Duration, job: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let job = Arc::new(job);
        self.worker(name, move |ctx: WorkerContext| {
            let job = job.clone();
            repeat(period, ctx.token, move || job())
        })
    }

    /// Adds the health routes and the common layers and binds the port.
    pub async fn bind(self) -> anyhow::Result<Service> {
        let ready = self
            .ready
            .unwrap_or_else(|| Arc::new(|| Box::pin(async { Ok(()) })));
        let router = with_common_layers(self.routes.merge(health_router(ready)));
        let server = Server::bind(&self.host, self.port, router).await?;
        Ok(Service {
            server,
            workers: self.workers,
        })
    }
}

async fn repeat<F, Fut>(period: Duration, token: CancellationToken, job: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = job() => {}
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_periodic_job_runs_every_period_until_the_service_stops() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let service = ServiceBuilder::new("127.0.0.1", 0, Profile::Development)
            .every("count", Duration::from_millis(20), move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            })
            .bind()
            .await
            .unwrap_or_else(|e| panic!("binds: {e}"));
        let port = service.port();
        assert_ne!(port, 0);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(service.run(async move {
            let _ = stopped.await;
        }));
        let health = reqwest::get(format!("http://127.0.0.1:{port}/health/ready"))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        assert_eq!(health, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = stop.send(());
        let _ = running.await;
        let seen = runs.load(Ordering::SeqCst);
        assert!(seen >= 3, "ran {seen} times");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(runs.load(Ordering::SeqCst), seen, "not after the stop");
    }
}
