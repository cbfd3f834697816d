//! The products side of the order saga: the event handler that reserves,
//! commits and releases stock, and the worker that releases lapsed
//! reservations. The rules are [`Stock`]'s; the atomic work is the store's
//! ledger.

use std::time::Duration;

use async_trait::async_trait;
use events::catalogue::{OrderCancelled, OrderPaid, OrderPlaced};
use events::consumer::{Handler, HandlerError};
use events::{Event, RawEnvelope};

use crate::stock::{Stock, EXPIRY_BATCH};

/// Applies `order.placed`, `order.paid` and `order.cancelled`.
pub struct SagaHandler {
    stock: Stock,
    ttl: chrono::Duration,
}

impl SagaHandler {
    /// A handler holding reservations for `ttl`.
    pub fn new(stock: Stock, ttl: Duration) -> Self {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15));
        SagaHandler { stock, ttl }
    }
}

#[async_trait]
impl Handler for SagaHandler {
    fn handles(&self) -> &'static [&'static str] {
        &[OrderPlaced::TYPE, OrderPaid::TYPE, OrderCancelled::TYPE]
    }

    #[tracing::instrument(skip_all, fields(kind = %event.kind, id = %event.id), err)]
    async fn handle(&self, event: &RawEnvelope) -> Result<(), HandlerError> {
        let applied = match event.kind.as_str() {
            OrderPlaced::TYPE => self.stock.reserve(&event.decode()?, self.ttl).await?,
            OrderPaid::TYPE => self.stock.commit(&event.decode()?).await?,
            OrderCancelled::TYPE => self.stock.cancel(&event.decode()?).await?,
            other => {
                return Err(HandlerError::Permanent(anyhow::anyhow!(
                    "products does not handle {other}"
                )))
            }
        };
        tracing::debug!(?applied, "stock event handled");
        Ok(())
    }
}

/// Releases lapsed reservations, [`EXPIRY_BATCH`] at a time until none is
/// left (run periodically). Every replica may run it: each reservation is
/// released once (`FOR UPDATE SKIP LOCKED`).
pub async fn release_expired_reservations(stock: Stock) {
    loop {
        match stock.expire_due(EXPIRY_BATCH).await {
            Ok(n) if i64::try_from(n) == Ok(EXPIRY_BATCH) => continue,
            Ok(0) => return,
            Ok(n) => {
                tracing::info!(released = n, "released lapsed reservations");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "releasing lapsed reservations failed");
                return;
            }
        }
    }
}
