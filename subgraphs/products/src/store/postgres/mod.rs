//! The PostgreSQL adapter: JSONB images and attributes, a generated `tsvector`
//! column with a GIN index for search (`websearch_to_tsquery('english', ...)`),
//! keyset pagination on `(sort key, id)` and atomic conditional updates.
//!
//! Every value reaches PostgreSQL as a bound parameter; the only SQL text
//! assembled at run time is fixed fragments chosen by the listing's shape.
//! The stock ledger's primitives are in `ledger`.

mod ledger;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use platform::{Currency, Error, Money, Result};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{CatalogStore, SeedOutcome, StockChange, StockFound};
use crate::domain::{
    Attribute, Category, Product, ProductChanges, ProductListing, ProductSort, SortValue,
    StockLevel,
};
use crate::error::CatalogError;

/// The migrations of the products database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const PRODUCT_COLUMNS: &str = "id, sku, name, description, price_amount, price_currency, \
     category_id, images, attributes, archived, stock_on_hand, reserved, created_at, updated_at";
const CATEGORY_COLUMNS: &str = "id, name, slug, description, created_at";
/// Rows per multi-row INSERT when seeding (14 parameters a row, well under 65535).
const SEED_CHUNK: usize = 500;

/// The catalogue in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgCatalogStore {
    pool: PgPool,
}

impl PgCatalogStore {
    /// A store over an already migrated pool.
    pub fn new(pool: PgPool) -> Self {
        PgCatalogStore { pool }
    }

