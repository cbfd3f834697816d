//! The products subgraph: `Product` and `Category` entities, the catalogue
//! queries and the admin mutations. Resolvers are thin: they check the caller's
//! role and call [`crate::app::Catalog`]; related rows and `_entities` load
//! through [`loaders`] so a list costs one store query per kind.

pub mod loaders;
mod mutation;
mod query;
mod types;

use platform::graphql::{Limits, SchemaSettings};
use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, SDLExportOptions, Schema};

pub use mutation::Mutation;
pub use query::Query;
pub use types::{CategoryNode, ProductNode};

use crate::app::Catalog;
use loaders::{CategoriesById, NewestProductsByCategory, ProductsById};

/// The executable products schema.
pub type ProductsSchema = Schema<Query, Mutation, EmptySubscription>;

/// The operations this subgraph accepts, unless the configuration overrides them.
pub const LIMITS: Limits = Limits {
    depth: 12,
    complexity: 5000,
};
/// How long a DataLoader waits for more keys before querying, unless configured:
/// long enough for a hundred `_entities` representations (polled 32 at a time)
/// to join one batch, short enough not to be felt.
pub const LOADER_DELAY: Duration = Duration::from_millis(2);

/// Builds the federated schema over the catalogue's use cases; its DataLoaders
/// collect keys for `loader_delay` before querying (see [`LOADER_DELAY`]).
pub fn build_schema(
    catalog: Catalog,
    settings: impl Into<SchemaSettings>,
    loader_delay: Duration,
) -> ProductsSchema {
    let store = catalog.store().clone();
    platform::graphql::configure(
        Schema::build(Query, Mutation, EmptySubscription),
        settings,
        LIMITS,
    )
    .enable_federation()
    .data(DataLoader::new(ProductsById::new(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(CategoriesById::new(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(NewestProductsByCategory::new(store), tokio::spawn).delay(loader_delay))
    .data(catalog)
    .finish()
}

/// The subgraph's federation SDL, as composition reads it.
pub fn sdl(schema: &ProductsSchema) -> String {
    schema.sdl_with_options(SDLExportOptions::new().federation().compose_directive())
}
