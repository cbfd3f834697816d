//! The catalogue's persistence port, [`CatalogStore`], and its two adapters:
//! [`postgres::PgCatalogStore`] (the default) and [`mongo::MongoCatalogStore`]
//! (selected by a `mongodb://` URL). Both pass the same contract test suite.
//!
//! This module and its adapters are the only place with queries.

pub mod mongo;
mod mongo_stock;
pub mod postgres;
mod postgres_stock;

/// The most units of a product on hand (as [`crate::domain::StockLevel`] allows).
pub const MAX_STOCK: i32 = 1_000_000_000;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use platform::Result;
use uuid::Uuid;

use crate::domain::{Category, Product, ProductChanges, ProductListing, StockLevel};

/// What seeding inserted (rows that already existed are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeedOutcome {
    /// Categories inserted.
    pub categories: u64,
    /// Products inserted.
    pub products: u64,
}

/// Everything the catalogue needs from a store.
///
/// Errors: a duplicate SKU or slug is `CONFLICT`; an unknown product is
/// `NOT_FOUND`; an unknown category given for a product is `NOT_FOUND`.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Checks the store answers (for `/health/ready`).
    async fn ping(&self) -> Result<()>;

    /// Inserts a category; a taken slug is `CONFLICT`.
    async fn insert_category(&self, category: &Category) -> Result<()>;

    /// Every category, by name.
    async fn list_categories(&self) -> Result<Vec<Category>>;

    /// The categories with these ids (in any order; unknown ids are skipped), in
    /// one query.
    async fn categories_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Category>>;

    /// The category with this slug.
    async fn category_by_slug(&self, slug: &str) -> Result<Option<Category>>;

    /// Inserts a product; a taken SKU is `CONFLICT`, an unknown category `NOT_FOUND`.
    async fn insert_product(&self, product: &Product) -> Result<()>;

    /// Applies a partial update atomically and returns the product as changed.
    async fn update_product(
        &self,
        id: Uuid,
        changes: &ProductChanges,
        now: DateTime<Utc>,
    ) -> Result<Product>;

    /// Archives a product; archiving an archived product is `CONFLICT`.
    async fn archive_product(&self, id: Uuid, now: DateTime<Utc>) -> Result<Product>;

    /// Sets the stock on hand; a level below what is reserved is `CONFLICT`
    /// (checked and written in one atomic conditional update).
    async fn set_stock(&self, id: Uuid, on_hand: StockLevel, now: DateTime<Utc>)
        -> Result<Product>;

    /// Sets the stock on hand only if it is `expected` now; another level is
    /// `CONFLICT` (the caller read a stale level), as is a level below what is
    /// reserved. One atomic conditional update.
    async fn set_stock_if(
        &self,
        id: Uuid,
        on_hand: StockLevel,
        expected: StockLevel,
        now: DateTime<Utc>,
    ) -> Result<Product>;

    /// Adds `delta` (negative: removes) to the stock on hand, relative to
    /// whatever it is now; a result below what is reserved, below 0 or above
    /// [`MAX_STOCK`] is `CONFLICT`. One atomic
    /// conditional update.
    async fn adjust_stock(&self, id: Uuid, delta: i32, now: DateTime<Utc>) -> Result<Product>;

    /// The products with these ids, archived or not (in any order; unknown ids
    /// are skipped), in one query.
    async fn products_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Product>>;

    /// Up to `listing.limit` unarchived products matching the filter, in the
    /// listing's order, strictly after its cursor.
    async fn list_products(&self, listing: &ProductListing) -> Result<Vec<Product>>;

    /// The first `limit` unarchived products of each of these categories, newest
    /// first (the first page of `Category.products` for many categories at once).
    async fn newest_products_by_category(
        &self,
        category_ids: &[Uuid],
        limit: i64,
    ) -> Result<Vec<Product>>;

    /// How many products exist (archived included).
    async fn count_products(&self) -> Result<u64>;

    /// Inserts categories and products, skipping any whose id, slug or SKU already
    /// exists; safe to run concurrently from several replicas.
    async fn insert_missing(
        &self,
        categories: &[Category],
        products: &[Product],
    ) -> Result<SeedOutcome>;
}

/// Whether an event changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event was applied now.
    Done,
    /// The inbox already had it: nothing changed.
    Duplicate,
}

/// The stock side of the order saga. Every method applies one event exactly
/// once: the event id goes into the inbox, the stock changes and the resulting
/// event goes into the outbox, all in one transaction.
#[async_trait]
pub trait StockLedger: Send + Sync {
    /// `order.placed`: reserves every line or none; emits `stock.reserved`
    /// (held until `now + ttl`) or `stock.rejected`.
    async fn reserve(
        &self,
        event: &events::Envelope<events::catalogue::OrderPlaced>,
        ttl: chrono::Duration,
    ) -> Result<Applied, events::consumer::HandlerError>;

    /// `order.paid`: the held units are sold. If the reservation had lapsed, the
    /// units are taken from what is available, or `stock.rejected` is emitted.
    async fn commit(
        &self,
        event: &events::Envelope<events::catalogue::OrderPaid>,
    ) -> Result<Applied, events::consumer::HandlerError>;

    /// `order.cancelled`: releases held units (emitting `stock.released`),
    /// restocks sold ones, or remembers the cancellation for a later
    /// `order.placed`.
    async fn cancel(
        &self,
        event: &events::Envelope<events::catalogue::OrderCancelled>,
    ) -> Result<Applied, events::consumer::HandlerError>;

    /// Releases up to `limit` reservations past their expiry, emitting
    /// `stock.released` (expired) for each; safe to run on every replica.
    async fn expire_due(&self, limit: i64) -> Result<usize, events::consumer::HandlerError>;

    /// The outbox the relay publishes from.
    fn outbox(&self) -> std::sync::Arc<dyn events::outbox::OutboxStore>;
}
