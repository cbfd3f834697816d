//! The rules of payments, free of I/O: statuses, what may be refunded, and the
//! status a payment has after a refund.

use platform::Error;

use crate::error::PaymentError;
use serde::{Deserialize, Serialize};

/// Where a payment is in its life.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Recorded; the provider has not answered yet (or failed transiently).
    Pending,
    /// The card was charged.
    Succeeded,
    /// The charge was declined or refused.
    Failed,
    /// Some of the amount went back to the customer.
    PartiallyRefunded,
    /// All of the amount went back to the customer.
    Refunded,
}

impl PaymentStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentStatus::Pending => "PENDING",
            PaymentStatus::Succeeded => "SUCCEEDED",
            PaymentStatus::Failed => "FAILED",
            PaymentStatus::PartiallyRefunded => "PARTIALLY_REFUNDED",
            PaymentStatus::Refunded => "REFUNDED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING" => PaymentStatus::Pending,
            "SUCCEEDED" => PaymentStatus::Succeeded,
            "FAILED" => PaymentStatus::Failed,
            "PARTIALLY_REFUNDED" => PaymentStatus::PartiallyRefunded,
            "REFUNDED" => PaymentStatus::Refunded,
            _ => return None,
        })
    }

    /// Whether the provider's answer is in (nothing will charge it again).
    pub fn is_settled(&self) -> bool {
        !matches!(self, PaymentStatus::Pending)
    }
}

/// What a refund will do: how much, and the payment's status afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundPlan {
    /// Minor units to refund.
    pub amount: i64,
    /// The payment's status once refunded.
    pub status_after: PaymentStatus,
}

/// Plans a refund of `requested` (default: all that is left) on a payment of
/// `amount` with `refunded` already returned.
///
/// Only charged payments can be refunded (`CONFLICT` otherwise); the amount must
/// be positive (`BAD_USER_INPUT`) and at most what is left (`CONFLICT`).
pub fn plan_refund(
    status: PaymentStatus,
    amount: i64,
    refunded: i64,
    requested: Option<i64>,
) -> Result<RefundPlan, Error> {
    if !matches!(
        status,
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded
    ) {
        return Err(PaymentError::NotRefundable(status.as_str()).into());
    }
    let left = amount - refunded;
    let wanted = requested.unwrap_or(left);
    if wanted <= 0 {
        return Err(Error::invalid("a refund must be of a positive amount"));
    }
    if wanted > left {
        return Err(PaymentError::RefundTooLarge { left, wanted }.into());
    }
    let status_after = if wanted == left {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    };
    Ok(RefundPlan {
        amount: wanted,
        status_after,
    })
}

/// A refund reason: 1 to 500 characters once trimmed.
pub fn parse_reason(reason: &str) -> Result<String, Error> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid(
            "a refund reason must be 1 to 500 characters",
        ));
    }
    Ok(reason.to_string())
}

/// The card a charge was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardDetails {
    /// `VISA`, `MASTERCARD`, `AMEX`.
    pub brand: String,
    /// The last four digits.
    pub last4: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_refund_leaves_nothing_and_marks_the_payment_refunded() {
        let plan = plan_refund(PaymentStatus::Succeeded, 1000, 0, None).expect("refundable");
        assert_eq!(
            plan,
            RefundPlan {
                amount: 1000,
                status_after: PaymentStatus::Refunded
            }
        );
    }

    #[test]
    fn partial_refunds_add_up_to_at_most_the_amount() {
        let plan = plan_refund(PaymentStatus::Succeeded, 1000, 0, Some(300)).expect("partial");
        assert_eq!(plan.status_after, PaymentStatus::PartiallyRefunded);
        let rest = plan_refund(PaymentStatus::PartiallyRefunded, 1000, 300, None).expect("rest");
        assert_eq!(rest.amount, 700);
        let over = plan_refund(PaymentStatus::PartiallyRefunded, 1000, 300, Some(701));
        assert_eq!(over.map_err(|e| e.code()).err(), Some("CONFLICT"));
    }

    #[test]
    fn failed_pending_and_refunded_payments_cannot_be_refunded() {
        for status in [
            PaymentStatus::Failed,
            PaymentStatus::Pending,
            PaymentStatus::Refunded,
        ] {
            assert!(plan_refund(status, 1000, 0, None).is_err(), "{status:?}");
        }
        assert_eq!(
            plan_refund(PaymentStatus::Succeeded, 1000, 0, Some(0))
                .map_err(|e| e.code())
                .err(),
            Some("BAD_USER_INPUT")
        );
    }

    #[test]
    fn reasons_are_required_and_bounded() {
        assert!(parse_reason("  ").is_err());
        assert!(parse_reason(&"x".repeat(501)).is_err());
        assert_eq!(parse_reason(" damaged ").ok().as_deref(), Some("damaged"));
    }
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// UUID v7.
    pub id: uuid::Uuid,
    /// The order it pays (one payment per order).
    pub order_id: uuid::Uuid,
    /// The customer.
    pub user_id: uuid::Uuid,
    /// How much was (to be) charged.
    pub amount: platform::Money,
    /// Where it is.
    pub status: PaymentStatus,
    /// The card charged, once the provider answered.
    pub card: Option<CardDetails>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// Minor units refunded so far.
    pub refunded: i64,
    /// When it was recorded (UTC).
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it last changed (UTC).
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Money returned on a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// UUID v7.
    pub id: uuid::Uuid,
    /// The payment refunded.
    pub payment_id: uuid::Uuid,
    /// How much.
    pub amount: platform::Money,
    /// Why.
    pub reason: String,
    /// When (UTC).
    pub created_at: chrono::DateTime<chrono::Utc>,
}
