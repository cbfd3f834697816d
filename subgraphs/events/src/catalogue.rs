//! Every event of the shop, one typed payload per routing key (see the event
//! catalogue in DESIGN.md). Adding a field with a default is compatible; anything
//! else bumps `VERSION`.

use chrono::{DateTime, Utc};
use platform::Money;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A payload type: its routing key and schema version.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The routing key (and envelope `type`).
    const TYPE: &'static str;
    /// The newest schema version.
    const VERSION: u32 = 1;
}

macro_rules! event {
    ($ty:ident, $key:literal) => {
        impl Event for $ty {
            const TYPE: &'static str = $key;
        }
    };
}

/// A product and a quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The product.
    pub product_id: Uuid,
    /// How many, at least 1.
    pub quantity: i64,
}

/// A reserved line with the price the reservation confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservedLine {
    /// The product.
    pub product_id: Uuid,
    /// How many were reserved.
    pub quantity: i64,
    /// The unit price at reservation.
    pub unit_price: Money,
}

/// A line that could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedLine {
    /// The product.
    pub product_id: Uuid,
    /// How many were asked for.
    pub requested: i64,
    /// How many were available (0 for an unknown or archived product).
    pub available: i64,
}

/// A user signed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    /// The new user.
    pub user_id: Uuid,
    /// Their email.
    pub email: String,
}
event!(UserRegistered, "user.registered");

/// An order was placed and awaits stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    /// The order.
    pub order_id: Uuid,
    /// Its customer.
    pub user_id: Uuid,
    /// What to reserve.
    pub items: Vec<OrderLine>,
    /// The order's currency (ISO 4217).
    pub currency: String,
}
event!(OrderPlaced, "order.placed");

/// Stock is held for every line of an order until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReserved {
    /// The order.
    pub order_id: Uuid,
    /// The reserved lines with their prices.
    pub lines: Vec<ReservedLine>,
    /// When the reservation lapses unless the order is paid.
    pub expires_at: DateTime<Utc>,
}
event!(StockReserved, "stock.reserved");

/// Stock could not be reserved for every line; nothing was reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRejected {
    /// The order.
    pub order_id: Uuid,
    /// The lines short of stock.
    pub lines: Vec<RejectedLine>,
}
event!(StockRejected, "stock.rejected");

/// The order's total should be charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequested {
    /// The order.
    pub order_id: Uuid,
    /// Its customer.
    pub user_id: Uuid,
    /// How much.
    pub amount: Money,
    /// The card token from checkout.
    pub payment_token: String,
}
event!(PaymentRequested, "payment.requested");

/// The charge went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSucceeded {
    /// The order.
    pub order_id: Uuid,
    /// The payment.
    pub payment_id: Uuid,
    /// How much was charged.
    pub amount: Money,
}
event!(PaymentSucceeded, "payment.succeeded");

/// The charge was declined or failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailed {
    /// The order.
    pub order_id: Uuid,
    /// The payment.
    pub payment_id: Uuid,
    /// Why (`card_declined`, `insufficient_funds`, ...).
    pub reason: String,
}
event!(PaymentFailed, "payment.failed");

/// The order is paid: its reservation becomes a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPaid {
    /// The order.
    pub order_id: Uuid,
    /// The payment.
    pub payment_id: Uuid,
}
event!(OrderPaid, "order.paid");

/// The order is cancelled: release or restock its items, refund if it was paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    /// The order.
    pub order_id: Uuid,
    /// Why.
    pub reason: String,
    /// Whether money was taken and must be returned.
    pub refund: bool,
    /// Whether the stock was already sold (paid) and must be restocked, rather
    /// than a reservation released.
    #[serde(default)]
    pub restock: bool,
    /// The lines of the order, for restocking.
    #[serde(default)]
    pub items: Vec<OrderLine>,
}
event!(OrderCancelled, "order.cancelled");

/// Why a reservation was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// The order was not paid in time.
    Expired,
    /// The order was cancelled.
    Cancelled,
}

/// A reservation was released and its stock is available again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReleased {
    /// The order.
    pub order_id: Uuid,
    /// Why.
    pub reason: ReleaseReason,
}
event!(StockReleased, "stock.released");

/// Money went back to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    /// The order.
    pub order_id: Uuid,
    /// The payment.
    pub payment_id: Uuid,
    /// How much was refunded.
    pub amount: Money,
}
event!(PaymentRefunded, "payment.refunded");

/// The order left the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderShipped {
    /// The order.
    pub order_id: Uuid,
}
event!(OrderShipped, "order.shipped");

/// The order reached the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDelivered {
    /// The order.
    pub order_id: Uuid,
}
event!(OrderDelivered, "order.delivered");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{DecodeError, Envelope, EventMeta};

    fn placed() -> OrderPlaced {
        OrderPlaced {
            order_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            items: vec![OrderLine {
                product_id: Uuid::now_v7(),
                quantity: 2,
            }],
            currency: "EUR".into(),
        }
    }

    #[test]
    fn an_event_round_trips_through_its_raw_envelope() {
        let env = Envelope::new("orders", placed(), EventMeta::default());
        let raw = env.clone().into_raw().expect("raw");
        assert_eq!(raw.kind, "order.placed");
        let json = serde_json::to_string(&raw).expect("json");
        assert!(json.contains(r#""type":"order.placed""#), "{json}");
        let back: crate::RawEnvelope = serde_json::from_str(&json).expect("parse");
        assert_eq!(back.decode::<OrderPlaced>().expect("decode"), env);
    }

    #[test]
    fn decoding_checks_type_version_and_shape() {
        let mut raw = Envelope::new("orders", placed(), EventMeta::default())
            .into_raw()
            .expect("raw");
        assert!(matches!(
            raw.decode::<OrderPaid>(),
            Err(DecodeError::WrongType { .. })
        ));
        raw.version = 2;
        assert!(matches!(
            raw.decode::<OrderPlaced>(),
            Err(DecodeError::UnsupportedVersion { .. })
        ));
        raw.version = 1;
        raw.payload = serde_json::json!({"order_id": "nope"});
        assert!(matches!(
            raw.decode::<OrderPlaced>(),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn caused_events_keep_the_correlation_and_name_their_cause() {
        let cause = Envelope::new(
            "orders",
            placed(),
            EventMeta {
                correlation_id: Some("c-1".into()),
                causation_id: None,
                traceparent: None,
            },
        );
        let meta = EventMeta::caused_by(&cause);
        assert_eq!(meta.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(meta.causation_id, Some(cause.id));
    }
}
