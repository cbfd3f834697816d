//! The products side of the order saga: the event handler that reserves,
//! commits and releases stock, and the worker that releases lapsed
//! reservations. The rules are in `domain::reservation`; the atomic work is
//! the store's [`StockLedger`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use events::catalogue::{OrderCancelled, OrderPaid, OrderPlaced};
use events::consumer::{Handler, HandlerError};
use events::{Event, RawEnvelope};

use crate::store::StockLedger;

/// Applies `order.placed`, `order.paid` and `order.cancelled`.
pub struct StockHandler {
    ledger: Arc<dyn StockLedger>,
    ttl: chrono::Duration,
}

impl StockHandler {
    /// A handler holding reservations for `ttl`.
    pub fn new(ledger: Arc<dyn StockLedger>, ttl: Duration) -> Self {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15));
        StockHandler { ledger, ttl }
    }
}

#[async_trait]
impl Handler for StockHandler {
    fn handles(&self) -> &'static [&'static str] {
        &[OrderPlaced::TYPE, OrderPaid::TYPE, OrderCancelled::TYPE]
    }

    #[tracing::instrument(skip_all, fields(kind = %event.kind, id = %event.id), err)]
    async fn handle(&self, event: &RawEnvelope) -> Result<(), HandlerError> {
        let applied = match event.kind.as_str() {
            OrderPlaced::TYPE => self.ledger.reserve(&event.decode()?, self.ttl).await?,
            OrderPaid::TYPE => self.ledger.commit(&event.decode()?).await?,
            OrderCancelled::TYPE => self.ledger.cancel(&event.decode()?).await?,
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

/// Releases lapsed reservations, a hundred at a time until none is left (run
/// periodically). Every replica may run it: each reservation is released once
/// (`FOR UPDATE SKIP LOCKED`).
pub async fn release_expired_reservations(ledger: Arc<dyn StockLedger>) {
    loop {
        match ledger.expire_due(100).await {
            Ok(100) => continue,
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
