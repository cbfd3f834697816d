//! The payments subgraph's queries.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ErrorExtensions, Object, ResultExt, ID};
use platform::auth;

use super::loaders::PaymentsById;
use super::types::{OrderRef, PaymentObject};
use crate::app::parse_id;

/// Queries.
#[derive(Default)]
pub struct Query;

#[Object]
impl Query {
    /// A payment the viewer may see.
    async fn payment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<PaymentObject> {
        let viewer = auth::viewer(ctx).extend()?;
        let id = parse_id(&id).extend()?;
        let payment = ctx
            .data::<DataLoader<PaymentsById>>()?
            .load_one(id)
            .await?
            .ok_or_else(|| platform::Error::not_found("payment", id).extend())?;
        viewer
            .ensure_owns(payment.user_id, "payment", id)
            .extend()?;
        Ok(PaymentObject(payment))
    }

    /// Resolves a `Payment` reference (null unless the viewer may see it).
    #[graphql(entity)]
    async fn find_payment_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<PaymentObject>> {
        let viewer = auth::viewer(ctx).extend()?;
        let id = parse_id(&id).extend()?;
        let payment = ctx.data::<DataLoader<PaymentsById>>()?.load_one(id).await?;
        // Another customer's payment resolves like an unknown one: null.
        Ok(payment
            .filter(|p| viewer.can_see(p.user_id))
            .map(PaymentObject))
    }

    /// Resolves an `Order` reference to attach its payment.
    #[graphql(entity)]
    async fn find_order_by_id(&self, id: ID) -> async_graphql::Result<OrderRef> {
        Ok(OrderRef {
            id: parse_id(&id).extend()?,
        })
    }
}
