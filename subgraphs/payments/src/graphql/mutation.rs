//! The payments subgraph's mutations.

use async_graphql::{Context, Object, ResultExt, ID};
use platform::auth;

use super::types::PaymentObject;
use crate::app::Payments;

/// Mutations.
#[derive(Default)]
pub struct Mutation;

#[Object]
impl Mutation {
    /// Refunds a payment (administrators only): `amount` in minor units, default
    /// all that is left.
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        payment_id: ID,
        amount: Option<i64>,
        reason: String,
    ) -> async_graphql::Result<PaymentObject> {
        let viewer = auth::viewer(ctx).extend()?;
        let payments = ctx.data::<Payments>()?;
        Ok(PaymentObject(
            payments
                .refund(&viewer, &payment_id, amount, &reason)
                .await
                .extend()?,
        ))
    }
}
