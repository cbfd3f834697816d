//! The card provider port and the simulated provider the shop runs with.
//!
//! The simulated provider decides by card token, like a payment provider's test
//! mode: `tok_visa`, `tok_mastercard` and `tok_amex` succeed; `tok_chargeDeclined`,
//! `tok_insufficientFunds`, `tok_expiredCard` and `tok_incorrectCvc` are declined
//! with that reason; `tok_processingError` fails transiently (nothing is
//! charged); `tok_timeout` never answers and charges nothing (the caller's
//! timeout turns it into a transient failure); `tok_timeoutAfterCharge`
//! charges the card but never answers (a charge "in doubt", which the caller
//! resolves on its next attempt by looking the idempotency key up); any other
//! token is declined as `invalid_token`.
//!
//! Charges are idempotent by key: the same key returns the first outcome. The
//! simulator remembers charges and refunds in memory; a refund of a charge it
//! does not remember (made before a restart) is accepted, like a sandbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use platform::Money;
use uuid::Uuid;

use crate::domain::CardDetails;

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

/// The provider's answer to a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// The money is on its way back.
    Refunded {
        /// The provider's id for the refund.
        reference: String,
    },
    /// Refused for good (the charge was never captured, or is already
    /// refunded in full).
    Refused {
        /// Why.
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

    /// What became of the charge made with `idempotency_key`: `None` if the
    /// provider never received it (charging again is safe).
    async fn charge_status(
        &self,
        idempotency_key: Uuid,
    ) -> Result<Option<ChargeOutcome>, ProviderUnavailable>;

    /// Refunds `amount` of the charge made with `charge_key`. `refund_key`
    /// makes a retried refund count once.
    async fn refund(
        &self,
        charge_key: Uuid,
        refund_key: Uuid,
        amount: Money,
    ) -> Result<RefundOutcome, ProviderUnavailable>;
}

#[derive(Debug, Default)]
struct Ledger {
    /// Charges by idempotency key, with the amount charged.
    charges: HashMap<Uuid, (ChargeOutcome, i64)>,
    /// Refunds by key: the charge and the amount.
    refunds: HashMap<Uuid, (Uuid, i64, RefundOutcome)>,
}

/// The test-mode provider: outcomes by token, no network.
#[derive(Debug, Clone, Default)]
pub struct SimulatedProvider {
    ledger: Arc<Mutex<Ledger>>,
}

impl SimulatedProvider {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl CardProvider for SimulatedProvider {
    async fn charge(
        &self,
        idempotency_key: Uuid,
        amount: Money,
        token: &str,
    ) -> Result<ChargeOutcome, ProviderUnavailable> {
        if let Some((outcome, _)) = self.ledger().charges.get(&idempotency_key) {
            return Ok(outcome.clone());
        }
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
        let outcome = match token {
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
            "tok_timeoutAfterCharge" => {
                // The card is charged, but the answer never comes back; the
                // caller's timeout fires and the charge is in doubt.
                self.ledger()
                    .charges
                    .insert(idempotency_key, (approved("VISA", "4242"), amount.amount));
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Err(ProviderUnavailable("no answer".into()));
            }
            _ => declined("invalid_token"),
        };
        self.ledger()
            .charges
            .insert(idempotency_key, (outcome.clone(), amount.amount));
        Ok(outcome)
    }

    async fn charge_status(
        &self,
        idempotency_key: Uuid,
    ) -> Result<Option<ChargeOutcome>, ProviderUnavailable> {
        Ok(self
            .ledger()
            .charges
            .get(&idempotency_key)
            .map(|(outcome, _)| outcome.clone()))
    }

    async fn refund(
        &self,
        charge_key: Uuid,
        refund_key: Uuid,
        amount: Money,
    ) -> Result<RefundOutcome, ProviderUnavailable> {
        let mut ledger = self.ledger();
        if let Some((_, _, outcome)) = ledger.refunds.get(&refund_key) {
            return Ok(outcome.clone());
        }
        let refused = |reason: &str| RefundOutcome::Refused {
            reason: reason.into(),
        };
        let already: i64 = ledger
            .refunds
            .values()
            .filter(|(c, _, o)| *c == charge_key && matches!(o, RefundOutcome::Refunded { .. }))
            .map(|(_, a, _)| *a)
            .sum();
        let outcome = match ledger.charges.get(&charge_key) {
            _ if amount.amount <= 0 => refused("invalid_amount"),
            Some((ChargeOutcome::Declined { .. }, _)) => refused("charge_not_captured"),
            Some((ChargeOutcome::Approved { .. }, charged))
                if already.saturating_add(amount.amount) > *charged =>
            {
                refused("amount_exceeds_charge")
            }
            // Approved, or a charge from before a restart: accepted.
            _ => RefundOutcome::Refunded {
                reference: format!("sim_re_{}", refund_key.simple()),
            },
        };
        ledger
            .refunds
            .insert(refund_key, (charge_key, amount.amount, outcome.clone()));
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::Currency;

    async fn charge(token: &str) -> Result<ChargeOutcome, ProviderUnavailable> {
        SimulatedProvider::default()
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

    #[tokio::test]
    async fn a_charge_that_timed_out_is_found_by_its_key_and_charged_once() {
        let provider = SimulatedProvider::default();
        let key = Uuid::now_v7();
        let eur = |a| Money::new(a, Currency::EUR);
        assert_eq!(provider.charge_status(key).await.ok(), Some(None));
        let hung = tokio::time::timeout(
            Duration::from_millis(50),
            provider.charge(key, eur(100), "tok_timeoutAfterCharge"),
        )
        .await;
        assert!(hung.is_err(), "no answer");
        assert!(matches!(
            provider.charge_status(key).await,
            Ok(Some(ChargeOutcome::Approved { .. }))
        ));
        // Retrying the charge with the same key answers at once, same charge.
        assert!(matches!(
            provider
                .charge(key, eur(100), "tok_timeoutAfterCharge")
                .await,
            Ok(ChargeOutcome::Approved { .. })
        ));
        // A plain timeout charged nothing.
        let other = Uuid::now_v7();
        let hung = tokio::time::timeout(
            Duration::from_millis(50),
            provider.charge(other, eur(100), "tok_timeout"),
        )
        .await;
        assert!(hung.is_err());
        assert_eq!(provider.charge_status(other).await.ok(), Some(None));
        // Refunds: idempotent by key, never more than was charged.
        let r1 = Uuid::now_v7();
        let first = provider.refund(key, r1, eur(60)).await.ok();
        assert!(matches!(first, Some(RefundOutcome::Refunded { .. })));
        assert_eq!(provider.refund(key, r1, eur(60)).await.ok(), first);
        assert_eq!(
            provider.refund(key, Uuid::now_v7(), eur(41)).await.ok(),
            Some(RefundOutcome::Refused {
                reason: "amount_exceeds_charge".into()
            })
        );
    }
}
