//! The failures of orders' use cases that a caller may act on, typed (the saga
//! retries [`OrderError::ChangedMeanwhile`]; checkout names the line behind
//! [`OrderError::NotSold`]), and mapped once, by `From<OrderError> for
//! platform::Error`, to the edge error: GraphQL `extensions.code` and REST
//! problem+json. Invalid input and unexpected failures are already edge
//! errors and pass through as [`OrderError::Other`].

use platform::error::ShortLine;
use platform::Error;
use uuid::Uuid;

use crate::domain::{OrderStatus, Trigger};

/// A result whose error is [`OrderError`].
pub type OrderResult<T> = std::result::Result<T, OrderError>;

/// What went wrong with an order or a cart.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// `NOT_FOUND`: no such order, or not the viewer's.
    #[error("order {0} not found")]
    OrderNotFound(Uuid),
    /// `NOT_FOUND`: the cart holds no such product.
    #[error("cart item {0} not found")]
    CartItemNotFound(Uuid),
    /// `NOT_FOUND`: a product cannot be bought: unknown or no longer sold
    /// (the words say which lines).
    #[error("{0}")]
    NotSold(String),
    /// `CONFLICT`: the order's status does not allow the change.
    #[error("an order that is {} cannot be {}", status_words(*.from), trigger_words(*.trigger))]
    InvalidTransition {
        /// The order's status.
        from: OrderStatus,
        /// The change asked for.
        trigger: Trigger,
    },
    /// `CONFLICT`: another change of the same order came first (worth
    /// applying again: it reads the new status).
    #[error("order {id} is no longer {}", .from.as_str())]
    ChangedMeanwhile {
        /// The order.
        id: Uuid,
        /// The status the change was decided on.
        from: OrderStatus,
    },
    /// `CONFLICT`: the customer has as many unpaid orders as allowed.
    #[error(
        "too many open orders: you have {open} unpaid orders (at most {max}); \
         pay or cancel one before placing another"
    )]
    TooManyOpenOrders {
        /// Unpaid orders now.
        open: i64,
        /// The most allowed.
        max: u32,
    },
    /// `CONFLICT`: the idempotency key belongs to another order request.
    #[error("this idempotency key was used for a different order")]
    IdempotencyKeyReused,
    /// `CONFLICT`: a concurrent request with the same key is placing the order.
    #[error("order being placed")]
    BeingPlaced,
    /// `CONFLICT` naming the lines (`extensions.lines`): the stock is short.
    #[error("{message}")]
    OutOfStock {
        /// Every short line, in words.
        message: String,
        /// Every short line.
        lines: Vec<ShortLine>,
    },
    /// `RATE_LIMITED`: too many live subscriptions of this customer.
    #[error("{0}")]
    TooManyWatchers(String),
    /// `SERVICE_UNAVAILABLE`: the catalogue did not answer.
    #[error("the catalogue is unavailable; try again shortly")]
    CatalogUnavailable,
    /// `SERVICE_UNAVAILABLE`: a service the saga inspector asked did not answer.
    #[error("{0} did not answer; try again shortly")]
    ServiceUnavailable(String),
    /// Any other failure, an edge error already (invalid input, internal).
    #[error(transparent)]
    Other(#[from] Error),
}

impl From<sqlx::Error> for OrderError {
    fn from(e: sqlx::Error) -> Self {
        OrderError::Other(e.into())
    }
}

impl From<OrderError> for Error {
    fn from(e: OrderError) -> Self {
        let message = e.to_string();
        match e {
            OrderError::OrderNotFound(_)
            | OrderError::CartItemNotFound(_)
            | OrderError::NotSold(_) => Error::NotFound(message),
            OrderError::InvalidTransition { .. }
            | OrderError::ChangedMeanwhile { .. }
            | OrderError::TooManyOpenOrders { .. }
            | OrderError::IdempotencyKeyReused
            | OrderError::BeingPlaced => Error::Conflict(message),
            OrderError::OutOfStock { message, lines } => Error::ShortLines { message, lines },
            OrderError::TooManyWatchers(_) => Error::TooManyRequests(message),
            OrderError::CatalogUnavailable | OrderError::ServiceUnavailable(_) => {
                Error::Unavailable(message)
            }
            OrderError::Other(e) => e,
        }
    }
}

/// A status as a customer reads it ("awaiting payment").
fn status_words(status: OrderStatus) -> String {
    status.as_str().to_lowercase().replace('_', " ")
}

/// What a refused change would have done to the order.
fn trigger_words(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Ship => "shipped",
        Trigger::Deliver => "delivered",
        _ => "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_code_and_keeps_its_words() {
        let id = Uuid::nil();
        let cases: Vec<(OrderError, &str)> = vec![
            (OrderError::OrderNotFound(id), "NOT_FOUND"),
            (
                OrderError::NotSold("line 1 cannot be bought".into()),
                "NOT_FOUND",
            ),
            (
                OrderError::InvalidTransition {
                    from: OrderStatus::Delivered,
                    trigger: Trigger::CancelRequested,
                },
                "CONFLICT",
            ),
            (
                OrderError::ChangedMeanwhile {
                    id,
                    from: OrderStatus::Paid,
                },
                "CONFLICT",
            ),
            (
                OrderError::OutOfStock {
                    message: "short".into(),
                    lines: Vec::new(),
                },
                "CONFLICT",
            ),
            (
                OrderError::TooManyWatchers("slow down".into()),
                "RATE_LIMITED",
            ),
            (OrderError::CatalogUnavailable, "SERVICE_UNAVAILABLE"),
            (OrderError::Other(Error::invalid("bad")), "BAD_USER_INPUT"),
        ];
        for (e, code) in cases {
            let words = e.to_string();
            let edge = Error::from(e);
            assert_eq!(edge.code(), code, "{words}");
            assert_eq!(edge.to_string(), words);
        }
        assert_eq!(
            OrderError::InvalidTransition {
                from: OrderStatus::AwaitingPayment,
                trigger: Trigger::Ship,
            }
            .to_string(),
            "an order that is awaiting payment cannot be shipped"
        );
    }
}
