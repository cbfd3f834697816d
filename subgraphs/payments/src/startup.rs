//! Builds the service from its configuration: the database, the use cases, the
//! GraphQL schema, REST routes, the saga inspector, and the workers (outbox
//! relay, the consumer of `payment.requested` / `order.cancelled`, and the
//! reconciler of charges in doubt).

use std::sync::Arc;
use std::time::Duration;

use events::outbox::PgOutbox;
use events::workers::EventWorkers;
use platform::service::Service;

use crate::app::Payments;
use crate::clients::card_provider::{CardProvider, SimulatedProvider};
use crate::config::Config;
use crate::saga::SagaHandler;
use crate::store::{PaymentStore, MIGRATOR};

/// Connects (creating and migrating the database), builds and binds.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    build_with_provider(config, Arc::new(SimulatedProvider::default())).await
}

/// Like [`build`] with another card provider.
pub async fn build_with_provider(
    config: Config,
    provider: Arc<dyn CardProvider>,
) -> anyhow::Result<Service> {
    let common = &config.service;
    let (verifier, events) = (
        common.verifier()?,
        EventWorkers::for_service(common, crate::config::NAME),
    );
    let pool = common.postgres(&[&MIGRATOR, &events::MIGRATOR]).await?;
    let timeout = Duration::from_millis(config.provider_timeout_ms);
    let payments = Payments::new(PaymentStore::new(pool.clone()), provider, timeout);
    let schema = crate::graphql::build_schema(payments.clone(), common.schema_settings());
    let mut service = common
        .builder()
        .graphql(schema, verifier.clone())
        .routes(crate::rest::routes(payments.clone(), verifier.clone()))
        .routes(events.trail_routes(pool.clone(), verifier))
        .postgres(&pool);
    let handler = Arc::new(SagaHandler::new(payments.clone()));
    events.start(&mut service, Arc::new(PgOutbox::new(pool)), Some(handler))?;
    if events.enabled && config.reconcile_every_ms > 0 {
        let after = Duration::from_millis(config.in_doubt_after_ms);
        let every = Duration::from_millis(config.reconcile_every_ms);
        let reconcile = move || {
            let payments = payments.clone();
            async move { payments.reconcile_logged(after).await }
        };
        service = service.every("charge-reconciler", every, reconcile);
    }
    service.bind().await
}
