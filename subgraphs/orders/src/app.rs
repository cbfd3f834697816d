//! The use cases of orders, shared by GraphQL, REST and the saga's event
//! handler: the cart, placing an order (idempotently), and every status change,
//! each decided by the state machine and applied with its outgoing event in
//! one transaction.

use std::sync::Arc;

use events::catalogue::{
    OrderCancelled, OrderDelivered, OrderLine, OrderPaid, OrderPlaced, OrderShipped,
    PaymentRequested,
};
use events::RawEnvelope;
use events::UnitOfWork;
use platform::auth::Viewer;
use platform::pagination::PageRequest;
use platform::{Error, Money, Result};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clients::products::{PriceQuotes, QuotedLine};
use crate::config::NAME;
use crate::domain::checkout::{merge_lines, MAX_LINES};
use crate::domain::{
    decide, parse_id, CartLine, CartQuantity, Decision, Effect, IdempotencyKey, Order, OrderItem,
    OrderLineRequest, OrderStatus, PaymentToken, ShippingAddress, Trigger,
};
use crate::error::{OrderError, OrderResult};
use crate::live::StatusFeed;
use crate::store::{self, NewOrder, OrderStore};

/// How many unpaid orders a customer may have open at once, by default.
pub const DEFAULT_MAX_OPEN_ORDERS: u32 = 5;

/// What a customer asks for at checkout.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    /// Where to ship.
    pub shipping_address: ShippingAddress,
    /// The card token.
    pub payment_token: PaymentToken,
    /// Explicit lines (product id, quantity); `None` orders the cart.
    pub items: Option<Vec<(String, i64)>>,
}

/// Context of a status change.
#[derive(Debug, Clone, Default)]
pub struct ChangeContext {
    /// Why (shown in the history).
    pub reason: Option<String>,
    /// The payment, for `order.paid`.
    pub payment_id: Option<Uuid>,
    /// What a `payment.refunded` gave back; [`Orders::apply`] adds it to the
    /// order's refunded total and decides full or partial from that.
    pub refunded: Option<Money>,
}

/// Orders and carts.
#[derive(Clone)]
pub struct Orders {
    store: OrderStore,
    quotes: Arc<dyn PriceQuotes>,
    max_open_orders: u32,
    feed: StatusFeed,
    inspector: Option<crate::inspector::SagaInspector>,
}

impl Orders {
    /// Use cases over `store`, pricing with `quotes`.
    pub fn new(store: OrderStore, quotes: Arc<dyn PriceQuotes>) -> Self {
        Orders {
            store,
            quotes,
            max_open_orders: DEFAULT_MAX_OPEN_ORDERS,
            feed: StatusFeed::default(),
            inspector: None,
        }
    }

    /// The status changes this replica hears (its listener runs as a worker).
    pub fn feed(&self) -> &StatusFeed {
        &self.feed
    }

    /// An order's status as it is, then each change, until a final status: the
    /// viewer's own order, or any for an administrator, within the viewer's
    /// bound of live subscriptions.
    pub async fn watch_order(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<impl futures::Stream<Item = Order> + Send + 'static> {
        let order = self.order_for(viewer, id).await?;
        let slot = self
            .feed
            .admit(viewer.user_id)
            .map_err(|e| OrderError::TooManyWatchers(e.to_string()))?;
        Ok(self.feed.watch(self.store.clone(), order, slot))
    }

