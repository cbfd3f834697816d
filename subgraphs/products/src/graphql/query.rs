//! The catalogue's queries and its entity resolvers.

use async_graphql::{Context, Object, Result, ResultExt, ID};

use super::types::{
    load_category, load_product, parse_id, product_connection, CategoryNode, ProductConnection,
    ProductFilterInput, ProductNode, ProductSortInput,
};
use crate::app::Catalog;

/// The root query type.
#[derive(Default)]
pub struct Query;

#[Object]
impl Query {
    /// Products for sale, filtered and sorted, a page at a time.
    #[graphql(complexity = "platform::pagination::page_cost(first, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProductFilterInput>,
        #[graphql(desc = "The order (default `NEWEST`).")] sort: Option<ProductSortInput>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<ProductConnection> {
        let page = ctx
            .data::<Catalog>()?
            .list_products(
                filter.unwrap_or_default().into(),
                sort.unwrap_or_default().into(),
                first,
                after,
            )
            .await
            .extend()?;
        Ok(product_connection(page))
    }

    /// A product by id (archived ones included).
    async fn product(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ProductNode>> {
        load_product(ctx, parse_id("id", &id)?).await
    }

    /// Every category, by name.
    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<CategoryNode>> {
        let categories = ctx.data::<Catalog>()?.categories().await.extend()?;
        Ok(categories.into_iter().map(CategoryNode).collect())
    }

    /// A category by id or by slug (give exactly one).
    async fn category(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> Result<Option<CategoryNode>> {
        let category = ctx
            .data::<Catalog>()?
            .category(id.as_ref().map(|i| i.as_str()), slug.as_deref())
            .await
            .extend()?;
        Ok(category.map(CategoryNode))
    }

    /// Resolves `Product` references from other subgraphs.
    #[graphql(entity)]
    async fn find_product_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ProductNode>> {
        load_product(ctx, parse_id("id", &id)?).await
    }

    /// Resolves `Category` references from other subgraphs.
    #[graphql(entity)]
    async fn find_category_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CategoryNode>> {
        load_category(ctx, parse_id("id", &id)?).await
    }
}
