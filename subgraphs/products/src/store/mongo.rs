//! The MongoDB adapter: collections `products` and `categories` with unique
//! indexes on `sku` and `slug` and a text index on name and description (all
//! created at start-up, with the stock ledger's `inbox`, `outbox` and
//! `reservations` collections and their indexes, see `mongo_stock`), keyset
//! pagination with `$or` on `(sort key, _id)`, and atomic conditional updates
//! (`find_one_and_update` with the precondition in the filter).
//!
//! Ids are stored as hyphenated lower-case UUID strings, which sort in the same
//! order as the UUIDs themselves; dates are BSON dates (milliseconds, which is
//! why the domain truncates every timestamp to milliseconds); names compare by
//! bytes, like PostgreSQL's `"C"` collation the other adapter sorts names with.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use platform::{Currency, Error, Money, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CatalogStore, SeedOutcome, StockChange, StockFound};
use crate::domain::{
    Attribute, Category, Product, ProductChanges, ProductListing, ProductSort, SortValue,
};

/// MongoDB's duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;

/// The catalogue in MongoDB.
#[derive(Debug, Clone)]
pub struct MongoCatalogStore {
    database: Database,
    products: Collection<ProductDoc>,
    categories: Collection<CategoryDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CategoryDoc {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    slug: String,
    description: String,
    created_at: mongodb::bson::DateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProductDoc {
    #[serde(rename = "_id")]
    id: String,
    sku: String,
    name: String,
    description: String,
    price_amount: i64,
    price_currency: String,
    category_id: String,
    images: Vec<String>,
    attributes: Vec<Attribute>,
    archived: bool,
    stock_on_hand: i32,
    reserved: i32,
    created_at: mongodb::bson::DateTime,
    updated_at: mongodb::bson::DateTime,
}

fn bson_date(t: DateTime<Utc>) -> mongodb::bson::DateTime {
    mongodb::bson::DateTime::from_millis(t.timestamp_millis())
}

fn chrono_date(t: mongodb::bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or_default()
}

fn corrupt(what: &str, id: &str) -> Error {
    Error::Internal(anyhow::anyhow!("stored {what} {id} is corrupt"))
}

fn internal(e: mongodb::error::Error) -> Error {
    Error::Internal(e.into())
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|w| w.code == DUPLICATE_KEY)),
        _ => false,
    }
}

impl From<&Category> for CategoryDoc {
    fn from(c: &Category) -> Self {
        CategoryDoc {
            id: c.id.to_string(),
            name: c.name.clone(),
            slug: c.slug.clone(),
            description: c.description.clone(),
            created_at: bson_date(c.created_at),
        }
    }
}

impl TryFrom<CategoryDoc> for Category {
    type Error = Error;
    fn try_from(d: CategoryDoc) -> Result<Category> {
        Ok(Category {
            id: Uuid::parse_str(&d.id).map_err(|_| corrupt("category", &d.id))?,
            name: d.name,
            slug: d.slug,
            description: d.description,
            created_at: chrono_date(d.created_at),
        })
    }
}

