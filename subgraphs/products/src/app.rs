//! The catalogue's use cases, shared by the GraphQL resolvers and the REST
//! handlers: each parses its raw input into domain types, applies the rules and
//! calls the store. Every write is an administrator's (the viewer is checked
//! first, before any input: `FORBIDDEN` otherwise), like the other services'
//! use cases.

use std::collections::HashMap;
use std::sync::Arc;

use platform::auth::Viewer;
use platform::pagination::PageRequest;
use platform::{Error, Money, Result};
use uuid::Uuid;

use crate::domain::{
    self, parse_id, Category, CategoryDraft, Product, ProductChanges, ProductCursor, ProductDraft,
    ProductFilter, ProductFilterDraft, ProductListing, ProductPatch, ProductSort, Slug,
};
use crate::error::CatalogError;
use crate::store::{CatalogStore, StockChange};

/// The most lines a quote may have.
pub const MAX_QUOTE_ITEMS: usize = 100;
/// The largest quantity of one line of a quote.
pub const MAX_QUOTE_QUANTITY: i64 = 1000;

/// One page of products plus what the connection needs to know.
#[derive(Debug, Clone)]
pub struct ProductPage {
    /// The validated request (for building the connection).
    pub request: PageRequest<ProductCursor>,
    /// The sort the page is in (for the cursors).
    pub sort: ProductSort,
    /// Up to `first + 1` rows; the extra one only signals a next page.
    pub rows: Vec<Product>,
}

impl ProductPage {
    /// The products of the page (without the look-ahead row).
    pub fn items(&self) -> &[Product] {
        &self.rows[..self.rows.len().min(self.request.first)]
    }

    /// The cursor after the last item, when there is a next page.
    pub fn next_cursor(&self) -> Option<ProductCursor> {
        if self.rows.len() > self.request.first {
            self.items().last().map(|p| self.sort.cursor_of(p))
        } else {
            None
        }
    }
}

/// A requested line of a price quote, unvalidated.
#[derive(Debug, Clone)]
pub struct QuoteRequestLine {
    /// The product id as sent.
    pub product_id: String,
    /// How many units.
    pub quantity: i64,
}

/// A priced line of a quote.
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteLine {
    /// The product.
    pub product_id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// Its current unit price.
    pub unit_price: Money,
    /// The quantity asked for.
    pub quantity: i64,
    /// How many can be sold right now.
    pub available_quantity: i32,
}

/// The catalogue's use cases over a store.
#[derive(Clone)]
pub struct Catalog {
    store: Arc<dyn CatalogStore>,
}

impl Catalog {
    /// The use cases over `store`.
    pub fn new(store: Arc<dyn CatalogStore>) -> Self {
        Catalog { store }
    }

    /// The underlying store (for loaders and seeding).
    pub fn store(&self) -> &Arc<dyn CatalogStore> {
        &self.store
    }

    /// Creates a category; a taken slug is `CONFLICT`.
    pub async fn create_category(&self, viewer: &Viewer, draft: CategoryDraft) -> Result<Category> {
        viewer.ensure_admin()?;
        let category = Category::from_draft(draft, domain::now())?;
        self.store.insert_category(&category).await?;
        Ok(category)
    }

    /// Every category, by name.
    pub async fn categories(&self) -> Result<Vec<Category>> {
        self.store.list_categories().await
    }

    /// A category by id or by slug (exactly one must be given).
    pub async fn category(&self, id: Option<&str>, slug: Option<&str>) -> Result<Option<Category>> {
        match (id, slug) {
            (Some(id), None) => {
                let id = parse_id("id", id)?;
                Ok(self
                    .store
                    .categories_by_ids(&[id])
                    .await?
                    .into_iter()
                    .next())
            }
            (None, Some(slug)) => {
                let slug = Slug::parse(slug)?;
                self.store.category_by_slug(slug.as_str()).await
            }
            _ => Err(Error::invalid("give exactly one of `id` and `slug`")),
        }
    }

    /// Creates a product in an existing category.
    pub async fn create_product(&self, viewer: &Viewer, draft: ProductDraft) -> Result<Product> {
        viewer.ensure_admin()?;
        let product = Product::from_draft(draft, domain::now())?;
        self.store.insert_product(&product).await?;
        Ok(product)
    }

