//! The payments side of the order saga: `payment.requested` charges the order,
//! `order.cancelled` remembers the cancellation and refunds when asked.

use async_trait::async_trait;
use events::catalogue::{OrderCancelled, PaymentRequested};
use events::consumer::{Handler, HandlerError};
use events::{Event, RawEnvelope};

use crate::app::{ChargeRequest, Payments};

/// Applies the events payments consumes.
pub struct SagaHandler {
    payments: Payments,
}

impl SagaHandler {
    /// A handler over the use cases.
    pub fn new(payments: Payments) -> Self {
        SagaHandler { payments }
    }
}

#[async_trait]
impl Handler for SagaHandler {
    fn handles(&self) -> &'static [&'static str] {
        &[PaymentRequested::TYPE, OrderCancelled::TYPE]
    }

    #[tracing::instrument(skip_all, fields(kind = %event.kind, id = %event.id), err)]
    async fn handle(&self, event: &RawEnvelope) -> Result<(), HandlerError> {
        match event.kind.as_str() {
            PaymentRequested::TYPE => {
                let requested = event.decode::<PaymentRequested>()?.payload;
                let request = ChargeRequest {
                    order_id: requested.order_id,
                    user_id: requested.user_id,
                    amount: requested.amount,
                    token: requested.payment_token,
                };
                self.payments.charge(&request, Some(event)).await?;
            }
            OrderCancelled::TYPE => {
                let cancelled = event.decode::<OrderCancelled>()?.payload;
                self.payments
                    .order_cancelled(
                        cancelled.order_id,
                        cancelled.refund,
                        &cancelled.reason,
                        event,
                    )
                    .await?;
            }
            other => {
                return Err(HandlerError::Permanent(anyhow::anyhow!(
                    "payments does not handle {other}"
                )))
            }
        }
        Ok(())
    }
}
