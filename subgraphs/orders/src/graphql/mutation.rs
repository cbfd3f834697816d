//! The orders subgraph's mutations and their inputs.

use async_graphql::{Context, InputObject, Object, ResultExt, ID};
use platform::auth;

use super::saga;
use super::types::{CartObject, OrderObject};
use crate::app::{Orders, PlaceOrder};
use crate::domain::{PaymentToken, ShippingAddress};

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
