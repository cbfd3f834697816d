//! DataLoaders: orders by id, and the items and status history of many orders
//! in one query each.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::ErrorExtensions;
use uuid::Uuid;

use crate::domain::{Order, OrderItem, StatusChange};
use crate::store::OrderStore;

/// Orders by id.
pub struct OrdersById(pub(super) OrderStore);
/// Items of orders.
pub struct ItemsByOrder(pub(super) OrderStore);
/// Status history of orders.
pub struct HistoryByOrder(pub(super) OrderStore);

impl Loader<Uuid> for OrdersById {
    type Value = Order;
    type Error = async_graphql::Error;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Order>, Self::Error> {
        let found = self.0.orders_by_ids(keys).await.map_err(|e| e.extend())?;
        Ok(found.into_iter().map(|o| (o.id, o)).collect())
    }
}

impl Loader<Uuid> for ItemsByOrder {
    type Value = Vec<OrderItem>;
    type Error = async_graphql::Error;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<OrderItem>>, Self::Error> {
        let mut by_order: HashMap<Uuid, Vec<OrderItem>> = HashMap::new();
        for item in self.0.items_of(keys).await.map_err(|e| e.extend())? {
            by_order.entry(item.order_id).or_default().push(item);
        }
        Ok(by_order)
    }
}

impl Loader<Uuid> for HistoryByOrder {
    type Value = Vec<StatusChange>;
    type Error = async_graphql::Error;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<StatusChange>>, Self::Error> {
        let mut by_order: HashMap<Uuid, Vec<StatusChange>> = HashMap::new();
        for change in self.0.history_of(keys).await.map_err(|e| e.extend())? {
            by_order.entry(change.order_id).or_default().push(change);
        }
        Ok(by_order)
    }
}
