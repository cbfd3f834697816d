//! The failures of payments' use cases that a caller may act on, typed, and
//! mapped once, by `From<PaymentError> for platform::Error`, to the edge error
//! (GraphQL `extensions.code`, REST problem+json). The saga's handler retries
//! what maps to `SERVICE_UNAVAILABLE` (the card provider away or slow).

use platform::Error;
use uuid::Uuid;

/// What went wrong with a payment, a charge or a refund.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// `NOT_FOUND`: no such payment.
    #[error("payment {0} not found")]
    PaymentNotFound(Uuid),
    /// `CONFLICT`: only a charged payment can be refunded (its status, as
    /// stored: `PENDING`, `FAILED`, `REFUNDED`).
    #[error("a {} payment cannot be refunded", .0.to_lowercase().replace('_', " "))]
    NotRefundable(&'static str),
    /// `CONFLICT`: more than what is left was asked back.
    #[error("only {left} is left to refund, {wanted} was asked")]
    RefundTooLarge {
        /// What is left to refund, in minor units.
        left: i64,
        /// What was asked.
        wanted: i64,
    },
    /// `CONFLICT`: the card provider said no to the refund.
    #[error("the card provider refused the refund: {0}")]
    RefundRefused(String),
    /// `SERVICE_UNAVAILABLE`: the card provider failed (its words).
    #[error("{0}")]
    ProviderFailed(String),
    /// `SERVICE_UNAVAILABLE`: the card provider did not answer in time (what
    /// was asked: "", "the status lookup", "the refund").
    #[error("the card provider did not answer {}in time", if .0.is_empty() { String::new() } else { format!("{} ", .0) })]
    ProviderTimeout(&'static str),
}

impl From<PaymentError> for Error {
    fn from(e: PaymentError) -> Self {
        let message = e.to_string();
        match e {
            PaymentError::PaymentNotFound(_) => Error::NotFound(message),
            PaymentError::NotRefundable(_)
            | PaymentError::RefundTooLarge { .. }
            | PaymentError::RefundRefused(_) => Error::Conflict(message),
            PaymentError::ProviderFailed(_) | PaymentError::ProviderTimeout(_) => {
                Error::Unavailable(message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_code_and_its_words() {
        let cases = [
            (
                PaymentError::NotRefundable("PENDING"),
                "CONFLICT",
                "a pending payment cannot be refunded",
            ),
            (
                PaymentError::RefundTooLarge { left: 5, wanted: 9 },
                "CONFLICT",
                "only 5 is left to refund, 9 was asked",
            ),
            (
                PaymentError::ProviderTimeout(""),
                "SERVICE_UNAVAILABLE",
                "the card provider did not answer in time",
            ),
            (
                PaymentError::ProviderTimeout("the refund"),
                "SERVICE_UNAVAILABLE",
                "the card provider did not answer the refund in time",
            ),
        ];
        for (e, code, words) in cases {
            let edge = Error::from(e);
            assert_eq!((edge.code(), edge.to_string().as_str()), (code, words));
        }
    }
}
