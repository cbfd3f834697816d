//! The rules of orders, free of I/O: the state machine, the checkout inputs
//! ("parse, don't validate") and pricing.

pub mod checkout;
pub mod order;
pub mod status;

pub use checkout::{CartQuantity, IdempotencyKey, OrderLineRequest, PaymentToken, ShippingAddress};
pub use order::{CartLine, Order, OrderItem, StatusChange};
pub use status::{decide, Decision, Effect, OrderStatus, Trigger};

pub use platform::input::parse_id;