    /// Each status change of the viewer's orders from now on (of every order,
    /// for an administrator).
    pub fn watch_orders(
        &self,
        viewer: &Viewer,
    ) -> Result<impl futures::Stream<Item = Order> + Send + 'static> {
        let slot = self
            .feed
            .admit(viewer.user_id)
            .map_err(|e| OrderError::TooManyWatchers(e.to_string()))?;
        Ok(self.feed.watch_all(self.store.clone(), *viewer, slot))
    }

    /// The same use cases allowing `max` open unpaid orders per customer.
    pub fn with_max_open_orders(mut self, max: u32) -> Self {
        self.max_open_orders = max;
        self
    }

    /// The same use cases with the saga inspector (`orderEvents`).
    pub fn with_inspector(mut self, inspector: crate::inspector::SagaInspector) -> Self {
        self.inspector = Some(inspector);
        self
    }

    /// An order's saga across the services (administrators).
    pub async fn order_events(
        &self,
        viewer: &Viewer,
        token: Option<&platform::auth::BearerToken>,
        id: &str,
    ) -> Result<crate::inspector::OrderTrail> {
        let (inspector, token) = self.inspector_for(viewer, token)?;
        let id = parse_id("orderId", id)?;
        let order = self.order_for(viewer, &id.to_string()).await?;
        inspector.order_events(token, order.id).await
    }

    /// Replays one event of a saga at `service` (administrators).
    pub async fn replay_saga_event(
        &self,
        viewer: &Viewer,
        token: Option<&platform::auth::BearerToken>,
        service: &str,
        event_id: &str,
    ) -> Result<events::trail::Replayed> {
        let (inspector, token) = self.inspector_for(viewer, token)?;
        let id = parse_id("eventId", event_id)?;
        inspector.replay(token, service, id).await
    }

    fn inspector_for<'a>(
        &'a self,
        viewer: &Viewer,
        token: Option<&'a platform::auth::BearerToken>,
    ) -> Result<(
        &'a crate::inspector::SagaInspector,
        &'a platform::auth::BearerToken,
    )> {
        viewer.ensure_admin()?;
        let inspector = self
            .inspector
            .as_ref()
            .ok_or_else(|| Error::Unavailable("the saga inspector is not configured".into()))?;
        let token = token.ok_or_else(|| Error::Unauthenticated("sign in required".into()))?;
        Ok((inspector, token))
    }

    /// The store (for loaders).
    pub fn store(&self) -> &OrderStore {
        &self.store
    }

    /// The viewer's cart.
    pub async fn cart(&self, viewer: &Viewer) -> Result<Vec<CartLine>> {
        self.store.cart(viewer.user_id).await
    }

    /// Prices cart lines at today's prices.
    pub async fn price(&self, lines: &[CartLine]) -> Result<Vec<QuotedLine>> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let request: Vec<OrderLineRequest> = lines
            .iter()
            .map(|l| OrderLineRequest {
                product_id: l.product_id,
                quantity: l.quantity,
            })
            .collect();
        Ok(self.quotes.quote(&request).await?)
    }

    /// Adds `quantity` of a product to the viewer's cart.
    pub async fn add_to_cart(
        &self,
        viewer: &Viewer,
        product_id: &str,
        quantity: i64,
    ) -> Result<Vec<CartLine>> {
        let product_id = parse_id("productId", product_id)?;
        let quantity = CartQuantity::parse(quantity)?;
        // Only products that can be bought go into a cart.
        let line = OrderLineRequest {
            product_id,
            quantity: quantity.get(),
        };
        match self.quotes.quote(std::slice::from_ref(&line)).await {
            Ok(_) => {}
            Err(OrderError::NotSold(_)) => {
                return Err(OrderError::NotSold(format!(
                    "product {product_id} does not exist or is no longer sold"
                ))
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        self.store
            .add_to_cart(viewer.user_id, product_id, quantity.get(), MAX_LINES as i64)
            .await?;
        self.cart(viewer).await
    }

    /// Sets a cart line's quantity; 0 removes it.
    pub async fn update_cart_item(
        &self,
        viewer: &Viewer,
        product_id: &str,
        quantity: i64,
    ) -> Result<Vec<CartLine>> {
        let product_id = parse_id("productId", product_id)?;
        if quantity == 0 {
            self.store
                .remove_from_cart(viewer.user_id, product_id)
                .await?;
        } else {
            let quantity = CartQuantity::parse(quantity)?;
            self.store
                .set_cart_quantity(viewer.user_id, product_id, quantity.get())
                .await?;
        }
        self.cart(viewer).await
    }

    /// Removes a product from the viewer's cart.
    pub async fn remove_from_cart(
        &self,
        viewer: &Viewer,
        product_id: &str,
    ) -> Result<Vec<CartLine>> {
        let product_id = parse_id("productId", product_id)?;
        self.store
            .remove_from_cart(viewer.user_id, product_id)
            .await?;
        self.cart(viewer).await
    }

    /// Places an order at today's prices and announces it (`order.placed`).
    /// The same key with the same request returns the same order; with a
    /// different request it is `CONFLICT`.
    pub async fn place_order(
        &self,
        viewer: &Viewer,
        request: PlaceOrder,
        key: &str,
    ) -> Result<Order> {
        let key = IdempotencyKey::parse(key)?;
        // Explicit lines are part of the request; the cart is not (placing the
        // order empties it), so a retry is recognised before the cart is read.
        let explicit = match &request.items {
            Some(items) => {
                let raw: Vec<(Uuid, i64)> = items
                    .iter()
                    .map(|(id, q)| Ok((parse_id("productId", id)?, *q)))
                    .collect::<Result<_>>()?;
                if raw.is_empty() {
                    return Err(Error::invalid(
                        "the items are empty: pass at least one, or none to order the cart",
                    ));
                }
                Some(merge_lines(&raw)?)
            }
            None => None,
        };
        let hash = request_hash(explicit.as_deref(), &request);
        if let Some(existing) = self.replay(viewer, &key, &hash).await? {
            return Ok(existing);
        }
        let from_cart = explicit.is_none();
        let lines = match explicit {
            Some(lines) => lines,
            None => {
                let raw: Vec<(Uuid, i64)> = self
                    .store
                    .cart(viewer.user_id)
                    .await?
                    .into_iter()
                    .map(|l| (l.product_id, i64::from(l.quantity)))
                    .collect();
                if raw.is_empty() {
                    return Err(Error::invalid(
                        "the cart is empty: add items or pass them explicitly",
                    ));
                }
                merge_lines(&raw)?
            }
        };

        let quoted = self.quote_checkout(&lines).await?;
        let order_id = Uuid::now_v7();
        let items = price_lines(order_id, &quoted)?;
        let total = total_of(&items)?;
        let new_order = NewOrder {
            id: order_id,
            user_id: viewer.user_id,
            total,
            shipping_address: request.shipping_address,
            payment_token: request.payment_token.as_str().to_string(),
            idempotency_key: key.as_str().to_string(),
            request_hash: hash.clone(),
            items,
        };
        let mut tx = UnitOfWork::begin(self.store.pool(), NAME).await?;
        // One checkout of a customer at a time, so the cap below holds.
        store::lock_user(&mut tx, viewer.user_id).await?;
        let open = store::count_open_unpaid(&mut tx, viewer.user_id).await?;
        if open >= i64::from(self.max_open_orders) {
            tx.rollback().await?;
            // A concurrent retry with this key may have placed it meanwhile.
            if let Some(existing) = self.replay(viewer, &key, &hash).await? {
                return Ok(existing);
            }
            return Err(OrderError::TooManyOpenOrders {
                open,
                max: self.max_open_orders,
            }
            .into());
        }
        let Some(order) = store::insert_order(&mut tx, &new_order).await? else {
            // A concurrent request with the same key won.
            tx.rollback().await?;
            return self
                .replay(viewer, &key, &hash)
                .await?
                .ok_or_else(|| OrderError::BeingPlaced.into());
        };
        if from_cart {
            let products: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
            store::remove_cart_lines(&mut tx, viewer.user_id, &products).await?;
        }
        let placed = OrderPlaced {
            order_id,
            user_id: viewer.user_id,
            items: lines
                .iter()
                .map(|l| OrderLine {
                    product_id: l.product_id,
                    quantity: i64::from(l.quantity),
                })
                .collect(),
            currency: total.currency.to_string(),
        };
        tx.publish(placed).await?;
        tx.commit().await?;
        tracing::info!(order = %order.id, number = %order.display_number(), total = total.amount, "order placed");
        Ok(order)
    }

    /// Quotes checkout lines; a line that cannot be bought is named (its
    /// position and product) in the error.
    async fn quote_checkout(&self, lines: &[OrderLineRequest]) -> OrderResult<Vec<QuotedLine>> {
        match self.quotes.quote(lines).await {
            Err(OrderError::NotSold(detail)) => {
                // The catalogue names the missing product in its message.
                let named: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| detail.contains(&l.product_id.to_string()))
                    .map(|(i, l)| format!("line {} (product {})", i + 1, l.product_id))
                    .collect();
                if named.is_empty() {
                    return Err(OrderError::NotSold(detail));
                }
                Err(OrderError::NotSold(format!(
                    "{} cannot be bought: the product does not exist or is no longer sold",
                    named.join(", ")
                )))
            }
            other => other,
        }
    }

    async fn replay(
        &self,
        viewer: &Viewer,
        key: &IdempotencyKey,
        hash: &str,
    ) -> Result<Option<Order>> {
        match self
            .store
            .order_by_key(viewer.user_id, key.as_str())
            .await?
        {
            Some((order, stored)) if stored == hash => Ok(Some(order)),
            Some(_) => Err(OrderError::IdempotencyKeyReused.into()),
            None => Ok(None),
        }
    }

    /// The customer or an admin cancels an order.
    pub async fn cancel_order(
        &self,
        viewer: &Viewer,
        id: &str,
        reason: Option<&str>,
    ) -> Result<Order> {
        let order = self.order_for(viewer, id).await?;
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("cancelled by the customer");
        if reason.chars().count() > 500 {
            return Err(Error::invalid("a reason has at most 500 characters"));
        }
        let ctx = ChangeContext {
            reason: Some(reason.to_string()),
            ..ChangeContext::default()
        };
        self.apply(order.id, Trigger::CancelRequested, ctx, None)
            .await?
            .ok_or_else(|| OrderError::OrderNotFound(order.id).into())
    }

    /// An admin ships an order.
    pub async fn ship_order(&self, viewer: &Viewer, id: &str) -> Result<Order> {
        self.admin_change(viewer, id, Trigger::Ship, "shipped")
            .await
    }

    /// An admin marks an order delivered.
    pub async fn deliver_order(&self, viewer: &Viewer, id: &str) -> Result<Order> {
        self.admin_change(viewer, id, Trigger::Deliver, "delivered")
            .await
    }

    async fn admin_change(
        &self,
        viewer: &Viewer,
        id: &str,
        trigger: Trigger,
        reason: &str,
    ) -> Result<Order> {
        viewer.ensure_admin()?;
        let id = parse_id("id", id)?;
        let ctx = ChangeContext {
            reason: Some(reason.into()),
            ..ChangeContext::default()
        };
        self.apply(id, trigger, ctx, None)
            .await?
            .ok_or_else(|| OrderError::OrderNotFound(id).into())
    }

    /// An order the viewer may see.
    pub async fn order_for(&self, viewer: &Viewer, id: &str) -> Result<Order> {
        let id = parse_id("id", id)?;
        let order = self
            .store
            .orders_by_ids(&[id])
            .await?
            .pop()
            .ok_or(OrderError::OrderNotFound(id))?;
        viewer.ensure_owns(order.user_id, "order", id)?;
        Ok(order)
    }

    /// A page of a user's orders (the user themself or an admin), newest first.
    pub async fn orders_of(
        &self,
        viewer: &Viewer,
        user_id: Uuid,
        page: &PageRequest<Uuid>,
    ) -> Result<Vec<Order>> {
        viewer.ensure_can_access(user_id)?;
        self.store
            .orders_of_user(user_id, page.after, page.fetch_limit())
            .await
    }

    /// A page of all orders (admins), optionally in one status.
    pub async fn all_orders(
        &self,
        viewer: &Viewer,
        status: Option<OrderStatus>,
        page: &PageRequest<Uuid>,
    ) -> Result<Vec<Order>> {
        viewer.ensure_admin()?;
        self.store
            .all_orders(status, page.after, page.fetch_limit())
            .await
    }

    /// Applies a trigger to an order through the state machine: the status
    /// change, its history entry, the event it announces and (for an event) the
    /// inbox entry commit together. Returns `None` for a redelivered event or an
    /// unknown order of an event.
    pub async fn apply(
        &self,
        order_id: Uuid,
        trigger: Trigger,
        ctx: ChangeContext,
        cause: Option<&RawEnvelope>,
    ) -> OrderResult<Option<Order>> {
        let Some(mut tx) = UnitOfWork::caused_by(self.store.pool(), NAME, cause).await? else {
            return Ok(None);
        };
        let Some(order) = store::lock_order(&mut tx, order_id).await? else {
            if cause.is_some() {
                tracing::warn!(order = %order_id, ?trigger, "event for an unknown order; ignored");
                tx.commit().await?;
                return Ok(None);
            }
            return Err(OrderError::OrderNotFound(order_id));
        };
        let from = order.status;
        // A refund counts towards the order's refunded total, whatever its
        // status; whether it is full is decided on that total.
        let trigger = match (trigger, ctx.refunded) {
            (Trigger::Refunded | Trigger::PartiallyRefunded, Some(amount)) => {
                let refunded = store::add_refunded(&mut tx, order_id, amount.amount).await?;
                if refunded >= order.total.amount {
                    Trigger::Refunded
                } else {
                    Trigger::PartiallyRefunded
                }
            }
            (trigger, _) => trigger,
        };
        match decide(from, trigger) {
            Decision::Reject if cause.is_some() => {
                tracing::warn!(order = %order_id, status = from.as_str(), ?trigger, "event does not apply; ignored");
            }
            Decision::Reject => return Err(OrderError::InvalidTransition { from, trigger }),
            Decision::Ignore => {
                tracing::info!(order = %order_id, status = from.as_str(), ?trigger, "nothing to do");
            }
            Decision::Apply { to, effect } => {
                store::change_status(&mut tx, order_id, from, to, ctx.reason.as_deref()).await?;
                if let Some(effect) = effect {
                    announce(&mut tx, &order, effect, &ctx).await?;
                }
                tracing::info!(order = %order_id, from = from.as_str(), to = to.as_str(), ?trigger, "order status changed");
            }
        }
        let updated = store::lock_order(&mut tx, order_id).await?;
        tx.commit().await?;
        Ok(updated)
    }
}

async fn announce(
    tx: &mut UnitOfWork,
    order: &Order,
    effect: Effect,
    ctx: &ChangeContext,
) -> Result<()> {
    match effect {
        Effect::RequestPayment => {
            let event = PaymentRequested {
                order_id: order.id,
                user_id: order.user_id,
                amount: order.total,
                payment_token: order.payment_token.clone(),
            };
            tx.publish(event).await?;
        }
        Effect::AnnouncePaid => {
            let payment_id = ctx.payment_id.unwrap_or_default();
            tx.publish(OrderPaid {
                order_id: order.id,
                payment_id,
            })
            .await?;
        }
        Effect::AnnounceCancelled { refund, restock } => {
            let items = store::items_in(tx, order.id)
                .await?
                .into_iter()
                .map(|(product_id, quantity)| OrderLine {
                    product_id,
                    quantity: i64::from(quantity),
                })
                .collect();
            let event = OrderCancelled {
                order_id: order.id,
                reason: ctx.reason.clone().unwrap_or_else(|| "cancelled".into()),
                refund,
                restock,
                items,
            };
            tx.publish(event).await?;
        }
        Effect::AnnounceShipped => {
            tx.publish(OrderShipped { order_id: order.id }).await?;
        }
        Effect::AnnounceDelivered => {
            tx.publish(OrderDelivered { order_id: order.id }).await?;
        }
    }
    Ok(())
}

/// Order lines priced from a quote; lines short of stock are `CONFLICT`,
/// every one of them named (`extensions.lines`).
fn price_lines(order_id: Uuid, quoted: &[QuotedLine]) -> OrderResult<Vec<OrderItem>> {
    let short: Vec<(usize, &QuotedLine)> = quoted
        .iter()
        .enumerate()
        .filter(|(_, q)| q.available_quantity < i64::from(q.quantity))
        .collect();
    if !short.is_empty() {
        let described: Vec<String> = short
            .iter()
            .map(|(i, q)| {
                format!(
                    "line {} (product {}): only {} of {} ({}) left",
                    i + 1,
                    q.product_id,
                    q.available_quantity.max(0),
                    q.name,
                    q.sku
                )
            })
            .collect();
        return Err(OrderError::OutOfStock {
            message: described.join("; "),
            lines: short
                .iter()
                .map(|(_, q)| platform::error::ShortLine {
                    product_id: q.product_id.to_string(),
                    requested: i64::from(q.quantity),
                    available: q.available_quantity.max(0),
                })
                .collect(),
        });
    }
    quoted
        .iter()
        .map(|q| {
            Ok(OrderItem {
                order_id,
                product_id: q.product_id,
                sku: q.sku.clone(),
                name: q.name.clone(),
                quantity: q.quantity,
                unit_price: q.unit_price,
                line_total: q.unit_price.times(i64::from(q.quantity))?,
            })
        })
        .collect()
}

/// The sum of the lines; all in one currency.
pub fn total_of(items: &[OrderItem]) -> Result<Money> {
    let Some(first) = items.first() else {
        return Err(Error::invalid("an order needs at least one item"));
    };
    items
        .iter()
        .skip(1)
        .try_fold(first.line_total, |sum, i| sum.plus(i.line_total))
}

/// A hash of what identifies a checkout request: the explicit lines (or "the
/// cart", whatever it holds), the address and the token.
fn request_hash(lines: Option<&[OrderLineRequest]>, request: &PlaceOrder) -> String {
    let canonical = match lines {
        Some(lines) => {
            let mut sorted = lines.to_vec();
            sorted.sort_by_key(|l| l.product_id);
            serde_json::json!({
                "items": sorted,
                "address": request.shipping_address,
                "token": request.payment_token.as_str(),
            })
        }
        None => serde_json::json!({
            "from_cart": true,
            "address": request.shipping_address,
            "token": request.payment_token.as_str(),
        }),
    };
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
