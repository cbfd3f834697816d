//! Builds the service from its configuration: the database, the catalogue
//! client, the use cases, GraphQL, REST, the saga inspector, and the workers
//! (live status listener, outbox relay, consumer of stock and payment events).

use std::sync::Arc;
use std::time::Duration;

use events::outbox::PgOutbox;
use events::workers::EventWorkers;
use platform::service::Service;

use crate::app::Orders;
use crate::clients::products::{PriceQuotes, ProductsClient};
use crate::config::Config;
use crate::inspector::SagaInspector;
use crate::saga::SagaHandler;
use crate::store::{OrderStore, MIGRATOR};

/// Connects (creating and migrating the database), builds and binds.
pub async fn build(config: Config) -> anyhow::Result<Service> {
    let timeout = Duration::from_millis(config.quote_timeout_ms);
    let client = ProductsClient::new(&config.products_url, timeout, config.quote_retries)?;
    build_with_quotes(config, Arc::new(client)).await
}

/// Like [`build`] with other price quotes (tests: a fixed price list).
pub async fn build_with_quotes(
    config: Config,
    quotes: Arc<dyn PriceQuotes>,
) -> anyhow::Result<Service> {
    let common = &config.service;
    let verifier = common.verifier()?;
    let pool = common.postgres(&[&MIGRATOR, &events::MIGRATOR]).await?;
    let events = EventWorkers::for_service(common, crate::config::NAME);
    let trail = events.inspector(pool.clone());
    let orders = Orders::new(OrderStore::new(pool.clone()), quotes)
        .with_max_open_orders(config.max_open_orders)
        .with_inspector(SagaInspector::for_config(trail.clone(), &config)?);
    let (feed, listen_pool) = (orders.feed().clone(), pool.clone());
    let mut service = common
        .builder()
        .graphql(
            crate::graphql::build_schema(orders.clone(), common.schema_settings()),
            verifier.clone(),
        )
        .routes(crate::rest::routes(orders.clone(), verifier.clone()))
        .routes(events::trail::routes(trail, verifier))
        .postgres(&pool)
        // Live order status: this replica hears every replica's changes.
        .worker("order-status-listener", move |ctx| {
            feed.clone().listen(listen_pool.clone(), ctx)
        });
    let handler = Arc::new(SagaHandler::new(orders));
    events.start(&mut service, Arc::new(PgOutbox::new(pool)), Some(handler))?;
    service.bind().await
}
