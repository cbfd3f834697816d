//! Builds the service from its configuration: the store adapter chosen by the
//! database URL's scheme, the optional demo seed, the GraphQL schema, the REST
//! routes, the saga inspector (PostgreSQL), and the workers (outbox relay, the
//! consumer of order events, the expiry of lapsed reservations).

use std::sync::Arc;
use std::time::Duration;

use events::workers::EventWorkers;
use platform::service::Service;

use crate::app::Catalog;
use crate::config::Config;
use crate::saga::{release_expired_reservations, SagaHandler};
use crate::stock::Stock;

/// Connects the store (creating and migrating a PostgreSQL database, or the
/// MongoDB indexes), seeds when asked, builds and binds.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let common = &config.service;
    let verifier = common.verifier()?;
    let events = EventWorkers::for_service(common, crate::config::NAME);
    let (store, ledger, pool) = crate::store::connect(&config).await?;
    let service = match &pool {
        // The saga inspector reads the PostgreSQL outbox (on MongoDB, orders
        // reports products' part of a trail as unavailable).
        Some(pool) => common
            .builder()
            .postgres(pool)
            .routes(events.trail_routes(pool.clone(), verifier.clone())),
        None => common
            .builder()
            .ready(crate::store::readiness(store.clone())),
    };
    if config.seed_demo {
        crate::seed::seed_if_empty(store.as_ref()).await?;
    }
    let catalog = Catalog::new(store);
    let delay = Duration::from_millis(config.loader_delay_ms);
    let mut service = service
        .graphql(
            crate::graphql::build_schema(catalog.clone(), common.schema_settings(), delay),
            verifier.clone(),
        )
        .routes(crate::rest::admin_routes(catalog.clone(), verifier))
        .routes(crate::rest::routes(catalog));
    let stock = Stock::new(ledger);
    let ttl = Duration::from_secs(config.reservation_ttl_secs);
    let handler = SagaHandler::new(stock.clone(), ttl);
    events.start(&mut service, stock.outbox(), Some(Arc::new(handler)))?;
    if events.enabled {
        let every = Duration::from_millis(config.reservation_sweep_ms);
        service = service.every("reservation-expiry", every, move || {
            release_expired_reservations(stock.clone())
        });
    }
    service.bind().await
}
