//! The card provider port and the simulated provider the shop runs with.
//!
//! The simulated provider decides by card token, like a payment provider's test
//! mode: `tok_visa`, `tok_mastercard` and `tok_amex` succeed; `tok_chargeDeclined`,
//! `tok_insufficientFunds`, `tok_expiredCard` and `tok_incorrectCvc` are declined
//! with that reason; `tok_processingError` fails transiently; `tok_timeout` never
//! answers (the caller's timeout turns it into a transient failure); any other
//! token is declined as `invalid_token`.

use std::time::Duration;

use async_trait::async_trait;
use platform::Money;
use uuid::Uuid;

/// The card a charge was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardDetails {
    /// `VISA`, `MASTERCARD`, `AMEX`.
    pub brand: String,
    /// The last four digits.
    pub last4: String,
}

/// The provider's answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Charged.
    Approved {
        /// The card charged.
        card: CardDetails,
        /// The provider's id for the charge.
        reference: String,
    },
    /// Refused for good.
    Declined {
        /// Why (`card_declined`, `insufficient_funds`, ...).
        reason: String,
    },
}

/// The provider could not answer now; trying again later may work.
#[derive(Debug, Clone, thiserror::Error)]
#[error("card provider unavailable: {0}")]
pub struct ProviderUnavailable(pub String);

/// A card payment provider.
#[async_trait]
pub trait CardProvider: Send + Sync {
    /// Charges `amount` on the card behind `token`. `idempotency_key` makes a
    /// retried charge count once at the provider.
    async fn charge(
        &self,
        idempotency_key: Uuid,
        amount: Money,
        token: &str,
    ) -> Result<ChargeOutcome, ProviderUnavailable>;
}

/// The test-mode provider: outcomes by token, no network.
#[derive(Debug, Clone, Default)]
pub struct SimulatedProvider;

#[async_trait]
impl CardProvider for SimulatedProvider {
    async fn charge(
        &self,
        idempotency_key: Uuid,
        _amount: Money,
        token: &str,
    ) -> Result<ChargeOutcome, ProviderUnavailable> {
        let approved = |brand: &str, last4: &str| ChargeOutcome::Approved {
            card: CardDetails {
                brand: brand.into(),
                last4: last4.into(),
            },
            reference: format!("sim_{}", idempotency_key.simple()),
        };
        let declined = |reason: &str| ChargeOutcome::Declined {
            reason: reason.into(),
        };
        Ok(match token {
            "tok_visa" => approved("VISA", "4242"),
            "tok_mastercard" => approved("MASTERCARD", "4444"),
            "tok_amex" => approved("AMEX", "0005"),
            "tok_chargeDeclined" => declined("card_declined"),
            "tok_insufficientFunds" => declined("insufficient_funds"),
            "tok_expiredCard" => declined("expired_card"),
            "tok_incorrectCvc" => declined("incorrect_cvc"),
            "tok_processingError" => {
                return Err(ProviderUnavailable("processing error, try again".into()))
            }
            "tok_timeout" => {
                // Hangs like an unresponsive provider; the caller's timeout fires.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Err(ProviderUnavailable("no answer".into()));
            }
            _ => declined("invalid_token"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::Currency;

    async fn charge(token: &str) -> Result<ChargeOutcome, ProviderUnavailable> {
        SimulatedProvider
            .charge(Uuid::now_v7(), Money::new(100, Currency::EUR), token)
            .await
    }

    #[tokio::test]
    async fn tokens_decide_the_outcome() {
        assert!(
            matches!(charge("tok_visa").await, Ok(ChargeOutcome::Approved { card, .. }) if card.last4 == "4242")
        );
        assert_eq!(
            charge("tok_insufficientFunds").await.ok(),
            Some(ChargeOutcome::Declined {
                reason: "insufficient_funds".into()
            })
        );
        assert!(charge("tok_processingError").await.is_err());
        assert_eq!(
            charge("tok_bogus").await.ok(),
            Some(ChargeOutcome::Declined {
                reason: "invalid_token".into()
            })
        );
    }
}
