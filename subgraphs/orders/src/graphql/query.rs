//! The orders subgraph's queries.

use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Object, ResultExt, ID};
use platform::auth;
use platform::pagination::{connection, PageRequest};
use uuid::Uuid;

use super::loaders::OrdersById;
use super::saga;
use super::types::{CartObject, OrderObject, UserRef};
use crate::app::Orders;
use crate::domain::{parse_id, OrderStatus};

/// A page of orders.
pub type OrderConnection = Connection<OpaqueCursor<Uuid>, OrderObject>;

/// Queries.
#[derive(Default)]
pub struct Query;

#[Object]
impl Query {
    /// The viewer's cart, priced at today's prices.
    async fn my_cart(&self, ctx: &Context<'_>) -> async_graphql::Result<CartObject> {
        let viewer = auth::viewer(ctx).extend()?;
        let orders = ctx.data::<Orders>()?;
        Ok(CartObject::new(orders.cart(&viewer).await.extend()?))
    }

    /// An order the viewer may see (their own, or any for an admin).
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<OrderObject> {
        let viewer = auth::viewer(ctx).extend()?;
        Ok(OrderObject(
            ctx.data::<Orders>()?
                .order_for(&viewer, &id)
                .await
                .extend()?,
        ))
    }

    /// Every order, newest first (administrators), optionally in one status.
    #[graphql(complexity = "platform::pagination::page_cost(first, child_complexity)")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        status: Option<OrderStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<OrderConnection> {
        let viewer = auth::viewer(ctx).extend()?;
        let page = PageRequest::<Uuid>::parse(first, after).extend()?;
        let rows = ctx
            .data::<Orders>()?
            .all_orders(&viewer, status, &page)
            .await
            .extend()?;
        Ok(connection(&page, rows, |o| o.id, OrderObject))
    }

    /// An order's saga across orders, products and payments (administrators):
    /// every event in causal order with its outbox state, its handling by each
    /// consumer (handled, waiting, dead-lettered) and, in `waitingOn`, the
    /// first thing the saga waits on. "Where is this order stuck?" in one query.
    async fn order_events(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> async_graphql::Result<saga::OrderEventsObject> {
        let viewer = auth::admin(ctx).extend()?;
        let token = auth::BearerToken::of(ctx);
        let trail = ctx
            .data::<Orders>()?
            .order_events(&viewer, token.as_ref(), &order_id)
            .await
            .extend()?;
        Ok(saga::OrderEventsObject(trail))
    }

    /// Resolves an `Order` reference (null unless the viewer may see it).
    #[graphql(entity)]
    async fn find_order_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<OrderObject>> {
        let viewer = auth::viewer(ctx).extend()?;
        let id = parse_id("id", &id).extend()?;
        let order = ctx.data::<DataLoader<OrdersById>>()?.load_one(id).await?;
        // Another customer's order resolves like an unknown one: null.
        Ok(order.filter(|o| viewer.can_see(o.user_id)).map(OrderObject))
    }

    /// Resolves a `User` reference to attach their orders.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<UserRef> {
        Ok(UserRef {
            id: parse_id("id", &id).extend()?,
        })
    }
}
