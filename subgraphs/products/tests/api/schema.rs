//! The subgraph's SDL matches the committed `schema/products.graphql`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use platform::{Error, Result};
use products::app::Catalog;
use products::domain::{Category, Product, ProductChanges, ProductListing};
use products::graphql::{build_schema, sdl, LOADER_DELAY};
use products::store::{CatalogStore, SeedOutcome, StockChange};
use uuid::Uuid;

/// A store that is never called: building the schema needs no database.
struct Unused;

#[async_trait]
impl CatalogStore for Unused {
    async fn ping(&self) -> Result<()> {
        Err(Error::Unavailable("unused".into()))
    }
    async fn insert_category(&self, _: &Category) -> Result<()> {
        unreachable!()
    }
    async fn list_categories(&self) -> Result<Vec<Category>> {
        unreachable!()
    }
    async fn categories_by_ids(&self, _: &[Uuid]) -> Result<Vec<Category>> {
        unreachable!()
    }
    async fn category_by_slug(&self, _: &str) -> Result<Option<Category>> {
        unreachable!()
    }
    async fn insert_product(&self, _: &Product) -> Result<()> {
        unreachable!()
    }
    async fn update_product(
        &self,
        _: Uuid,
        _: &ProductChanges,
        _: DateTime<Utc>,
    ) -> Result<Product> {
        unreachable!()
    }
    async fn archive_product(&self, _: Uuid, _: DateTime<Utc>) -> Result<Product> {
        unreachable!()
    }
    async fn change_stock(&self, _: Uuid, _: StockChange, _: DateTime<Utc>) -> Result<Product> {
        unreachable!()
    }
    async fn products_by_ids(&self, _: &[Uuid]) -> Result<Vec<Product>> {
        unreachable!()
    }
    async fn list_products(&self, _: &ProductListing) -> Result<Vec<Product>> {
        unreachable!()
    }
    async fn newest_products_by_category(&self, _: &[Uuid], _: i64) -> Result<Vec<Product>> {
        unreachable!()
    }
    async fn count_products(&self) -> Result<u64> {
        unreachable!()
    }
    async fn insert_missing(&self, _: &[Category], _: &[Product]) -> Result<SeedOutcome> {
        unreachable!()
    }
}

#[test]
fn the_schema_matches_the_committed_sdl() {
    let schema = build_schema(
        Catalog::new(Arc::new(Unused)),
        platform::config::Profile::Development,
        LOADER_DELAY,
    );
    let sdl = sdl(&schema);
    assert!(sdl.contains(r#"type Product @key(fields: "id")"#), "{sdl}");
    assert!(sdl.contains(r#"type Category @key(fields: "id")"#), "{sdl}");
    testkit::assert_schema("products", &sdl);
}
