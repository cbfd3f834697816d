//! The payments subgraph's objects.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Object, ResultExt, SimpleObject, ID};
use chrono::{DateTime, Utc};
use platform::auth;
use platform::money::MoneyObject;
use platform::Money;
use uuid::Uuid;

use super::loaders::{PaymentsByOrder, RefundsByPayment};
use crate::domain::{Payment, PaymentStatus};

/// A payment, as clients see it.
pub struct PaymentObject(pub Payment);

/// The card a payment was charged on.
#[derive(SimpleObject)]
#[graphql(name = "Card")]
pub struct CardObject {
    /// `VISA`, `MASTERCARD`, `AMEX`.
    pub brand: String,
    /// The last four digits.
    pub last4: String,
}

/// Money returned to the customer.
#[derive(SimpleObject)]
#[graphql(name = "Refund")]
pub struct RefundObject {
    /// The refund's id.
    pub id: ID,
    /// How much.
    pub amount: MoneyObject,
    /// Why.
    pub reason: String,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
}

/// The payment of an order.
#[Object(name = "Payment")]
impl PaymentObject {
    /// The payment's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The order it pays.
    async fn order_id(&self) -> ID {
        ID(self.0.order_id.to_string())
    }
    /// How much was charged (or asked).
    async fn amount(&self) -> MoneyObject {
        self.0.amount.into()
    }
    /// Where the payment is.
    async fn status(&self) -> PaymentStatus {
        self.0.status
    }
    /// The card charged, once the provider answered.
    async fn card(&self) -> Option<CardObject> {
        self.0.card.as_ref().map(|c| CardObject {
            brand: c.brand.clone(),
            last4: c.last4.clone(),
        })
    }
    /// Why it failed (`card_declined`, `insufficient_funds`, ...).
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }
    /// What was refunded so far.
    async fn refunded_amount(&self) -> MoneyObject {
        Money::new(self.0.refunded, self.0.amount.currency).into()
    }
    /// The refunds, oldest first.
    async fn refunds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RefundObject>> {
        let refunds = ctx
            .data::<DataLoader<RefundsByPayment>>()?
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(refunds
            .into_iter()
            .map(|r| RefundObject {
                id: ID(r.id.to_string()),
                amount: r.amount.into(),
                reason: r.reason,
                created_at: r.created_at,
            })
            .collect())
    }
    /// When it was recorded (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The orders subgraph's `Order`, extended with its payment.
pub struct OrderRef {
    pub(super) id: Uuid,
}

#[Object(name = "Order")]
impl OrderRef {
    /// The order's id.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The order's payment; null until payment is requested. Only the customer
    /// and administrators may see it.
    async fn payment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PaymentObject>> {
        let viewer = auth::viewer(ctx).extend()?;
        let payment = ctx
            .data::<DataLoader<PaymentsByOrder>>()?
            .load_one(self.id)
            .await?;
        // Another customer's payment reads like none.
        Ok(payment
            .filter(|p| viewer.can_see(p.user_id))
            .map(PaymentObject))
    }
}
