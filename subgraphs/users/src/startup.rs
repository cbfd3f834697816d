//! Builds the service from its configuration: keys, the database, the
//! bootstrap administrator, GraphQL, REST (with the JWKS), and the workers
//! (throttle pruning, outbox relay).

use std::sync::Arc;
use std::time::Duration;

use events::outbox::PgOutbox;
use events::workers::EventWorkers;
use platform::auth::JwtVerifier;
use platform::service::Service;
use secrecy::ExposeSecret;

use crate::app::Accounts;
use crate::config::Config;
use crate::store::{UserStore, MIGRATOR};

/// How often old throttling rows are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// Loads the keys, connects (creating and migrating the database), builds and binds.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let common = &config.service;
    let signer = Arc::new(config.signer()?);
    // Users verifies what it signed, with the current and the previous keys.
    let verifier = Arc::new(JwtVerifier::from_jwks(&signer.jwks())?);
    let pool = common.postgres(&[&MIGRATOR, &events::MIGRATOR]).await?;
    let refresh_ttl = Duration::from_secs(config.refresh_token_ttl_secs);
    let accounts = Accounts::new(UserStore::new(pool.clone()), signer, refresh_ttl)
        .with_throttle_step(Duration::from_millis(config.throttle_step_ms))
        .with_signups_per_address(config.signups_per_address)
        .with_refresh_family_lifetime(Duration::from_secs(config.refresh_family_max_secs));
    if let (Some(email), Some(password)) = (
        &config.bootstrap_admin_email,
        &config.bootstrap_admin_password,
    ) {
        let created = accounts
            .bootstrap_admin(email, password.expose_secret())
            .await;
        created.map_err(|e| anyhow::Error::new(e).context("bootstrap admin"))?;
    }
    let prune_pool = pool.clone();
    let mut service = common
        .builder()
        .graphql(
            crate::graphql::build_schema(accounts.clone(), common.schema_settings()),
            verifier.clone(),
        )
        .routes(crate::rest::routes(accounts, verifier))
        .postgres(&pool)
        // Throttling rows that count for nothing any more are deleted.
        .every("throttle-pruner", PRUNE_EVERY, move || {
            crate::store::prune_old_attempts(prune_pool.clone())
        });
    let events = EventWorkers::for_service(common, crate::config::NAME);
    events.start(&mut service, Arc::new(PgOutbox::new(pool)), None)?;
    service.bind().await
}
