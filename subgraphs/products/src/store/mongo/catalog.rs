//! The catalogue in MongoDB: the [`CatalogStore`] port over the `products`
//! and `categories` collections.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::ErrorKind;
use mongodb::options::IndexOptions;
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database, IndexModel};
use platform::{Error, Result};
use serde::Serialize;
use uuid::Uuid;

use super::documents::{
    bson_date, is_duplicate_key, CategoryDoc, ProductDoc, CATEGORIES, DUPLICATE_KEY, PRODUCTS,
};
use crate::domain::{Category, Product, ProductChanges, ProductListing, ProductSort, SortValue};
use crate::error::CatalogError;
use crate::store::{CatalogStore, SeedOutcome, StockChange, StockFound};

/// The catalogue in MongoDB.
#[derive(Debug, Clone)]
pub struct MongoCatalogStore {
    database: Database,
    products: Collection<ProductDoc>,
    categories: Collection<CategoryDoc>,
}

impl MongoCatalogStore {
    /// The catalogue in `database`, creating its indexes (an existing
    /// identical index is left as is, so replicas may start together).
    pub async fn open(database: Database) -> anyhow::Result<Self> {
        let store = MongoCatalogStore {
            products: database.collection(PRODUCTS),
            categories: database.collection(CATEGORIES),
            database,
        };
        store.create_indexes().await?;
        Ok(store)
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
        Ok(())
    }
}

fn internal(e: mongodb::error::Error) -> Error {
    Error::Internal(e.into())
}

fn ids_as_strings(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

impl MongoCatalogStore {
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
            None => Err(CatalogError::CategoryNotFound(Some(id)).into()),
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
                    CatalogError::DuplicateSlug(category.slug.clone()).into()
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
                    CatalogError::DuplicateSku(Some(product.sku.clone())).into()
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
                    CatalogError::DuplicateSku(c.sku.clone()).into()
                } else {
                    internal(e)
                }
            })?;
        updated.ok_or(CatalogError::ProductNotFound(id))?.try_into()
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
            None => {
                let exists = self.find_product(id).await?.is_some();
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
                        { "$lte": [after, i64::from(crate::store::MAX_STOCK)] },
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
}
