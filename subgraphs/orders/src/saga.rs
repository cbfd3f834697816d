//! The orders side of the saga: the events from products and payments become
//! triggers of the state machine (see `domain::status`).

use async_trait::async_trait;
use events::catalogue::{
    PaymentFailed, PaymentRefunded, PaymentSucceeded, ReleaseReason, StockRejected, StockReleased,
    StockReserved,
};
use events::consumer::{Handler, HandlerError};
use events::{Event, RawEnvelope};
use uuid::Uuid;

use crate::app::{ChangeContext, Orders};
use crate::domain::Trigger;
use crate::error::OrderError;

/// Applies the events orders consumes.
pub struct SagaHandler {
    orders: Orders,
}

impl SagaHandler {
    /// A handler over the use cases.
    pub fn new(orders: Orders) -> Self {
        SagaHandler { orders }
    }

    async fn reserved(
        &self,
        event: &RawEnvelope,
    ) -> Result<(Uuid, Trigger, ChangeContext), HandlerError> {
        let reserved = event.decode::<StockReserved>()?.payload;
        // The reservation confirms the quoted prices; if they moved, the order
        // is not charged a price the customer never saw.
        let items = self.orders.store().items_of(&[reserved.order_id]).await?;
        let changed = items.iter().any(|item| {
            reserved
                .lines
                .iter()
                .find(|l| l.product_id == item.product_id)
                .is_none_or(|l| l.unit_price != item.unit_price)
        });
        if changed && !items.is_empty() {
            let ctx = ChangeContext {
                reason: Some("prices changed since the quote".into()),
                ..ChangeContext::default()
            };
            return Ok((reserved.order_id, Trigger::CancelRequested, ctx));
        }
        let ctx = ChangeContext {
            reason: Some("stock reserved".into()),
            ..ChangeContext::default()
        };
        Ok((reserved.order_id, Trigger::StockReserved, ctx))
    }
}

fn because(reason: impl Into<String>) -> ChangeContext {
    ChangeContext {
        reason: Some(reason.into()),
        ..ChangeContext::default()
    }
}

#[async_trait]
impl Handler for SagaHandler {
    fn handles(&self) -> &'static [&'static str] {
        &[
            StockReserved::TYPE,
            StockRejected::TYPE,
            StockReleased::TYPE,
            PaymentSucceeded::TYPE,
            PaymentFailed::TYPE,
            PaymentRefunded::TYPE,
        ]
    }

    #[tracing::instrument(skip_all, fields(kind = %event.kind, id = %event.id), err)]
    async fn handle(&self, event: &RawEnvelope) -> Result<(), HandlerError> {
        let (order_id, trigger, ctx) = match event.kind.as_str() {
            StockReserved::TYPE => self.reserved(event).await?,
            StockRejected::TYPE => {
                let e = event.decode::<StockRejected>()?.payload;
                let short: Vec<String> = e
                    .lines
                    .iter()
                    .map(|l| format!("{} ({} of {})", l.product_id, l.available, l.requested))
                    .collect();
                (
                    e.order_id,
                    Trigger::StockRejected,
                    because(format!("out of stock: {}", short.join(", "))),
                )
            }
            StockReleased::TYPE => {
                let e = event.decode::<StockReleased>()?.payload;
                match e.reason {
                    ReleaseReason::Expired => (
                        e.order_id,
                        Trigger::ReservationExpired,
                        because("reservation expired"),
                    ),
                    // Our own cancellation coming back: nothing more to do.
                    ReleaseReason::Cancelled => {
                        let pool = self.orders.store().pool();
                        events::consumer::record_without_effect(pool, crate::config::NAME, event)
                            .await?;
                        return Ok(());
                    }
                }
            }
            PaymentSucceeded::TYPE => {
                let e = event.decode::<PaymentSucceeded>()?.payload;
                let ctx = ChangeContext {
                    reason: Some("payment succeeded".into()),
                    payment_id: Some(e.payment_id),
                    ..ChangeContext::default()
                };
                (e.order_id, Trigger::PaymentSucceeded, ctx)
            }
            PaymentFailed::TYPE => {
                let e = event.decode::<PaymentFailed>()?.payload;
                (
                    e.order_id,
                    Trigger::PaymentFailed,
                    because(format!("payment failed: {}", e.reason)),
                )
            }
            PaymentRefunded::TYPE => {
                let e = event.decode::<PaymentRefunded>()?.payload;
                // Full or partial is decided on the order's refunded total.
                let ctx = ChangeContext {
                    reason: Some(format!("refunded {}", e.amount.amount)),
                    payment_id: Some(e.payment_id),
                    refunded: Some(e.amount),
                };
                (e.order_id, Trigger::Refunded, ctx)
            }
            other => {
                return Err(HandlerError::Permanent(anyhow::anyhow!(
                    "orders does not handle {other}"
                )))
            }
        };
        self.orders
            .apply(order_id, trigger, ctx, Some(event))
            .await
            .map_err(|e| match e {
                // A concurrent change of the same order: try again.
                e @ OrderError::ChangedMeanwhile { .. } => HandlerError::Transient(e.into()),
                other => platform::Error::from(other).into(),
            })?;
        Ok(())
    }
}