impl From<&Product> for ProductDoc {
    fn from(p: &Product) -> Self {
        ProductDoc {
            id: p.id.to_string(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            price_amount: p.price.amount,
            price_currency: p.price.currency.to_string(),
            category_id: p.category_id.to_string(),
            images: p.images.clone(),
            attributes: p.attributes.clone(),
            archived: p.archived,
            stock_on_hand: p.stock_on_hand,
            reserved: p.reserved,
            created_at: bson_date(p.created_at),
            updated_at: bson_date(p.updated_at),
        }
    }
}

impl TryFrom<ProductDoc> for Product {
    type Error = Error;
    fn try_from(d: ProductDoc) -> Result<Product> {
        Ok(Product {
            id: Uuid::parse_str(&d.id).map_err(|_| corrupt("product", &d.id))?,
            price: Money::new(
                d.price_amount,
                Currency::parse(&d.price_currency).map_err(|_| corrupt("product", &d.id))?,
            ),
            category_id: Uuid::parse_str(&d.category_id).map_err(|_| corrupt("product", &d.id))?,
            sku: d.sku,
            name: d.name,
            description: d.description,
            images: d.images,
            attributes: d.attributes,
            archived: d.archived,
            stock_on_hand: d.stock_on_hand,
            reserved: d.reserved,
            created_at: chrono_date(d.created_at),
            updated_at: chrono_date(d.updated_at),
        })
    }
}

fn ids_as_strings(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

impl MongoCatalogStore {
    /// Connects to `url`, uses database `database` and creates the indexes (an
    /// existing identical index is left as is, so replicas may start together).
    pub async fn connect(url: &str, database: &str) -> anyhow::Result<Self> {
        let client = Client::with_uri_str(url).await?;
        let database = client.database(database);
        let store = MongoCatalogStore {
            products: database.collection("products"),
            categories: database.collection("categories"),
            database,
        };
        store.create_indexes().await?;
        Ok(store)
    }

    /// The database (for the stock ledger in `mongo_stock`).
    pub(super) fn database(&self) -> &Database {
        &self.database
    }

    async fn create_indexes(&self) -> anyhow::Result<()> {
        let unique = |name: &str| {
            IndexOptions::builder()
                .unique(true)
                .name(name.to_string())
                .build()
        };
        let named = |name: &str| IndexOptions::builder().name(name.to_string()).build();
        self.categories
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "slug": 1 })
                    .options(unique("slug_unique"))
                    .build(),
            )
            .await?;
        let product_indexes = vec![
            IndexModel::builder()
                .keys(doc! { "sku": 1 })
                .options(unique("sku_unique"))
                .build(),
            IndexModel::builder()
                .keys(doc! { "name": "text", "description": "text" })
                .options(
                    IndexOptions::builder()
                        .name("search_text".to_string())
                        .default_language("english".to_string())
                        .weights(doc! { "name": 10, "description": 1 })
                        .build(),
                )
                .build(),
            IndexModel::builder()
                .keys(doc! { "archived": 1, "created_at": -1, "_id": -1 })
                .options(named("newest"))
                .build(),
            IndexModel::builder()
                .keys(doc! { "archived": 1, "price_amount": 1, "_id": 1 })
                .options(named("price"))
                .build(),
            IndexModel::builder()
                .keys(doc! { "archived": 1, "name": 1, "_id": 1 })
                .options(named("name"))
                .build(),
            IndexModel::builder()
                .keys(doc! { "category_id": 1, "archived": 1, "created_at": -1, "_id": -1 })
                .options(named("category_newest"))
                .build(),
        ];
        self.products.create_indexes(product_indexes).await?;
        super::mongo_stock::prepare(&self.database).await?;
        Ok(())
    }

    async fn find_product(&self, id: Uuid) -> Result<Option<ProductDoc>> {
        self.products
            .find_one(doc! { "_id": id.to_string() })
            .await
            .map_err(internal)
    }

    async fn ensure_category_exists(&self, id: Uuid) -> Result<()> {
        let found = self
            .categories
            .find_one(doc! { "_id": id.to_string() })
            .await
            .map_err(internal)?;
        match found {
            Some(_) => Ok(()),
            None => Err(Error::not_found("category", id)),
        }
    }

    /// The filter document of a listing (including its cursor position).
    fn listing_filter(listing: &ProductListing) -> Result<Document> {
        let f = &listing.filter;
        let mut filter = doc! { "archived": false };
        if let Some(category) = f.category_id {
            filter.insert("category_id", category.to_string());
        }
        if let Some(search) = &f.search {
            filter.insert("$text", doc! { "$search": search.as_str() });
        }
        let mut price = Document::new();
        if let Some(min) = f.min_price {
            price.insert("$gte", min);
        }
        if let Some(max) = f.max_price {
            price.insert("$lte", max);
        }
        if !price.is_empty() {
            filter.insert("price_amount", price);
        }
        if let Some(in_stock) = f.in_stock {
            let op = if in_stock { "$gt" } else { "$lte" };
            filter.insert(
                "$expr",
                doc! { op: [ { "$subtract": ["$stock_on_hand", "$reserved"] }, 0 ] },
            );
        }
        if let Some(after) = &listing.after {
            let op = if listing.sort.is_descending() {
                "$lt"
            } else {
                "$gt"
            };
            let (field, value): (&str, Bson) = match (&after.value, listing.sort) {
                (SortValue::Time(t), ProductSort::Newest) => ("created_at", bson_date(*t).into()),
                (SortValue::Amount(a), ProductSort::PriceAsc | ProductSort::PriceDesc) => {
                    ("price_amount", (*a).into())
                }
                (SortValue::Text(n), ProductSort::NameAsc) => ("name", n.clone().into()),
                _ => {
                    return Err(Error::invalid(
                        "`after` belongs to a listing with another sort order",
                    ))
                }
            };
            let id = after.id.to_string();
            filter.insert(
                "$or",
                vec![
                    doc! { field: { op: value.clone() } },
                    doc! { field: value, "_id": { op: id } },
                ],
            );
        }
        Ok(filter)
    }
}

