//! Orders and carts as stored.

use chrono::{DateTime, Utc};
use platform::Money;
use uuid::Uuid;

use super::{OrderStatus, ShippingAddress};

/// An order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// UUID v7.
    pub id: Uuid,
    /// Human-readable number (`SO-001042`).
    pub number: i64,
    /// The customer.
    pub user_id: Uuid,
    /// Where it is.
    pub status: OrderStatus,
    /// The sum of its lines.
    pub total: Money,
    /// Where it goes.
    pub shipping_address: ShippingAddress,
    /// The card token given at checkout.
    pub payment_token: String,
    /// When it was placed (UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// The number customers see.
    pub fn display_number(&self) -> String {
        format!("SO-{:06}", self.number)
    }
}

/// A line of an order, priced at placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// The order.
    pub order_id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// Its SKU then.
    pub sku: String,
    /// Its name then.
    pub name: String,
    /// How many.
    pub quantity: i32,
    /// The unit price then.
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub line_total: Money,
}

/// A status an order went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The order.
    pub order_id: Uuid,
    /// The status entered.
    pub status: OrderStatus,
    /// Why, when known.
    pub reason: Option<String>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// A cart line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    /// The product.
    pub product_id: Uuid,
    /// How many.
    pub quantity: i32,
}
