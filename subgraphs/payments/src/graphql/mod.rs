//! The payments subgraph: `Payment @key(id)`, `Order.payment` on the orders
//! subgraph's `Order`, `payment(id)` and the admin `refundPayment`. Entities and
//! list fields load through DataLoaders: one query per kind per request step.

use platform::graphql::{Limits, SchemaSettings};
use std::collections::HashMap;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, Object, ResultExt, Schema, SimpleObject, ID,
};
use chrono::{DateTime, Utc};
use platform::auth;
use platform::money::MoneyObject;
use platform::Money;
use uuid::Uuid;

use crate::app::{parse_id, Payments};
use crate::domain::{Payment, PaymentStatus, Refund};

/// The payments schema.
pub type PaymentsSchema = Schema<Query, Mutation, EmptySubscription>;

/// How long loaders collect keys before one batched query.
pub const LOADER_DELAY: Duration = Duration::from_millis(2);

/// The operations this subgraph accepts, unless the configuration overrides them.
pub const LIMITS: Limits = Limits {
    depth: 15,
    complexity: 2000,
};

/// Builds the schema over the use cases.
pub fn build_schema(payments: Payments, settings: impl Into<SchemaSettings>) -> PaymentsSchema {
    build_schema_with(payments, settings, LOADER_DELAY)
}

/// Builds the schema with loaders that wait `loader_delay` to collect keys (a
/// test on a busy machine gives them longer, so a batch is never split).
pub fn build_schema_with(
    payments: Payments,
    settings: impl Into<SchemaSettings>,
    loader_delay: Duration,
) -> PaymentsSchema {
    let store = payments.store().clone();
    platform::graphql::configure(
        Schema::build(Query, Mutation, EmptySubscription),
        settings,
        LIMITS,
    )
    .enable_federation()
    .data(DataLoader::new(PaymentsById(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(PaymentsByOrder(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(RefundsByPayment(store), tokio::spawn).delay(loader_delay))
    .data(payments)
    .finish()
}

/// Loads payments by id.
pub struct PaymentsById(crate::store::PaymentStore);
/// Loads payments by order id.
pub struct PaymentsByOrder(crate::store::PaymentStore);
/// Loads the refunds of payments.
pub struct RefundsByPayment(crate::store::PaymentStore);

impl Loader<Uuid> for PaymentsById {
    type Value = Payment;
    type Error = async_graphql::Error;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Payment>, Self::Error> {
        let found = self.0.payments_by_ids(keys).await.map_err(|e| e.extend())?;
        Ok(found.into_iter().map(|p| (p.id, p)).collect())
    }
}

impl Loader<Uuid> for PaymentsByOrder {
    type Value = Payment;
    type Error = async_graphql::Error;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Payment>, Self::Error> {
        let found = self
            .0
            .payments_by_order_ids(keys)
            .await
            .map_err(|e| e.extend())?;
        Ok(found.into_iter().map(|p| (p.order_id, p)).collect())
    }
}

impl Loader<Uuid> for RefundsByPayment {
    type Value = Vec<Refund>;
    type Error = async_graphql::Error;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Refund>>, Self::Error> {
        let found = self
            .0
            .refunds_by_payment_ids(keys)
            .await
            .map_err(|e| e.extend())?;
        let mut by_payment: HashMap<Uuid, Vec<Refund>> = HashMap::new();
        for r in found {
            by_payment.entry(r.payment_id).or_default().push(r);
        }
        Ok(by_payment)
    }
}

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
    id: Uuid,
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
