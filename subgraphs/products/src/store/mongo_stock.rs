//! PLACEHOLDER being replaced: the order saga's stock ledger on MongoDB.

use std::sync::Arc;

use async_trait::async_trait;
use events::catalogue::{OrderCancelled, OrderPaid, OrderPlaced};
use events::consumer::HandlerError;
use events::outbox::OutboxStore;
use events::Envelope;

use super::mongo::MongoCatalogStore;
use super::{Applied, StockLedger};

fn todo() -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!(
        "the MongoDB stock ledger is not written yet"
    ))
}

#[async_trait]
impl StockLedger for MongoCatalogStore {
    async fn reserve(
        &self,
        _: &Envelope<OrderPlaced>,
        _: chrono::Duration,
    ) -> Result<Applied, HandlerError> {
        Err(todo())
    }
    async fn commit(&self, _: &Envelope<OrderPaid>) -> Result<Applied, HandlerError> {
        Err(todo())
    }
    async fn cancel(&self, _: &Envelope<OrderCancelled>) -> Result<Applied, HandlerError> {
        Err(todo())
    }
    async fn expire_due(&self, _: i64) -> Result<usize, HandlerError> {
        Err(todo())
    }
    fn outbox(&self) -> Arc<dyn OutboxStore> {
        unimplemented!()
    }
}
