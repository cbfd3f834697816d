//! The GraphQL object and input types of the catalogue.

use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ErrorExtensions, InputObject, Object, Result, ResultExt, ID};
use chrono::{DateTime, Utc};
use platform::money::MoneyObject;
use platform::pagination::PageRequest;
use uuid::Uuid;

use super::loaders::{CategoriesById, NewestProductsByCategory, ProductsById};
use crate::app::{Catalog, ProductPage};
use crate::domain::{
    Attribute, Category, Product, ProductCursor, ProductDraft, ProductFilterDraft, ProductPatch,
    ProductSort,
};

/// A Relay connection of products.
pub type ProductConnection = Connection<OpaqueCursor<ProductCursor>, ProductNode>;

/// Turns a page from the use cases into a connection.
pub fn product_connection(page: ProductPage) -> ProductConnection {
    let sort = page.sort;
    platform::pagination::connection(&page.request, page.rows, |p| sort.cursor_of(p), ProductNode)
}

/// Loads one product through the request's [`ProductsById`].
pub async fn load_product(ctx: &Context<'_>, id: Uuid) -> Result<Option<ProductNode>> {
    let loader = ctx.data::<DataLoader<ProductsById>>()?;
    let product = loader.load_one(id).await.map_err(|e| e.extend())?;
    Ok(product.map(ProductNode))
}

/// Loads one category through the request's [`CategoriesById`].
pub async fn load_category(ctx: &Context<'_>, id: Uuid) -> Result<Option<CategoryNode>> {
    let loader = ctx.data::<DataLoader<CategoriesById>>()?;
    let category = loader.load_one(id).await.map_err(|e| e.extend())?;
    Ok(category.map(CategoryNode))
}

/// Parses a GraphQL `ID` as a UUID (`BAD_USER_INPUT` otherwise).
pub fn parse_id(what: &str, id: &ID) -> Result<Uuid> {
    crate::domain::parse_id(what, id.as_str()).extend()
}

/// Something for sale.
pub struct ProductNode(pub Product);

