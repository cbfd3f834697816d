//! Builds the service from its configuration: keys, the database, the
//! bootstrap administrator, GraphQL, REST (with the JWKS), health, the bound
//! server and the outbox relay.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use events::outbox::PgOutbox;
use events::workers::EventWorkers;
use platform::auth::{JwtVerifier, TokenSigner};
use platform::http::{graphql_router, health_router, postgres_ready, with_common_layers, Server};
use platform::workers::Workers;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::graphql::{build_schema, UsersSchema};
use crate::store::{UserStore, MIGRATOR};

/// A built, bound service.
pub struct Service {
    server: Server,
    workers: Workers,
}

fn pem(inline: &Option<String>, path: &str, what: &str) -> anyhow::Result<String> {
    match inline {
        Some(pem) => Ok(pem.clone()),
        None => std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the JWT {what} key at {path} (scripts/run generates development keys)"
            )
        }),
    }
}

impl Service {
    /// Loads the keys, connects (creating and migrating the database), builds and binds.
    pub async fn build(config: Config) -> anyhow::Result<Service> {
        let private = pem(
            &config.jwt_private_key_pem,
            &config.jwt_private_key_path,
            "private",
        )?;
        let public = pem(
            &config.jwt_public_key_pem,
            &config.jwt_public_key_path,
            "public",
        )?;
        let previous = split_pems(config.jwt_previous_public_keys_pem.as_deref().unwrap_or(""));
        let signer = Arc::new(
            TokenSigner::from_pem(
                &private,
                &public,
                Duration::from_secs(config.access_token_ttl_secs),
            )?
            .with_previous_keys(&previous)?,
        );
        // Users verifies what it signed, with the current and the previous keys.
        let verifier = Arc::new(JwtVerifier::from_jwks(&signer.jwks())?);
        let pool = platform::db::connect_with(
            &config.database_url,
            &[&MIGRATOR, &events::MIGRATOR],
            config.db_max_connections,
        )
        .await?;
        let accounts = Accounts::new(
            UserStore::new(pool.clone()),
            signer,
            Duration::from_secs(config.refresh_token_ttl_secs),
        )
        .with_throttle_step(Duration::from_millis(config.throttle_step_ms))
        .with_signups_per_address(config.signups_per_address)
        .with_refresh_family_lifetime(Duration::from_secs(config.refresh_family_max_secs));
        if let (Some(email), Some(password)) = (
            &config.bootstrap_admin_email,
            &config.bootstrap_admin_password,
        ) {
            accounts
                .bootstrap_admin(email, password)
                .await
                .map_err(|e| anyhow::anyhow!("bootstrap admin: {e}"))?;
        }
        let router = build_router(
            build_schema(accounts.clone()),
            accounts,
            verifier,
            pool.clone(),
        );
        let server = Server::bind(&config.host, config.port, router).await?;
        let mut workers = Workers::new();
        platform::metrics::spawn_pool_metrics(&mut workers, &pool);
        // Throttling rows that count for nothing any more are deleted.
        let throttle_pool = pool.clone();
        workers.spawn("throttle-pruner", move |ctx| {
            prune_throttle(throttle_pool.clone(), ctx.token)
        });
        if config.event_workers {
            let events = EventWorkers::new(&config.amqp_url, &config.events_prefix, "users");
            events.spawn_relay(&mut workers, Arc::new(PgOutbox::new(pool)));
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

/// The service's routes: `/graphql`, `/health/*`, `/api/v1/...`, `/.well-known/jwks.json`.
pub fn build_router(
    schema: UsersSchema,
    accounts: Accounts,
    verifier: Arc<JwtVerifier>,
    pool: sqlx::PgPool,
) -> Router {
    with_common_layers(
        graphql_router(schema, verifier.clone())
            .merge(health_router(postgres_ready(pool)))
            .merge(crate::rest::routes(accounts, verifier)),
    )
}

/// The PEM blocks of `text`, one after the other.
fn split_pems(text: &str) -> Vec<String> {
    text.split_inclusive("-----END PUBLIC KEY-----")
        .map(str::trim)
        .filter(|block| block.contains("-----BEGIN PUBLIC KEY-----"))
        .map(|block| format!("{block}\n"))
        .collect()
}

/// How often old throttling rows are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// Deletes throttling rows older than any scope remembers, every
/// [`PRUNE_EVERY`], until `token` is cancelled (safe on every replica at once).
async fn prune_throttle(pool: sqlx::PgPool, token: tokio_util::sync::CancellationToken) {
    loop {
        match crate::store::prune_attempts(&pool, crate::domain::throttle::Scope::longest_memory())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "pruned old sign-in attempts"),
            Err(e) => tracing::warn!(error = %e, "could not prune old sign-in attempts"),
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {}
            () = token.cancelled() => return,
        }
    }
}