    /// Connects to `url`, creating and migrating the database when needed.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool =
            platform::db::connect_with(url, &[&MIGRATOR, &events::MIGRATOR], max_connections)
                .await?;
        Ok(PgCatalogStore { pool })
    }

    /// The pool (for readiness checks).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn product_exists(&self, id: Uuid) -> Result<Option<Product>> {
        Ok(self.products_by_ids(&[id]).await?.into_iter().next())
    }
}

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: Uuid,
    sku: String,
    name: String,
    description: String,
    price_amount: i64,
    price_currency: String,
    category_id: Uuid,
    images: Json<Vec<String>>,
    attributes: Json<Vec<Attribute>>,
    archived: bool,
    stock_on_hand: i32,
    reserved: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProductRow> for Product {
    type Error = Error;

    fn try_from(row: ProductRow) -> Result<Product> {
        let currency = Currency::parse(&row.price_currency).map_err(|_| {
            Error::Internal(anyhow::anyhow!(
                "product {} has a corrupt currency {:?}",
                row.id,
                row.price_currency
            ))
        })?;
        Ok(Product {
            id: row.id,
            sku: row.sku,
            name: row.name,
            description: row.description,
            price: Money::new(row.price_amount, currency),
            category_id: row.category_id,
            images: row.images.0,
            attributes: row.attributes.0,
            archived: row.archived,
            stock_on_hand: row.stock_on_hand,
            reserved: row.reserved,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CategoryRow {
    id: Uuid,
    name: String,
    slug: String,
    description: String,
    created_at: DateTime<Utc>,
}

impl From<CategoryRow> for Category {
    fn from(row: CategoryRow) -> Self {
        Category {
            id: row.id,
            name: row.name,
            slug: row.slug,
            description: row.description,
            created_at: row.created_at,
        }
    }
}

fn into_products(rows: Vec<ProductRow>) -> Result<Vec<Product>> {
    rows.into_iter().map(Product::try_from).collect()
}

/// Maps constraint violations of a product write to client errors.
fn product_write_error(e: sqlx::Error, sku: Option<&str>, category: Option<Uuid>) -> Error {
    if let Some(constraint) = platform::error::unique_violation(&e) {
        return match (constraint, sku) {
            ("products_sku_key", Some(sku)) => CatalogError::DuplicateSku(Some(sku.into())).into(),
            _ => CatalogError::DuplicateSku(None).into(),
        };
    }
    if let sqlx::Error::Database(db) = &e {
        if db.code().as_deref() == Some("23503") {
            return CatalogError::CategoryNotFound(category).into();
        }
    }
    e.into()
}

#[async_trait]
impl CatalogStore for PgCatalogStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_category(&self, category: &Category) -> Result<()> {
        sqlx::query(
            "INSERT INTO categories (id, name, slug, description, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(category.id)
        .bind(&category.name)
        .bind(&category.slug)
        .bind(&category.description)
        .bind(category.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| match platform::error::unique_violation(&e) {
            Some(_) => Error::from(CatalogError::DuplicateSlug(category.slug.clone())),
            None => e.into(),
        })?;
        Ok(())
    }

    async fn list_categories(&self) -> Result<Vec<Category>> {
        let rows: Vec<CategoryRow> = sqlx::query_as(&format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Category::from).collect())
    }

    async fn categories_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Category>> {
        let rows: Vec<CategoryRow> = sqlx::query_as(&format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Category::from).collect())
    }

    async fn category_by_slug(&self, slug: &str) -> Result<Option<Category>> {
        let row: Option<CategoryRow> = sqlx::query_as(&format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE slug = $1"
        ))
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Category::from))
    }

    async fn insert_product(&self, p: &Product) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO products ({PRODUCT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(p.id)
        .bind(&p.sku)
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.price.amount)
        .bind(p.price.currency.as_str())
        .bind(p.category_id)
        .bind(Json(&p.images))
        .bind(Json(&p.attributes))
        .bind(p.archived)
        .bind(p.stock_on_hand)
        .bind(p.reserved)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| product_write_error(e, Some(&p.sku), Some(p.category_id)))?;
        Ok(())
    }

    async fn update_product(
        &self,
        id: Uuid,
        c: &ProductChanges,
        now: DateTime<Utc>,
    ) -> Result<Product> {
        let row: Option<ProductRow> = sqlx::query_as(&format!(
            "UPDATE products SET \
                 sku = COALESCE($2, sku), \
                 name = COALESCE($3, name), \
                 description = COALESCE($4, description), \
                 price_amount = COALESCE($5, price_amount), \
                 price_currency = COALESCE($6, price_currency), \
                 category_id = COALESCE($7, category_id), \
                 images = COALESCE($8, images), \
                 attributes = COALESCE($9, attributes), \
                 updated_at = $10 \
             WHERE id = $1 RETURNING {PRODUCT_COLUMNS}"
        ))
        .bind(id)
        .bind(c.sku.as_deref())
        .bind(c.name.as_deref())
        .bind(c.description.as_deref())
        .bind(c.price.map(|p| p.amount))
        .bind(c.price.map(|p| p.currency.as_str().to_string()))
        .bind(c.category_id)
        .bind(c.images.as_ref().map(Json))
        .bind(c.attributes.as_ref().map(Json))
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| product_write_error(e, c.sku.as_deref(), c.category_id))?;
        row.ok_or(CatalogError::ProductNotFound(id))?.try_into()
    }

    async fn archive_product(&self, id: Uuid, now: DateTime<Utc>) -> Result<Product> {
        let row: Option<ProductRow> = sqlx::query_as(&format!(
            "UPDATE products SET archived = TRUE, updated_at = $2 \
             WHERE id = $1 AND NOT archived RETURNING {PRODUCT_COLUMNS}"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row.try_into(),
            None => {
                let exists = self.product_exists(id).await?.is_some();
                Err(CatalogError::archive_refused(id, exists).into())
            }
        }
    }

    async fn change_stock(
        &self,
        id: Uuid,
        change: StockChange,
        now: DateTime<Utc>,
    ) -> Result<Product> {
        let row: Option<ProductRow> = match change {
            StockChange::Set { on_hand, expected } => {
                sqlx::query_as(&format!(
                    "UPDATE products SET stock_on_hand = $2, updated_at = $3 \
                     WHERE id = $1 AND reserved <= $2 \
                       AND ($4::integer IS NULL OR stock_on_hand = $4) RETURNING {PRODUCT_COLUMNS}"
                ))
                .bind(id)
                .bind(on_hand.get())
                .bind(now)
                .bind(expected.map(StockLevel::get))
                .fetch_optional(&self.pool)
                .await?
            }
            // In bigint, so the sum itself cannot overflow.
            StockChange::Adjust(delta) => {
                sqlx::query_as(&format!(
                    "UPDATE products SET stock_on_hand = (stock_on_hand::bigint + $2)::integer, updated_at = $3 \
                     WHERE id = $1 AND stock_on_hand::bigint + $2 >= reserved \
                       AND stock_on_hand::bigint + $2 >= 0 AND stock_on_hand::bigint + $2 <= $4 \
                     RETURNING {PRODUCT_COLUMNS}"
                ))
                .bind(id)
                .bind(i64::from(delta))
                .bind(now)
                .bind(i64::from(super::MAX_STOCK))
                .fetch_optional(&self.pool)
                .await?
            }
        };
        match row {
            Some(row) => row.try_into(),
            None => {
                let found = self.product_exists(id).await?.map(|p| StockFound {
                    on_hand: p.stock_on_hand,
                    reserved: p.reserved,
                });
                Err(change.refused(id, found))
            }
        }
    }

    async fn products_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Product>> {
        let rows: Vec<ProductRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        into_products(rows)
    }

    async fn list_products(&self, listing: &ProductListing) -> Result<Vec<Product>> {
        let filter = &listing.filter;
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE NOT archived"
        ));
        if let Some(category) = filter.category_id {
            q.push(" AND category_id = ").push_bind(category);
        }
        if let Some(search) = &filter.search {
            q.push(" AND search @@ websearch_to_tsquery('english', ")
                .push_bind(search.as_str().to_string())
                .push(")");
        }
        if let Some(min) = filter.min_price {
            q.push(" AND price_amount >= ").push_bind(min);
        }
        if let Some(max) = filter.max_price {
            q.push(" AND price_amount <= ").push_bind(max);
        }
        match filter.in_stock {
            Some(true) => {
                q.push(" AND stock_on_hand - reserved > 0");
            }
            Some(false) => {
                q.push(" AND stock_on_hand - reserved <= 0");
            }
            None => {}
        }
        if let Some(after) = &listing.after {
            let op = if listing.sort.is_descending() {
                "<"
            } else {
                ">"
            };
            match (&after.value, listing.sort) {
                (SortValue::Time(t), ProductSort::Newest) => {
                    q.push(" AND (created_at, id) < (").push_bind(*t);
                }
                (SortValue::Amount(a), ProductSort::PriceAsc | ProductSort::PriceDesc) => {
                    q.push(format!(" AND (price_amount, id) {op} ("))
                        .push_bind(*a);
                }
                (SortValue::Text(n), ProductSort::NameAsc) => {
                    q.push(r#" AND (name COLLATE "C", id) > ("#)
                        .push_bind(n.clone());
                }
                _ => {
                    return Err(Error::invalid(
                        "`after` belongs to a listing with another sort order",
                    ))
                }
            }
            q.push(", ").push_bind(after.id).push(")");
        }
        q.push(match listing.sort {
            ProductSort::Newest => " ORDER BY created_at DESC, id DESC",
            ProductSort::PriceAsc => " ORDER BY price_amount ASC, id ASC",
            ProductSort::PriceDesc => " ORDER BY price_amount DESC, id DESC",
            ProductSort::NameAsc => r#" ORDER BY name COLLATE "C" ASC, id ASC"#,
        });
        q.push(" LIMIT ").push_bind(listing.limit);
        let rows: Vec<ProductRow> = q.build_query_as().fetch_all(&self.pool).await?;
        into_products(rows)
    }

    async fn newest_products_by_category(
        &self,
        category_ids: &[Uuid],
        limit: i64,
    ) -> Result<Vec<Product>> {
        let rows: Vec<ProductRow> = sqlx::query_as(&format!(
            "SELECT p.* FROM unnest($1::uuid[]) AS c(category_id) \
             CROSS JOIN LATERAL ( \
                 SELECT {PRODUCT_COLUMNS} FROM products \
                 WHERE category_id = c.category_id AND NOT archived \
                 ORDER BY created_at DESC, id DESC LIMIT $2 \
             ) AS p \
             ORDER BY p.category_id, p.created_at DESC, p.id DESC"
        ))
        .bind(category_ids)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        into_products(rows)
    }

    async fn count_products(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn insert_missing(
        &self,
        categories: &[Category],
        products: &[Product],
    ) -> Result<SeedOutcome> {
        let mut outcome = SeedOutcome::default();
        for chunk in categories.chunks(SEED_CHUNK) {
            let mut q: QueryBuilder<Postgres> =
                QueryBuilder::new(format!("INSERT INTO categories ({CATEGORY_COLUMNS}) "));
            q.push_values(chunk, |mut row, c| {
                row.push_bind(c.id)
                    .push_bind(&c.name)
                    .push_bind(&c.slug)
                    .push_bind(&c.description)
                    .push_bind(c.created_at);
            });
            q.push(" ON CONFLICT DO NOTHING");
            outcome.categories += q.build().execute(&self.pool).await?.rows_affected();
        }
        for chunk in products.chunks(SEED_CHUNK) {
            let mut q: QueryBuilder<Postgres> =
                QueryBuilder::new(format!("INSERT INTO products ({PRODUCT_COLUMNS}) "));
            q.push_values(chunk, |mut row, p| {
                row.push_bind(p.id)
                    .push_bind(&p.sku)
                    .push_bind(&p.name)
                    .push_bind(&p.description)
                    .push_bind(p.price.amount)
                    .push_bind(p.price.currency.as_str().to_string())
                    .push_bind(p.category_id)
                    .push_bind(Json(&p.images))
                    .push_bind(Json(&p.attributes))
                    .push_bind(p.archived)
                    .push_bind(p.stock_on_hand)
                    .push_bind(p.reserved)
                    .push_bind(p.created_at)
                    .push_bind(p.updated_at);
            });
            q.push(" ON CONFLICT DO NOTHING");
            outcome.products += q
                .build()
                .execute(&self.pool)
                .await
                .map_err(|e| product_write_error(e, None, None))?
                .rows_affected();
        }
        Ok(outcome)
    }
}