#[async_trait]
impl CatalogStore for MongoCatalogStore {
    async fn ping(&self) -> Result<()> {
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn insert_category(&self, category: &Category) -> Result<()> {
        self.categories
            .insert_one(CategoryDoc::from(category))
            .await
            .map_err(|e| {
                if is_duplicate_key(&e) {
                    Error::conflict(format!(
                        "a category with slug {} already exists",
                        category.slug
                    ))
                } else {
                    internal(e)
                }
            })?;
        Ok(())
    }

    async fn list_categories(&self) -> Result<Vec<Category>> {
        let docs: Vec<CategoryDoc> = self
            .categories
            .find(doc! {})
            .sort(doc! { "name": 1, "_id": 1 })
            .await
            .map_err(internal)?
            .try_collect()
            .await
            .map_err(internal)?;
        docs.into_iter().map(Category::try_from).collect()
    }

    async fn categories_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Category>> {
        let docs: Vec<CategoryDoc> = self
            .categories
            .find(doc! { "_id": { "$in": ids_as_strings(ids) } })
            .await
            .map_err(internal)?
            .try_collect()
            .await
            .map_err(internal)?;
        docs.into_iter().map(Category::try_from).collect()
    }

    async fn category_by_slug(&self, slug: &str) -> Result<Option<Category>> {
        self.categories
            .find_one(doc! { "slug": slug })
            .await
            .map_err(internal)?
            .map(Category::try_from)
            .transpose()
    }

    async fn insert_product(&self, product: &Product) -> Result<()> {
        self.ensure_category_exists(product.category_id).await?;
        self.products
            .insert_one(ProductDoc::from(product))
            .await
            .map_err(|e| {
                if is_duplicate_key(&e) {
                    Error::conflict(format!("a product with SKU {} already exists", product.sku))
                } else {
                    internal(e)
                }
            })?;
        Ok(())
    }

    async fn update_product(
        &self,
        id: Uuid,
        c: &ProductChanges,
        now: DateTime<Utc>,
    ) -> Result<Product> {
        if let Some(category) = c.category_id {
            self.ensure_category_exists(category).await?;
        }
        let mut set = doc! { "updated_at": bson_date(now) };
        if let Some(v) = &c.sku {
            set.insert("sku", v.as_str());
        }
        if let Some(v) = &c.name {
            set.insert("name", v.as_str());
        }
        if let Some(v) = &c.description {
            set.insert("description", v.as_str());
        }
        if let Some(v) = c.price {
            set.insert("price_amount", v.amount);
            set.insert("price_currency", v.currency.to_string());
        }
        if let Some(v) = c.category_id {
            set.insert("category_id", v.to_string());
        }
        if let Some(v) = &c.images {
            set.insert("images", v.clone());
        }
        if let Some(v) = &c.attributes {
            let attributes: Vec<Document> = v
                .iter()
                .map(|a| doc! { "name": a.name.as_str(), "value": a.value.as_str() })
                .collect();
            set.insert("attributes", attributes);
        }
        let updated = self
            .products
            .find_one_and_update(doc! { "_id": id.to_string() }, doc! { "$set": set })
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| {
                if is_duplicate_key(&e) {
                    Error::conflict(format!(
                        "a product with SKU {} already exists",
                        c.sku.as_deref().unwrap_or("?")
                    ))
                } else {
                    internal(e)
                }
            })?;
        updated
            .ok_or_else(|| Error::not_found("product", id))?
            .try_into()
    }

