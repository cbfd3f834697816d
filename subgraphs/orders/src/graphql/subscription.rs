//! The orders subgraph's subscriptions: live order status.

use async_graphql::{Context, ResultExt, Subscription, ID};
use futures::{Stream, StreamExt};
use platform::auth;

use super::types::OrderObject;
use crate::app::Orders;

/// Live order status (served over SSE here; the router also offers clients
/// WebSocket). Each counts against the viewer's bound of live subscriptions.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// An order as it is now, then again at every status change; ends once the
    /// order is settled (DELIVERED, CANCELLED or REFUNDED). The viewer's own
    /// order, or any for an administrator. Resubscribing never misses the end:
    /// the first event is always the current status.
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<impl Stream<Item = OrderObject>> {
        let viewer = auth::viewer(ctx).extend()?;
        let orders = ctx.data::<Orders>()?;
        Ok(orders
            .watch_order(&viewer, &id)
            .await
            .extend()?
            .map(OrderObject))
    }

    /// The viewer's orders (every order, for an administrator), each time one
    /// changes status from now on.
    async fn my_order_status_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = OrderObject>> {
        let viewer = auth::viewer(ctx).extend()?;
        let orders = ctx.data::<Orders>()?;
        Ok(orders.watch_orders(&viewer).extend()?.map(OrderObject))
    }
}
