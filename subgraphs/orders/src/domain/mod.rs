//! The rules of orders, free of I/O: the state machine, the checkout inputs
//! ("parse, don't validate") and pricing.

pub mod checkout;
pub mod order;
pub mod status;

pub use checkout::{CartQuantity, IdempotencyKey, OrderLineRequest, PaymentToken, ShippingAddress};
pub use order::{CartLine, Order, OrderItem, StatusChange};
pub use status::{decide, Decision, Effect, OrderStatus, Trigger};

/// Parses an id given by a client (`what` names it in the error).
pub fn parse_id(what: &str, raw: &str) -> platform::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(raw.trim())
        .map_err(|_| platform::Error::invalid(format!("{what} must be a UUID, got {raw:?}")))
}
