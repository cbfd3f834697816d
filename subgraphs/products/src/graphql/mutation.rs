//! The admin mutations that manage the catalogue. Every one requires an
//! administrator: no token is `UNAUTHENTICATED`, another role `FORBIDDEN`.

use async_graphql::{Context, Object, Result, ResultExt, ID};
use platform::auth::viewer;

use super::types::{
    CategoryNode, CreateCategoryInput, CreateProductInput, ProductNode, UpdateProductInput,
};
use crate::app::Catalog;
use crate::domain::CategoryDraft;

/// The root mutation type.
#[derive(Default)]
pub struct Mutation;

#[Object]
impl Mutation {
    /// Adds a category (admin). A taken slug is `CONFLICT`.
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        input: CreateCategoryInput,
    ) -> Result<CategoryNode> {
        let viewer = viewer(ctx).extend()?;
        let draft = CategoryDraft {
            name: input.name,
            slug: input.slug,
            description: input.description,
        };
        let category = ctx
            .data::<Catalog>()?
            .create_category(&viewer, draft)
            .await
            .extend()?;
        Ok(CategoryNode(category))
    }

    /// Adds a product (admin). A taken SKU is `CONFLICT`; an unknown category
    /// `NOT_FOUND`.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> Result<ProductNode> {
        let viewer = viewer(ctx).extend()?;
        let product = ctx
            .data::<Catalog>()?
            .create_product(&viewer, input.into())
            .await
            .extend()?;
        Ok(ProductNode(product))
    }

    /// Changes the given fields of a product (admin).
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateProductInput,
    ) -> Result<ProductNode> {
        let viewer = viewer(ctx).extend()?;
        let product = ctx
            .data::<Catalog>()?
            .update_product(&viewer, &id, input.into())
            .await
            .extend()?;
        Ok(ProductNode(product))
    }

    /// Sets the units on hand (admin). Below the reserved units is `CONFLICT`.
    /// With `expectedStockOnHand` (the `stockOnHand` the admin read), it is
    /// set only if that is still the level, else `CONFLICT`: a sale happened
    /// meanwhile. `adjustStock` avoids the read altogether.
    async fn set_stock(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        quantity: i32,
        expected_stock_on_hand: Option<i32>,
    ) -> Result<ProductNode> {
        let viewer = viewer(ctx).extend()?;
        let product = ctx
            .data::<Catalog>()?
            .set_stock(
                &viewer,
                &product_id,
                i64::from(quantity),
                expected_stock_on_hand.map(i64::from),
            )
            .await
            .extend()?;
        Ok(ProductNode(product))
    }

    /// Changes the units on hand by `delta` (admin): positive for goods
    /// received, negative for breakage or loss. Relative to the current level,
    /// so concurrent sales are kept. A result below the reserved units (or
    /// below 0) is `CONFLICT`; a `delta` of 0 is `BAD_USER_INPUT`.
    async fn adjust_stock(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        delta: i32,
    ) -> Result<ProductNode> {
        let viewer = viewer(ctx).extend()?;
        let product = ctx
            .data::<Catalog>()?
            .adjust_stock(&viewer, &product_id, i64::from(delta))
            .await
            .extend()?;
        Ok(ProductNode(product))
    }

    /// Takes a product off sale (admin); it stays resolvable by id. Archiving it
    /// twice is `CONFLICT`.
    async fn archive_product(&self, ctx: &Context<'_>, id: ID) -> Result<ProductNode> {
        let viewer = viewer(ctx).extend()?;
        let product = ctx
            .data::<Catalog>()?
            .archive_product(&viewer, &id)
            .await
            .extend()?;
        Ok(ProductNode(product))
    }
}
