//! The GraphQL types of the orders subgraph.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Object, ResultExt, SimpleObject, ID};
use chrono::{DateTime, Utc};
use platform::auth;
use platform::money::MoneyObject;
use platform::pagination::{connection, PageRequest};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::loaders::{HistoryByOrder, ItemsByOrder};
use super::OrderConnection;
use crate::app::{total_of, Orders};
use crate::clients::products::QuotedLine;
use crate::domain::{CartLine, Order, OrderStatus};

/// A product, owned by the products subgraph.
#[derive(SimpleObject)]
#[graphql(name = "Product", unresolvable = "id")]
pub struct ProductRef {
    /// The product's id.
    pub id: ID,
}

/// A user, owned by the users subgraph; this subgraph adds their orders.
pub struct UserRef {
    /// The user's id.
    pub id: Uuid,
}

#[Object(name = "User")]
impl UserRef {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The user's orders, newest first (the user themself or an admin).
    /// Nullable, so that when this subgraph fails the rest of a query stands.
    #[graphql(complexity = "platform::pagination::page_cost(first, child_complexity)")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Option<OrderConnection>> {
        let viewer = auth::viewer(ctx).extend()?;
        let page = PageRequest::<Uuid>::parse(first, after).extend()?;
        let rows = ctx
            .data::<Orders>()?
            .orders_of(&viewer, self.id, &page)
            .await
            .extend()?;
        Ok(Some(connection(&page, rows, |o| o.id, OrderObject)))
    }
}

/// An order.
pub struct OrderObject(pub Order);

/// A line of an order, priced when it was placed.
#[derive(SimpleObject)]
#[graphql(name = "OrderItem")]
pub struct OrderItemObject {
    /// The product (nullable: the products subgraph may be unavailable).
    pub product: Option<ProductRef>,
    /// Its SKU when ordered.
    pub sku: String,
    /// Its name when ordered.
    pub name: String,
    /// How many.
    pub quantity: i32,
    /// The unit price when ordered.
    pub unit_price: MoneyObject,
    /// `unitPrice × quantity`.
    pub line_total: MoneyObject,
}

/// Where an order goes.
#[derive(SimpleObject)]
#[graphql(name = "ShippingAddress")]
pub struct ShippingAddressObject {
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
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
}

/// A status an order went through.
#[derive(SimpleObject)]
#[graphql(name = "OrderStatusChange")]
pub struct StatusChangeObject {
    /// The status entered.
    pub status: OrderStatus,
    /// Why.
    pub reason: Option<String>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

#[Object(name = "Order")]
impl OrderObject {
    /// The order's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The number customers see (`SO-001042`).
    async fn number(&self) -> String {
        self.0.display_number()
    }
    /// Where the order is.
    async fn status(&self) -> OrderStatus {
        self.0.status
    }
    /// What was ordered.
    async fn items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderItemObject>> {
        let items = ctx
            .data::<DataLoader<ItemsByOrder>>()?
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(items
            .into_iter()
            .map(|i| OrderItemObject {
                product: Some(ProductRef {
                    id: ID(i.product_id.to_string()),
                }),
                sku: i.sku,
                name: i.name,
                quantity: i.quantity,
                unit_price: i.unit_price.into(),
                line_total: i.line_total.into(),
            })
            .collect())
    }
    /// The sum of the lines.
    async fn total(&self) -> MoneyObject {
        self.0.total.into()
    }
    /// Where it goes.
    async fn shipping_address(&self) -> ShippingAddressObject {
        let a = self.0.shipping_address.clone();
        ShippingAddressObject {
            name: a.name,
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
    /// Every status it went through, oldest first.
    async fn status_history(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<StatusChangeObject>> {
        let history = ctx
            .data::<DataLoader<HistoryByOrder>>()?
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(history
            .into_iter()
            .map(|c| StatusChangeObject {
                status: c.status,
                reason: c.reason,
                at: c.at,
            })
            .collect())
    }
    /// The customer.
    async fn customer(&self) -> UserRef {
        UserRef { id: self.0.user_id }
    }
    /// When it was placed (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The viewer's cart. Prices are today's, from the catalogue; if it cannot be
/// reached, the items are still listed, with no prices.
pub struct CartObject {
    lines: Vec<CartLine>,
    priced: OnceCell<Result<Vec<QuotedLine>, async_graphql::Error>>,
}

impl CartObject {
    /// A cart of these lines.
    pub fn new(lines: Vec<CartLine>) -> Self {
        CartObject {
            lines,
            priced: OnceCell::new(),
        }
    }

    async fn priced(&self, ctx: &Context<'_>) -> &Result<Vec<QuotedLine>, async_graphql::Error> {
        self.priced
            .get_or_init(|| async {
                let orders = ctx.data::<Orders>()?;
                orders.price(&self.lines).await.extend()
            })
            .await
    }
}

/// A cart line.
#[derive(SimpleObject)]
#[graphql(name = "CartItem")]
pub struct CartItemObject {
    /// The product.
    pub product: ProductRef,
    /// How many.
    pub quantity: i32,
    /// Today's unit price (null when the catalogue is unavailable).
    pub unit_price: Option<MoneyObject>,
    /// `unitPrice × quantity` (null when the catalogue is unavailable).
    pub line_total: Option<MoneyObject>,
}

#[Object(name = "Cart")]
impl CartObject {
    /// The lines, oldest first.
    async fn items(&self, ctx: &Context<'_>) -> Vec<CartItemObject> {
        let priced = self.priced(ctx).await.as_ref().ok();
        self.lines
            .iter()
            .map(|line| {
                let quote = priced.and_then(|p| p.iter().find(|q| q.product_id == line.product_id));
                CartItemObject {
                    product: ProductRef {
                        id: ID(line.product_id.to_string()),
                    },
                    quantity: line.quantity,
                    unit_price: quote.map(|q| q.unit_price.into()),
                    line_total: quote
                        .and_then(|q| q.unit_price.times(i64::from(line.quantity)).ok())
                        .map(Into::into),
                }
            })
            .collect()
    }

    /// How many units in all.
    async fn item_count(&self) -> i32 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    /// The sum at today's prices (null for an empty cart).
    async fn subtotal(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<MoneyObject>> {
        let priced = self.priced(ctx).await.as_ref().map_err(Clone::clone)?;
        if priced.is_empty() {
            return Ok(None);
        }
        let items: Vec<crate::domain::OrderItem> = priced
            .iter()
            .map(|q| {
                Ok(crate::domain::OrderItem {
                    order_id: Uuid::nil(),
                    product_id: q.product_id,
                    sku: q.sku.clone(),
                    name: q.name.clone(),
                    quantity: q.quantity,
                    unit_price: q.unit_price,
                    line_total: q.unit_price.times(i64::from(q.quantity))?,
                })
            })
            .collect::<platform::Result<_>>()
            .extend()?;
        Ok(Some(total_of(&items).extend()?.into()))
    }
}