    async fn archive_product(&self, id: Uuid, now: DateTime<Utc>) -> Result<Product> {
        let updated = self
            .products
            .find_one_and_update(
                doc! { "_id": id.to_string(), "archived": false },
                doc! { "$set": { "archived": true, "updated_at": bson_date(now) } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(internal)?;
        match updated {
            Some(d) => d.try_into(),
            None => match self.find_product(id).await? {
                Some(_) => Err(Error::conflict(format!("product {id} is already archived"))),
                None => Err(Error::not_found("product", id)),
            },
        }
    }

    async fn change_stock(
        &self,
        id: Uuid,
        change: StockChange,
        now: DateTime<Utc>,
    ) -> Result<Product> {
        let (filter, update) = match change {
            StockChange::Set { on_hand, expected } => {
                let mut filter =
                    doc! { "_id": id.to_string(), "reserved": { "$lte": on_hand.get() } };
                if let Some(expected) = expected {
                    filter.insert("stock_on_hand", expected.get());
                }
                let update = doc! { "$set": { "stock_on_hand": on_hand.get(), "updated_at": bson_date(now) } };
                (filter, update)
            }
            StockChange::Adjust(delta) => {
                let after = doc! { "$add": ["$stock_on_hand", i64::from(delta)] };
                let filter = doc! {
                    "_id": id.to_string(),
                    "$expr": { "$and": [
                        { "$gte": [after.clone(), "$reserved"] },
                        { "$gte": [after.clone(), 0_i64] },
                        { "$lte": [after, i64::from(super::MAX_STOCK)] },
                    ] },
                };
                let update = doc! {
                    "$inc": { "stock_on_hand": delta },
                    "$set": { "updated_at": bson_date(now) },
                };
                (filter, update)
            }
        };
        let updated = self
            .products
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(internal)?;
        match updated {
            Some(d) => d.try_into(),
            None => {
                let found = self.find_product(id).await?.map(|p| StockFound {
                    on_hand: p.stock_on_hand,
                    reserved: p.reserved,
                });
                Err(change.refused(id, found))
            }
        }
    }

    async fn products_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Product>> {
        let docs: Vec<ProductDoc> = self
            .products
            .find(doc! { "_id": { "$in": ids_as_strings(ids) } })
            .await
            .map_err(internal)?
            .try_collect()
            .await
            .map_err(internal)?;
        docs.into_iter().map(Product::try_from).collect()
    }

    async fn list_products(&self, listing: &ProductListing) -> Result<Vec<Product>> {
        let filter = Self::listing_filter(listing)?;
        let sort = match listing.sort {
            ProductSort::Newest => doc! { "created_at": -1, "_id": -1 },
            ProductSort::PriceAsc => doc! { "price_amount": 1, "_id": 1 },
            ProductSort::PriceDesc => doc! { "price_amount": -1, "_id": -1 },
            ProductSort::NameAsc => doc! { "name": 1, "_id": 1 },
        };
        let docs: Vec<ProductDoc> = self
            .products
            .find(filter)
            .sort(sort)
            .limit(listing.limit)
            .await
            .map_err(internal)?
            .try_collect()
            .await
            .map_err(internal)?;
        docs.into_iter().map(Product::try_from).collect()
    }

    /// One `find` per category (each served by the `category_newest` index).
    async fn newest_products_by_category(
        &self,
        category_ids: &[Uuid],
        limit: i64,
    ) -> Result<Vec<Product>> {
        let mut products = Vec::new();
        for category in category_ids {
            let docs: Vec<ProductDoc> = self
                .products
                .find(doc! { "category_id": category.to_string(), "archived": false })
                .sort(doc! { "created_at": -1, "_id": -1 })
                .limit(limit)
                .await
                .map_err(internal)?
                .try_collect()
                .await
                .map_err(internal)?;
            for d in docs {
                products.push(Product::try_from(d)?);
            }
        }
        Ok(products)
    }

    async fn count_products(&self) -> Result<u64> {
        self.products
            .count_documents(doc! {})
            .await
            .map_err(internal)
    }

    async fn insert_missing(
        &self,
        categories: &[Category],
        products: &[Product],
    ) -> Result<SeedOutcome> {
        Ok(SeedOutcome {
            categories: insert_ignoring_duplicates(
                &self.categories,
                categories.iter().map(CategoryDoc::from).collect(),
            )
            .await?,
            products: insert_ignoring_duplicates(
                &self.products,
                products.iter().map(ProductDoc::from).collect(),
            )
            .await?,
        })
    }
}

/// An unordered `insert_many` that skips documents whose `_id` or unique keys
/// exist already; returns how many were inserted.
async fn insert_ignoring_duplicates<T>(collection: &Collection<T>, docs: Vec<T>) -> Result<u64>
where
    T: Serialize + Send + Sync,
{
    if docs.is_empty() {
        return Ok(0);
    }
    let total = docs.len() as u64;
    match collection.insert_many(docs).ordered(false).await {
        Ok(result) => Ok(result.inserted_ids.len() as u64),
        Err(e) => match e.kind.as_ref() {
            ErrorKind::InsertMany(m)
                if m.write_concern_error.is_none()
                    && m.write_errors
                        .as_ref()
                        .is_some_and(|w| w.iter().all(|w| w.code == DUPLICATE_KEY)) =>
            {
                let skipped = m.write_errors.as_ref().map_or(0, Vec::len) as u64;
                Ok(total.saturating_sub(skipped))
            }
            _ => Err(internal(e)),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::{ProductCursor, ProductFilter, ProductFilterDraft};
    use platform::pagination::PageRequest;

    fn filter_of(
        draft: ProductFilterDraft,
        sort: ProductSort,
        after: Option<ProductCursor>,
    ) -> Document {
        let listing = ProductListing::new(
            ProductFilter::parse(draft).unwrap(),
            sort,
            &PageRequest { first: 10, after },
        )
        .unwrap();
        MongoCatalogStore::listing_filter(&listing).unwrap()
    }

    #[test]
    fn filters_become_one_query_document() {
        let category = Uuid::now_v7();
        let doc = filter_of(
            ProductFilterDraft {
                category_id: Some(category.to_string()),
                search: Some("oak lamp".into()),
                min_price: Some(100),
                max_price: Some(900),
                in_stock: Some(true),
            },
            ProductSort::Newest,
            None,
        );
        assert_eq!(
            doc,
            doc! {
                "archived": false,
                "category_id": category.to_string(),
                "$text": { "$search": "oak lamp" },
                "price_amount": { "$gte": 100_i64, "$lte": 900_i64 },
                "$expr": { "$gt": [ { "$subtract": ["$stock_on_hand", "$reserved"] }, 0 ] },
            }
        );
    }

    #[test]
    fn a_cursor_continues_after_its_sort_key_and_id() {
        let id = Uuid::now_v7();
        let cursor = ProductCursor {
            sort: ProductSort::PriceDesc,
            value: SortValue::Amount(500),
            id,
        };
        let doc = filter_of(
            ProductFilterDraft::default(),
            ProductSort::PriceDesc,
            Some(cursor),
        );
        assert_eq!(
            doc,
            doc! {
                "archived": false,
                "$or": [
                    { "price_amount": { "$lt": 500_i64 } },
                    { "price_amount": 500_i64, "_id": { "$lt": id.to_string() } },
                ],
            }
        );
        let cursor = ProductCursor {
            sort: ProductSort::NameAsc,
            value: SortValue::Text("Lamp".into()),
            id,
        };
        let doc = filter_of(
            ProductFilterDraft::default(),
            ProductSort::NameAsc,
            Some(cursor),
        );
        assert_eq!(
            doc.get_array("$or").unwrap()[1],
            Bson::Document(doc! { "name": "Lamp", "_id": { "$gt": id.to_string() } })
        );
    }

    #[test]
    fn documents_round_trip_products_and_categories() {
        let category = Category {
            id: Uuid::now_v7(),
            name: "Lamps".into(),
            slug: "lamps".into(),
            description: String::new(),
            created_at: crate::domain::now(),
        };
        let back = Category::try_from(CategoryDoc::from(&category)).unwrap();
        assert_eq!(back, category);
        let (_, products) = crate::seed::demo_catalogue();
        let product = products[0].clone();
        let back = Product::try_from(ProductDoc::from(&product)).unwrap();
        assert_eq!(back, product);
    }

    #[test]
    fn uuid_strings_sort_like_uuids() {
        let mut ids: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        let mut strings: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        ids.sort();
        strings.sort();
        assert_eq!(strings, ids.iter().map(Uuid::to_string).collect::<Vec<_>>());
    }
}
