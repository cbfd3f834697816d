//! The orders subgraph: `Order @key(id)`, `User.orders` on the users
//! subgraph's `User`, the cart, checkout and the status changes. Entities and
//! list fields load through DataLoaders: one query per kind per request step.

mod loaders;
mod mutation;
mod query;
mod saga;
mod subscription;
mod types;

use platform::graphql::{Limits, SchemaSettings};
use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::Schema;

pub use loaders::{HistoryByOrder, ItemsByOrder, OrdersById};
pub use mutation::{Mutation, OrderLineInput, PlaceOrderInput, ShippingAddressInput};
pub use query::{OrderConnection, Query};
pub use subscription::SubscriptionRoot;
pub use types::{CartObject, OrderObject, UserRef};

use crate::app::Orders;

/// The orders schema.
pub type OrdersSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// How long loaders collect keys before one batched query.
pub const LOADER_DELAY: Duration = Duration::from_millis(2);

/// The operations this subgraph accepts, unless the configuration overrides them.
pub const LIMITS: Limits = Limits {
    depth: 15,
    complexity: 5000,
};

/// Builds the schema over the use cases.
pub fn build_schema(orders: Orders, settings: impl Into<SchemaSettings>) -> OrdersSchema {
    build_schema_with(orders, settings, LOADER_DELAY)
}

/// Builds the schema with loaders that wait `loader_delay` to collect keys (a
/// test on a busy machine gives them longer, so a batch is never split).
pub fn build_schema_with(
    orders: Orders,
    settings: impl Into<SchemaSettings>,
    loader_delay: Duration,
) -> OrdersSchema {
    let store = orders.store().clone();
    platform::graphql::configure(
        Schema::build(Query, Mutation, SubscriptionRoot),
        settings,
        LIMITS,
    )
    .enable_federation()
    .enable_subscription_in_federation()
    .data(DataLoader::new(OrdersById(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(ItemsByOrder(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(HistoryByOrder(store), tokio::spawn).delay(loader_delay))
    .data(orders)
    .finish()
}
