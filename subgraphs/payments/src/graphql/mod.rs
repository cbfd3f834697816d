//! The payments subgraph: `Payment @key(id)`, `Order.payment` on the orders
//! subgraph's `Order`, `payment(id)` and the admin `refundPayment`. Entities and
//! list fields load through DataLoaders: one query per kind per request step.
//! Roots in `query` and `mutation`, objects in `types`, loaders in `loaders`;
//! this file builds the schema.

use platform::graphql::{Limits, SchemaSettings};
use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, Schema};

use crate::app::Payments;

mod loaders;
mod mutation;
mod query;
mod types;

pub use loaders::{PaymentsById, PaymentsByOrder, RefundsByPayment};
pub use mutation::Mutation;
pub use query::Query;
pub use types::{CardObject, OrderRef, PaymentObject, RefundObject};

/// The payments schema.
pub type PaymentsSchema = Schema<Query, Mutation, EmptySubscription>;

/// How long loaders collect keys before one batched query.
pub const LOADER_DELAY: Duration = Duration::from_millis(2);

/// The operations this subgraph accepts, unless the configuration overrides them.
pub const LIMITS: Limits = Limits {
    depth: 15,
    complexity: 2000,
};

/// Builds the schema over the use cases.
pub fn build_schema(payments: Payments, settings: impl Into<SchemaSettings>) -> PaymentsSchema {
    build_schema_with(payments, settings, LOADER_DELAY)
}

/// Builds the schema with loaders that wait `loader_delay` to collect keys (a
/// test on a busy machine gives them longer, so a batch is never split).
pub fn build_schema_with(
    payments: Payments,
    settings: impl Into<SchemaSettings>,
    loader_delay: Duration,
) -> PaymentsSchema {
    let store = payments.store().clone();
    platform::graphql::configure(
        Schema::build(Query, Mutation, EmptySubscription),
        settings,
        LIMITS,
    )
    .enable_federation()
    .data(DataLoader::new(PaymentsById(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(PaymentsByOrder(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(RefundsByPayment(store), tokio::spawn).delay(loader_delay))
    .data(payments)
    .finish()
}