    /// Changes the given fields of a product.
    pub async fn update_product(
        &self,
        viewer: &Viewer,
        id: &str,
        patch: ProductPatch,
    ) -> Result<Product> {
        viewer.ensure_admin()?;
        let id = parse_id("id", id)?;
        let changes = ProductChanges::parse(patch)?;
        self.store.update_product(id, &changes, domain::now()).await
    }

    /// Sets the units on hand; below the reserved units is `CONFLICT`. With
    /// `expected_on_hand`, only if the units on hand are that now (otherwise
    /// `CONFLICT`: a sale or another change happened since they were read).
    pub async fn set_stock(
        &self,
        viewer: &Viewer,
        product_id: &str,
        quantity: i64,
        expected_on_hand: Option<i64>,
    ) -> Result<Product> {
        viewer.ensure_admin()?;
        let id = parse_id("productId", product_id)?;
        let change = StockChange::parse_set(quantity, expected_on_hand)?;
        self.store.change_stock(id, change, domain::now()).await
    }

    /// Changes the units on hand by `delta` (received goods, breakage), relative
    /// to whatever they are now, so concurrent sales are never overwritten. 0 or
    /// beyond ±[`MAX_STOCK`](crate::store::MAX_STOCK) is `BAD_USER_INPUT`; a result below the reserved
    /// units (or below 0) is `CONFLICT`.
    pub async fn adjust_stock(
        &self,
        viewer: &Viewer,
        product_id: &str,
        delta: i64,
    ) -> Result<Product> {
        viewer.ensure_admin()?;
        let id = parse_id("productId", product_id)?;
        let change = StockChange::parse_adjust(delta)?;
        self.store.change_stock(id, change, domain::now()).await
    }

    /// Takes a product off sale; it stays resolvable by id.
    pub async fn archive_product(&self, viewer: &Viewer, id: &str) -> Result<Product> {
        viewer.ensure_admin()?;
        let id = parse_id("id", id)?;
        self.store.archive_product(id, domain::now()).await
    }

    /// One product by id, archived or not.
    pub async fn product(&self, id: &str) -> Result<Option<Product>> {
        let id = parse_id("id", id)?;
        Ok(self.store.products_by_ids(&[id]).await?.into_iter().next())
    }

    /// A page of products for sale.
    pub async fn list_products(
        &self,
        filter: ProductFilterDraft,
        sort: ProductSort,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ProductPage> {
        let filter = ProductFilter::parse(filter)?;
        let request = PageRequest::<ProductCursor>::parse(first, after)?;
        let listing = ProductListing::new(filter, sort, &request)?;
        let rows = self.store.list_products(&listing).await?;
        Ok(ProductPage {
            request,
            sort,
            rows,
        })
    }

    /// Prices a list of items at today's prices, one line per item in the same
    /// order. An unknown or archived product is `NOT_FOUND` naming its id; an
    /// empty list, more than [`MAX_QUOTE_ITEMS`] items, or a quantity outside
    /// 1..=[`MAX_QUOTE_QUANTITY`] is `BAD_USER_INPUT`. One store query.
    pub async fn quote(&self, items: Vec<QuoteRequestLine>) -> Result<Vec<QuoteLine>> {
        if items.is_empty() {
            return Err(Error::invalid("a quote needs at least one item"));
        }
        if items.len() > MAX_QUOTE_ITEMS {
            return Err(Error::invalid(format!(
                "a quote has at most {MAX_QUOTE_ITEMS} items, got {}",
                items.len()
            )));
        }
        let mut wanted = Vec::with_capacity(items.len());
        for item in &items {
            let id = parse_id("product_id", &item.product_id)?;
            if !(1..=MAX_QUOTE_QUANTITY).contains(&item.quantity) {
                return Err(Error::invalid(format!(
                    "the quantity of product {id} must be between 1 and {MAX_QUOTE_QUANTITY}, got {}",
                    item.quantity
                )));
            }
            wanted.push((id, item.quantity));
        }
        let ids: Vec<Uuid> = wanted.iter().map(|(id, _)| *id).collect();
        let found: HashMap<Uuid, Product> = self
            .store
            .products_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|p| !p.archived)
            .map(|p| (p.id, p))
            .collect();
        wanted
            .into_iter()
            .map(|(id, quantity)| {
                let p = found.get(&id).ok_or(CatalogError::ProductNotFound(id))?;
                Ok(QuoteLine {
                    product_id: id,
                    sku: p.sku.clone(),
                    name: p.name.clone(),
                    unit_price: p.price,
                    quantity,
                    available_quantity: p.available_quantity(),
                })
            })
            .collect()
    }
}
