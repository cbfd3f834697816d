//! The catalogue's persistence port, [`CatalogStore`], and its two adapters:
//! [`postgres::PgCatalogStore`] (the default) and [`mongo::MongoCatalogStore`]
//! (selected by a `mongodb://` URL). Both pass the same contract test suite.
//!
//! This module and its adapters are the only place with queries.

pub mod mongo;
pub mod postgres;

/// The most units of a product on hand (as [`crate::domain::StockLevel`] allows).
pub const MAX_STOCK: i32 = 1_000_000_000;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use platform::{Error, Result};
use uuid::Uuid;

use crate::domain::{Category, Product, ProductChanges, ProductListing, StockLevel};
use crate::error::CatalogError;

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

    /// Applies a stock `change` in one atomic conditional update and returns
    /// the product as changed. A product that does not exist is `NOT_FOUND`;
    /// a change the product's stock does not allow is `CONFLICT` (see
    /// [`StockChange`] for which, and [`StockChange::refused`] for the error).
    async fn change_stock(
        &self,
        id: Uuid,
        change: StockChange,
        now: DateTime<Utc>,
    ) -> Result<Product>;

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

/// A change to a product's units on hand, which a store applies only if the
/// product's stock allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChange {
    /// Set the units on hand to `on_hand`, and only if they are `expected` now
    /// (when given: else the caller read a stale level). Never below what is
    /// reserved.
    Set {
        /// The new units on hand.
        on_hand: StockLevel,
        /// The units on hand the caller last read.
        expected: Option<StockLevel>,
    },
    /// Add this many units (negative: remove), relative to whatever is on hand
    /// now. The result stays within what is reserved, 0 and [`MAX_STOCK`].
    Adjust(i32),
}

/// A product's stock as a store found it after a stock change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockFound {
    /// Units on hand.
    pub on_hand: i32,
    /// Units reserved.
    pub reserved: i32,
}

impl StockChange {
    /// Sets the units on hand to `on_hand`, whatever they are now.
    pub fn set_to(on_hand: StockLevel) -> Self {
        StockChange::Set {
            on_hand,
            expected: None,
        }
    }

    /// Parses an administrator's "set to `quantity` (if `expected` now)":
    /// either beyond 0..=[`MAX_STOCK`] is `BAD_USER_INPUT`.
    pub fn parse_set(quantity: i64, expected: Option<i64>) -> Result<Self> {
        let on_hand = StockLevel::parse(quantity)?;
        let expected = expected
            .map(|expected| {
                StockLevel::parse(expected).map_err(|_| {
                    Error::invalid(format!(
                        "expectedStockOnHand must be between 0 and {MAX_STOCK}, got {expected}"
                    ))
                })
            })
            .transpose()?;
        Ok(StockChange::Set { on_hand, expected })
    }

    /// Parses an administrator's "change by `delta`": 0 or beyond
    /// ±[`MAX_STOCK`] is `BAD_USER_INPUT`.
    pub fn parse_adjust(delta: i64) -> Result<Self> {
        match i32::try_from(delta) {
            Ok(d) if d != 0 && d.unsigned_abs() <= MAX_STOCK.unsigned_abs() => {
                Ok(StockChange::Adjust(d))
            }
            _ => Err(Error::invalid(format!(
                "delta must be a non-zero number of units between -{MAX_STOCK} and {MAX_STOCK}, got {delta}"
            ))),
        }
    }

    /// Why this change of product `id` was refused (its conditional update
    /// matched nothing), given the product's stock as found afterwards: `None`
    /// (no such product) is `NOT_FOUND`, anything else `CONFLICT`.
    pub fn refused(&self, id: Uuid, found: Option<StockFound>) -> Error {
        let Some(StockFound { on_hand, reserved }) = found else {
            return CatalogError::ProductNotFound(id).into();
        };
        match *self {
            StockChange::Set {
                expected: Some(expected),
                ..
            } if on_hand != expected.get() => CatalogError::StaleStock {
                id,
                on_hand,
                expected: expected.get(),
            },
            StockChange::Set { on_hand: level, .. } => CatalogError::BelowReserved {
                id,
                level: level.get(),
                reserved,
            },
            StockChange::Adjust(delta) => {
                let after = i64::from(on_hand) + i64::from(delta);
                if after < i64::from(reserved) {
                    CatalogError::AdjustBelowReserved {
                        id,
                        delta,
                        on_hand,
                        reserved,
                    }
                } else {
                    CatalogError::AdjustOutOfBounds {
                        id,
                        delta,
                        on_hand,
                        after,
                    }
                }
            }
        }
        .into()
    }
}

/// Whether an event changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event was applied now.
    Done,
    /// The inbox already had it: nothing changed.
    Duplicate,
}

/// A store's ledger for the stock side of the order saga: it applies each of
/// `crate::stock`'s rules to one event exactly once, the event id going into
/// the inbox, the stock changes and the resulting events into the outbox, all
/// in one transaction.
#[async_trait]
pub trait StockLedger: Send + Sync {
    /// Applies `rule` for `event` once (see `crate::stock` for how a short
    /// attempt is undone and refused); `Duplicate` when the inbox had it.
    async fn apply_once(
        &self,
        event: &events::RawEnvelope,
        rule: &dyn crate::stock::StockRule,
    ) -> Result<Applied, events::consumer::HandlerError>;

    /// Releases up to `limit` (at most [`crate::stock::EXPIRY_BATCH`])
    /// reservations past their expiry with [`crate::stock::expire`]; one that
    /// cannot be released is looked at again after
    /// [`crate::stock::LOOK_AGAIN_AFTER`]. Safe to run on every replica.
    async fn expire_due(&self, limit: i64) -> Result<usize, events::consumer::HandlerError>;

    /// The outbox the relay publishes from.
    fn outbox(&self) -> std::sync::Arc<dyn events::outbox::OutboxStore>;
}

/// `/health/ready`'s check of a store that is not a PostgreSQL pool (MongoDB).
pub fn readiness(store: std::sync::Arc<dyn CatalogStore>) -> platform::http::ReadinessCheck {
    std::sync::Arc::new(move || {
        let store = store.clone();
        Box::pin(async move { store.ping().await.map_err(|e| format!("store: {e}")) })
    })
}

/// The store `config`'s database URL names (its scheme: `mongodb://` or
/// PostgreSQL), as catalogue and ledger, and its pool on PostgreSQL.
pub async fn connect(
    config: &crate::config::Config,
) -> anyhow::Result<(
    std::sync::Arc<dyn CatalogStore>,
    std::sync::Arc<dyn StockLedger>,
    Option<sqlx::PgPool>,
)> {
    let url = config.service.expose_database_url();
    if config.uses_mongodb() {
        let (catalog, ledger) = mongo::connect(url, &config.mongodb_database).await?;
        tracing::info!(database = %config.mongodb_database, "using MongoDB");
        return Ok((
            std::sync::Arc::new(catalog),
            std::sync::Arc::new(ledger),
            None,
        ));
    }
    let pg = std::sync::Arc::new(
        postgres::PgCatalogStore::connect(url, config.service.db_max_connections).await?,
    );
    let pool = pg.pool().clone();
    Ok((pg.clone(), pg, Some(pool)))
}
