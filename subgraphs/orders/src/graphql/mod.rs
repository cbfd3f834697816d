//! The orders subgraph: `Order @key(id)`, `User.orders` on the users
//! subgraph's `User`, the cart, checkout and the status changes. Entities and
//! list fields load through DataLoaders: one query per kind per request step.

mod loaders;
mod saga;
mod types;

use platform::graphql::{Limits, SchemaSettings};
use std::time::Duration;

use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, InputObject, Object, ResultExt, Schema, Subscription, ID};
use futures::{Stream, StreamExt};
use platform::auth;
use platform::pagination::{connection, PageRequest};
use uuid::Uuid;

pub use loaders::{HistoryByOrder, ItemsByOrder, OrdersById};
pub use types::{CartObject, OrderObject, UserRef};

use crate::app::{Orders, PlaceOrder};
use crate::domain::{parse_id, OrderStatus, PaymentToken, ShippingAddress};

/// The orders schema.
pub type OrdersSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// How long loaders collect keys before one batched query.
pub const LOADER_DELAY: Duration = Duration::from_millis(2);

/// The operations this subgraph accepts, unless the configuration overrides them.
pub const LIMITS: Limits = Limits {
    depth: 15,
    complexity: 5000,
};

/// Builds the schema over the use cases.
pub fn build_schema(orders: Orders, settings: impl Into<SchemaSettings>) -> OrdersSchema {
    build_schema_with(orders, settings, LOADER_DELAY)
}

/// Builds the schema with loaders that wait `loader_delay` to collect keys (a
/// test on a busy machine gives them longer, so a batch is never split).
pub fn build_schema_with(
    orders: Orders,
    settings: impl Into<SchemaSettings>,
    loader_delay: Duration,
) -> OrdersSchema {
    let store = orders.store().clone();
    platform::graphql::configure(
        Schema::build(Query, Mutation, SubscriptionRoot),
        settings,
        LIMITS,
    )
    .enable_federation()
    .enable_subscription_in_federation()
    .data(DataLoader::new(OrdersById(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(ItemsByOrder(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(HistoryByOrder(store), tokio::spawn).delay(loader_delay))
    .data(orders)
    .finish()
}

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

/// A shipping address as entered at checkout.
#[derive(InputObject)]
pub struct ShippingAddressInput {
    /// Recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// More.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 code (`DE`, `FR`, ...).
    pub country: String,
}

impl ShippingAddressInput {
    /// Parses the address.
    pub fn parse(&self) -> platform::Result<ShippingAddress> {
        ShippingAddress::parse(
            &self.name,
            &self.line1,
            self.line2.as_deref(),
            &self.city,
            &self.postal_code,
            &self.country,
        )
    }
}

/// A product and a quantity to order.
#[derive(InputObject)]
pub struct OrderLineInput {
    /// The product.
    pub product_id: ID,
    /// How many (1 to 100).
    pub quantity: i32,
}

/// Checkout.
#[derive(InputObject)]
pub struct PlaceOrderInput {
    /// Where to ship.
    pub shipping_address: ShippingAddressInput,
    /// The card token from the payment form (`tok_visa`, ...).
    pub payment_token: String,
    /// What to order; the cart when omitted.
    pub items: Option<Vec<OrderLineInput>>,
}

impl PlaceOrderInput {
    /// Parses the checkout.
    pub fn parse(&self) -> platform::Result<PlaceOrder> {
        Ok(PlaceOrder {
            shipping_address: self
                .shipping_address
                .parse()
                .map_err(|e| e.at("shippingAddress"))?,
            payment_token: PaymentToken::parse(&self.payment_token)
                .map_err(|e| e.at("paymentToken"))?,
            items: self.items.as_ref().map(|items| {
                items
                    .iter()
                    .map(|i| (i.product_id.to_string(), i64::from(i.quantity)))
                    .collect()
            }),
        })
    }
}

/// Mutations.
#[derive(Default)]
pub struct Mutation;

#[Object]
impl Mutation {
    /// Replays one event of an order's saga (administrators) at `service`:
    /// the publisher, when its outbox parked the event, or the consumer that
    /// dead-lettered it (see `Query.orderEvents`). Redelivered copies are
    /// applied at most once (the consumer's inbox).
    async fn replay_saga_event(
        &self,
        ctx: &Context<'_>,
        service: String,
        event_id: ID,
    ) -> async_graphql::Result<saga::ReplayObject> {
        let viewer = auth::admin(ctx).extend()?;
        let token = auth::BearerToken::of(ctx);
        let replayed = ctx
            .data::<Orders>()?
            .replay_saga_event(&viewer, token.as_ref(), &service, &event_id)
            .await
            .extend()?;
        Ok(replayed.into())
    }

    /// Adds a product to the viewer's cart.
    async fn add_to_cart(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        quantity: i32,
    ) -> async_graphql::Result<CartObject> {
        let viewer = auth::viewer(ctx).extend()?;
        let lines = ctx
            .data::<Orders>()?
            .add_to_cart(&viewer, &product_id, i64::from(quantity))
            .await
            .extend()?;
        Ok(CartObject::new(lines))
    }

    /// Sets the quantity of a product in the cart (0 removes it).
    async fn update_cart_item(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        quantity: i32,
    ) -> async_graphql::Result<CartObject> {
        let viewer = auth::viewer(ctx).extend()?;
        let lines = ctx
            .data::<Orders>()?
            .update_cart_item(&viewer, &product_id, i64::from(quantity))
            .await
            .extend()?;
        Ok(CartObject::new(lines))
    }

    /// Removes a product from the cart.
    async fn remove_from_cart(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
    ) -> async_graphql::Result<CartObject> {
        let viewer = auth::viewer(ctx).extend()?;
        Ok(CartObject::new(
            ctx.data::<Orders>()?
                .remove_from_cart(&viewer, &product_id)
                .await
                .extend()?,
        ))
    }

    /// Places an order (the cart, or the given items). Retrying with the same
    /// `idempotencyKey` returns the same order.
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceOrderInput,
        idempotency_key: String,
    ) -> async_graphql::Result<OrderObject> {
        let viewer = auth::viewer(ctx).extend()?;
        let request = input.parse().map_err(|e| e.at("input")).extend()?;
        Ok(OrderObject(
            ctx.data::<Orders>()?
                .place_order(&viewer, request, &idempotency_key)
                .await
                .extend()?,
        ))
    }

    /// Cancels an order: before payment the stock is released; after payment
    /// it is refunded and restocked.
    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<OrderObject> {
        let viewer = auth::viewer(ctx).extend()?;
        Ok(OrderObject(
            ctx.data::<Orders>()?
                .cancel_order(&viewer, &id, reason.as_deref())
                .await
                .extend()?,
        ))
    }

    /// Ships a paid order (administrators).
    async fn ship_order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<OrderObject> {
        let viewer = auth::viewer(ctx).extend()?;
        Ok(OrderObject(
            ctx.data::<Orders>()?
                .ship_order(&viewer, &id)
                .await
                .extend()?,
        ))
    }

    /// Marks a shipped order delivered (administrators).
    async fn deliver_order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<OrderObject> {
        let viewer = auth::viewer(ctx).extend()?;
        Ok(OrderObject(
            ctx.data::<Orders>()?
                .deliver_order(&viewer, &id)
                .await
                .extend()?,
        ))
    }
}
