//! DataLoaders: every product or category asked for while resolving one batch
//! of fields is fetched with a single store query.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::domain::{Category, Product};
use crate::store::CatalogStore;

/// Loads products (archived included) by id.
pub struct ProductsById {
    store: Arc<dyn CatalogStore>,
}

impl ProductsById {
    /// A loader over `store`.
    pub fn new(store: Arc<dyn CatalogStore>) -> Self {
        ProductsById { store }
    }
}

impl Loader<Uuid> for ProductsById {
    type Value = Product;
    type Error = Arc<platform::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Product>, Self::Error> {
        let products = self.store.products_by_ids(keys).await.map_err(Arc::new)?;
        Ok(products.into_iter().map(|p| (p.id, p)).collect())
    }
}

/// Loads categories by id.
pub struct CategoriesById {
    store: Arc<dyn CatalogStore>,
}

impl CategoriesById {
    /// A loader over `store`.
    pub fn new(store: Arc<dyn CatalogStore>) -> Self {
        CategoriesById { store }
    }
}

impl Loader<Uuid> for CategoriesById {
    type Value = Category;
    type Error = Arc<platform::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Category>, Self::Error> {
        let categories = self.store.categories_by_ids(keys).await.map_err(Arc::new)?;
        Ok(categories.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// Loads the first page (newest first) of `Category.products` for many
/// categories at once. The key is `(category id, rows to fetch)`.
pub struct NewestProductsByCategory {
    store: Arc<dyn CatalogStore>,
}

impl NewestProductsByCategory {
    /// A loader over `store`.
    pub fn new(store: Arc<dyn CatalogStore>) -> Self {
        NewestProductsByCategory { store }
    }
}

impl Loader<(Uuid, i64)> for NewestProductsByCategory {
    type Value = Vec<Product>;
    type Error = Arc<platform::Error>;

    async fn load(
        &self,
        keys: &[(Uuid, i64)],
    ) -> Result<HashMap<(Uuid, i64), Vec<Product>>, Self::Error> {
        // Usually every key asks for the same page size: one query per size.
        let mut by_limit: HashMap<i64, Vec<Uuid>> = HashMap::new();
        for (category, limit) in keys {
            by_limit.entry(*limit).or_default().push(*category);
        }
        let mut pages: HashMap<(Uuid, i64), Vec<Product>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (limit, categories) in by_limit {
            let products = self
                .store
                .newest_products_by_category(&categories, limit)
                .await
                .map_err(Arc::new)?;
            for p in products {
                if let Some(page) = pages.get_mut(&(p.category_id, limit)) {
                    page.push(p);
                }
            }
        }
        Ok(pages)
    }
}