#[Object(name = "Product")]
impl ProductNode {
    /// The product's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stock keeping unit, unique (e.g. `LAMP-0001`).
    async fn sku(&self) -> &str {
        &self.0.sku
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Long description (may be empty).
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Unit price.
    async fn price(&self) -> MoneyObject {
        self.0.price.into()
    }

    /// The category it belongs to.
    async fn category(&self, ctx: &Context<'_>) -> Result<CategoryNode> {
        let id = self.0.category_id;
        load_category(ctx, id)
            .await?
            .ok_or_else(|| platform::Error::not_found("category", id).extend())
    }

    /// Image URLs, the first being the main one.
    async fn images(&self) -> &[String] {
        &self.0.images
    }

    /// Named properties such as colour or material.
    async fn attributes(&self) -> Vec<ProductAttribute> {
        self.0
            .attributes
            .iter()
            .cloned()
            .map(ProductAttribute)
            .collect()
    }

    /// Units that can be ordered now (on hand minus reserved).
    async fn available_quantity(&self) -> i32 {
        self.0.available_quantity()
    }

    /// Units in the warehouse, reserved ones included (administrators, null
    /// with `FORBIDDEN` for others; pass it to `setStock` as
    /// `expectedStockOnHand`).
    async fn stock_on_hand(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
        platform::auth::admin(ctx).extend()?;
        Ok(Some(self.0.stock_on_hand))
    }

    /// Units held for unpaid orders (administrators, null with `FORBIDDEN`
    /// for others).
    async fn reserved_quantity(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
        platform::auth::admin(ctx).extend()?;
        Ok(Some(self.0.reserved))
    }

    /// Archived products are no longer sold or listed.
    async fn archived(&self) -> bool {
        self.0.archived
    }

    /// When the product was added.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A named property of a product.
pub struct ProductAttribute(pub Attribute);

#[Object]
impl ProductAttribute {
    /// The property, e.g. `colour`.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its value, e.g. `green`.
    async fn value(&self) -> &str {
        &self.0.value
    }
}

/// A group of products.
pub struct CategoryNode(pub Category);

#[Object(name = "Category")]
impl CategoryNode {
    /// The category's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Unique URL slug, e.g. `desk-lamps`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Description (may be empty).
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The category's products for sale, newest first.
    #[graphql(complexity = "platform::pagination::page_cost(first, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<ProductConnection> {
        let request = PageRequest::<ProductCursor>::parse(first, after.clone()).extend()?;
        if request.after.is_none() {
            // The first page, as a storefront shows for many categories at once:
            // batched across categories through a DataLoader.
            let loader = ctx.data::<DataLoader<NewestProductsByCategory>>()?;
            let rows = loader
                .load_one((self.0.id, request.fetch_limit()))
                .await
                .map_err(|e| e.extend())?
                .unwrap_or_default();
            return Ok(product_connection(ProductPage {
                request,
                sort: ProductSort::Newest,
                rows,
            }));
        }
        let filter = ProductFilterDraft {
            category_id: Some(self.0.id.to_string()),
            ..Default::default()
        };
        let page = ctx
            .data::<Catalog>()?
            .list_products(filter, ProductSort::Newest, first, after)
            .await
            .extend()?;
        Ok(product_connection(page))
    }
}

/// The orders a product listing can be sorted in.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug, Default)]
#[graphql(name = "ProductSort")]
pub enum ProductSortInput {
    /// Newest first.
    #[default]
    Newest,
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// By name, A to Z.
    NameAsc,
}

impl From<ProductSortInput> for ProductSort {
    fn from(s: ProductSortInput) -> Self {
        match s {
            ProductSortInput::Newest => ProductSort::Newest,
            ProductSortInput::PriceAsc => ProductSort::PriceAsc,
            ProductSortInput::PriceDesc => ProductSort::PriceDesc,
            ProductSortInput::NameAsc => ProductSort::NameAsc,
        }
    }
}

/// Which products to list.
#[derive(InputObject, Default)]
#[graphql(name = "ProductFilter")]
pub struct ProductFilterInput {
    /// Only this category.
    pub category_id: Option<ID>,
    /// Full-text search in names and descriptions (web search syntax:
    /// `"exact phrase"`, `-exclude`, `or`).
    pub search: Option<String>,
    /// Lowest price in minor units, inclusive.
    pub min_price: Option<i64>,
    /// Highest price in minor units, inclusive.
    pub max_price: Option<i64>,
    /// `true`: only products that can be ordered now; `false`: only sold-out ones.
    pub in_stock: Option<bool>,
}

impl From<ProductFilterInput> for ProductFilterDraft {
    fn from(f: ProductFilterInput) -> Self {
        ProductFilterDraft {
            category_id: f.category_id.map(|id| id.0),
            search: f.search,
            min_price: f.min_price,
            max_price: f.max_price,
            in_stock: f.in_stock,
        }
    }
}

/// A new category.
#[derive(InputObject)]
pub struct CreateCategoryInput {
    /// Display name (1 to 100 characters).
    pub name: String,
    /// Unique URL slug: lower-case letters and digits joined by hyphens.
    pub slug: String,
    /// Description (at most 1000 characters).
    pub description: Option<String>,
}

/// A price to set.
#[derive(InputObject)]
pub struct PriceInput {
    /// Minor units (e.g. cents), not negative.
    pub amount: i64,
    /// ISO 4217 currency code, e.g. `EUR`.
    pub currency: String,
}

/// A named property to set.
#[derive(InputObject)]
pub struct ProductAttributeInput {
    /// The property (1 to 100 characters, unique per product).
    pub name: String,
    /// Its value (1 to 500 characters).
    pub value: String,
}

impl From<ProductAttributeInput> for Attribute {
    fn from(a: ProductAttributeInput) -> Self {
        Attribute {
            name: a.name,
            value: a.value,
        }
    }
}

fn attributes(list: Vec<ProductAttributeInput>) -> Vec<Attribute> {
    list.into_iter().map(Attribute::from).collect()
}

/// A new product.
#[derive(InputObject)]
pub struct CreateProductInput {
    /// Unique SKU: 3 to 32 of `A-Z`, `0-9`, `-`, not starting with `-`.
    pub sku: String,
    /// Display name (1 to 200 characters).
    pub name: String,
    /// Description (at most 5000 characters).
    pub description: Option<String>,
    /// Unit price.
    pub price: PriceInput,
    /// An existing category.
    pub category_id: ID,
    /// Up to 10 http(s) image URLs.
    pub images: Option<Vec<String>>,
    /// Up to 50 named properties.
    pub attributes: Option<Vec<ProductAttributeInput>>,
    /// Initial units on hand (default 0).
    pub stock_on_hand: Option<i32>,
}

impl From<CreateProductInput> for ProductDraft {
    fn from(i: CreateProductInput) -> Self {
        ProductDraft {
            sku: i.sku,
            name: i.name,
            description: i.description,
            price_amount: i.price.amount,
            price_currency: i.price.currency,
            category_id: i.category_id.0,
            images: i.images.unwrap_or_default(),
            attributes: attributes(i.attributes.unwrap_or_default()),
            stock_on_hand: i.stock_on_hand.map(i64::from),
        }
    }
}

/// Changes to a product: omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateProductInput {
    /// New SKU.
    pub sku: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New unit price.
    pub price: Option<PriceInput>,
    /// Move to this category.
    pub category_id: Option<ID>,
    /// Replace all images.
    pub images: Option<Vec<String>>,
    /// Replace all attributes.
    pub attributes: Option<Vec<ProductAttributeInput>>,
}

impl From<UpdateProductInput> for ProductPatch {
    fn from(i: UpdateProductInput) -> Self {
        ProductPatch {
            sku: i.sku,
            name: i.name,
            description: i.description,
            price: i.price.map(|p| (p.amount, p.currency)),
            category_id: i.category_id.map(|id| id.0),
            images: i.images,
            attributes: i.attributes.map(attributes),
        }
    }
}
