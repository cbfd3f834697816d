//! The payments subgraph's DataLoaders: one query for many keys.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::ErrorExtensions;
use uuid::Uuid;

use crate::domain::{Payment, Refund};

/// Loads payments by id.
pub struct PaymentsById(pub(super) crate::store::PaymentStore);
/// Loads payments by order id.
pub struct PaymentsByOrder(pub(super) crate::store::PaymentStore);
/// Loads the refunds of payments.
pub struct RefundsByPayment(pub(super) crate::store::PaymentStore);

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
