//! The use cases of payments, shared by GraphQL, REST and the event handlers:
//! charging an order (idempotently, once per order) and refunding.
//!
//! Every settled charge and every refund writes its event (`payment.succeeded`,
//! `payment.failed`, `payment.refunded`) to the outbox in the same transaction.

use std::sync::Arc;
use std::time::Duration;

use events::catalogue::{PaymentFailed, PaymentRefunded, PaymentSucceeded};
use events::RawEnvelope;
use events::UnitOfWork;
use platform::auth::Viewer;
use platform::{Error, Money, Result};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::clients::card_provider::{CardProvider, ChargeOutcome, RefundOutcome};
use crate::config::NAME;
use crate::domain::{parse_reason, plan_refund, Payment, PaymentStatus, Refund};
use crate::error::PaymentError;
use crate::store::{self, PaymentStore, Settlement};

/// A request to charge an order.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    /// The order.
    pub order_id: Uuid,
    /// Its customer.
    pub user_id: Uuid,
    /// How much.
    pub amount: Money,
    /// The card token from checkout.
    pub token: String,
}

/// Payments and refunds.
#[derive(Clone)]
pub struct Payments {
    store: PaymentStore,
    provider: Arc<dyn CardProvider>,
    provider_timeout: Duration,
}

impl Payments {
    /// Use cases over `store`, charging through `provider`.
    pub fn new(
        store: PaymentStore,
        provider: Arc<dyn CardProvider>,
        provider_timeout: Duration,
    ) -> Self {
        Payments {
            store,
            provider,
            provider_timeout,
        }
    }

    /// The store (for loaders).
    pub fn store(&self) -> &PaymentStore {
        &self.store
    }

    /// Charges an order once. A second call for the same order returns its
    /// payment without charging again. A provider that does not answer (or fails
    /// transiently) leaves the payment PENDING and returns `SERVICE_UNAVAILABLE`,
    /// so the caller retries; the retry first asks the provider what became of
    /// the charge (its idempotency key is the payment id) and settles on that
    /// answer rather than charging blindly. A zero amount (a free order)
    /// succeeds without the provider. When `cause` (the `payment.requested`
    /// event) is given, it is recorded in the inbox with the settlement.
    pub async fn charge(
        &self,
        request: &ChargeRequest,
        cause: Option<&RawEnvelope>,
    ) -> Result<Payment> {
        if request.amount.amount < 0 {
            return Err(Error::invalid("a charge cannot be of a negative amount"));
        }
        let start = self
            .store
            .start_charge(request.order_id, request.user_id, request.amount)
            .await?;
        let settlement = match start.charge {
            _ if start.payment.status.is_settled() => None,
            Some(earlier_attempts) => Some(
                self.charge_at_provider(
                    &start.payment,
                    earlier_attempts,
                    start.order_cancelled,
                    &request.token,
                )
                .await?,
            ),
            None => Some(Settlement::NothingToCharge),
        };
        self.record_settlement(start.payment, settlement, cause)
            .await
    }

    /// Asks the provider to charge a pending payment; if an earlier attempt
    /// may have reached it, asks for that charge's status first.
    async fn charge_at_provider(
        &self,
        payment: &Payment,
        earlier_attempts: i32,
        order_cancelled: bool,
        token: &str,
    ) -> Result<Settlement> {
        if earlier_attempts > 0 {
            if let Some(outcome) = self.charge_status(payment.id).await? {
                tracing::info!(payment = %payment.id, "charge in doubt found at the provider");
                return Ok(outcome.into());
            }
        }
        if order_cancelled {
            return Ok(Settlement::Failed {
                reason: "order_cancelled".into(),
            });
        }
        let call = self.provider.charge(payment.id, payment.amount, token);
        match tokio::time::timeout(self.provider_timeout, call).await {
            Ok(Ok(outcome)) => Ok(outcome.into()),
            Ok(Err(e)) => Err(PaymentError::ProviderFailed(e.to_string()).into()),
            Err(_) => Err(PaymentError::ProviderTimeout("").into()),
        }
    }

    /// The provider's record of the charge keyed by `payment_id` (`None`: it
    /// never got there).
    async fn charge_status(&self, payment_id: Uuid) -> Result<Option<ChargeOutcome>> {
        let call = self.provider.charge_status(payment_id);
        match tokio::time::timeout(self.provider_timeout, call).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(e)) => Err(PaymentError::ProviderFailed(e.to_string()).into()),
            Err(_) => Err(PaymentError::ProviderTimeout("the status lookup").into()),
        }
    }

    /// [`Payments::reconcile_in_doubt`] by hundreds, for the periodic worker,
    /// which reports its own outcome.
    pub async fn reconcile_logged(&self, older_than: Duration) {
        match self.reconcile_in_doubt(older_than, 100).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(settled = n, "charges in doubt reconciled"),
            Err(e) => tracing::warn!(error = %e, "reconciling charges in doubt failed"),
        }
    }

    /// Reconciles charges in doubt: pending payments that were sent to the
    /// provider and have not moved for `older_than`. Those the provider knows
    /// are settled on its answer (and announced); for an order cancelled
    /// meanwhile that the provider never charged, the payment fails. Returns
    /// how many were settled.
    pub async fn reconcile_in_doubt(&self, older_than: Duration, limit: i64) -> Result<usize> {
        let mut settled = 0;
        for payment in self.store.payments_in_doubt(older_than, limit).await? {
            let settlement = match self.charge_status(payment.id).await? {
                Some(outcome) => Settlement::from(outcome),
                None if self.store.is_order_cancelled(payment.order_id).await? => {
                    Settlement::Failed {
                        reason: "order_cancelled".into(),
                    }
                }
                // Never reached the provider: the retried payment.requested
                // (or its replay) charges it.
                None => continue,
            };
            let after = self
                .record_settlement(payment, Some(settlement), None)
                .await?;
            if after.status.is_settled() {
                settled += 1;
            }
        }
        Ok(settled)
    }

    /// Stores a settlement (if any) with its event, and `cause` in the inbox.
    async fn record_settlement(
        &self,
        payment: Payment,
        settlement: Option<Settlement>,
        cause: Option<&RawEnvelope>,
    ) -> Result<Payment> {
        let Some(mut tx) = UnitOfWork::caused_by(self.store.pool(), NAME, cause).await? else {
            return self.payment(payment.id).await;
        };
        let result = match settlement {
            None => payment,
            Some(settlement) => match store::settle(&mut tx, payment.id, &settlement).await? {
                None => self.locked(&mut tx, payment.id).await?,
                Some(settled) => {
                    match &settlement {
                        Settlement::Succeeded { .. } | Settlement::NothingToCharge => {
                            let event = PaymentSucceeded {
                                order_id: settled.order_id,
                                payment_id: settled.id,
                                amount: settled.amount,
                            };
                            tx.publish(event).await?;
                        }
                        Settlement::Failed { reason } => {
                            let event = PaymentFailed {
                                order_id: settled.order_id,
                                payment_id: settled.id,
                                reason: reason.clone(),
                            };
                            tx.publish(event).await?;
                        }
                    }
                    tracing::info!(payment = %settled.id, order = %settled.order_id, status = settled.status.as_str(), "payment settled");
                    settled
                }
            },
        };
        tx.commit().await?;
        Ok(result)
    }

    /// An administrator refunds `amount` (default: all that is left).
    pub async fn refund(
        &self,
        viewer: &Viewer,
        payment_id: &str,
        amount: Option<i64>,
        reason: &str,
    ) -> Result<Payment> {
        viewer.ensure_admin()?;
        let payment_id = parse_id(payment_id)?;
        let reason = parse_reason(reason)?;
        let mut tx = UnitOfWork::begin(self.store.pool(), NAME).await?;
        let payment = store::lock_payment(&mut tx, payment_id)
            .await?
            .ok_or(PaymentError::PaymentNotFound(payment_id))?;
        let refunded = self
            .refund_locked(&mut tx, &payment, amount, &reason)
            .await?;
        tx.commit().await?;
        Ok(refunded)
    }

    /// Applies `order.cancelled`: remembers the cancellation (a later payment
    /// request for the order is failed, not charged) and, when asked, refunds
    /// what was charged.
    pub async fn order_cancelled(
        &self,
        order_id: Uuid,
        refund: bool,
        reason: &str,
        cause: &RawEnvelope,
    ) -> Result<()> {
        let Some(mut tx) = UnitOfWork::applying(self.store.pool(), NAME, cause).await? else {
            return Ok(());
        };
        store::mark_order_cancelled(&mut tx, order_id).await?;
        if refund {
            match store::lock_payment_of_order(&mut tx, order_id).await? {
                Some(p)
                    if matches!(
                        p.status,
                        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded
                    ) && p.amount.amount > p.refunded =>
                {
                    let reason = parse_reason(reason).unwrap_or_else(|_| "order cancelled".into());
                    self.refund_locked(&mut tx, &p, None, &reason).await?;
                }
                Some(p)
                    if matches!(
                        p.status,
                        PaymentStatus::Succeeded
                            | PaymentStatus::PartiallyRefunded
                            | PaymentStatus::Refunded
                    ) =>
                {
                    // Nothing is left to refund (refunded in full already, or
                    // nothing was charged): say so again, so the order that
                    // waits for its refund can settle.
                    let event = PaymentRefunded {
                        order_id: p.order_id,
                        payment_id: p.id,
                        amount: Money::new(p.refunded, p.amount.currency),
                    };
                    tx.publish(event).await?;
                    tracing::info!(order = %order_id, payment = %p.id, "already refunded; announced again");
                }
                Some(p) if p.status == PaymentStatus::Pending => {
                    // Still at the provider: when it settles, orders sees a
                    // payment for a cancelled order and asks for the refund again.
                    tracing::info!(order = %order_id, "refund asked while the charge is pending");
                }
                _ => tracing::info!(order = %order_id, "nothing to refund"),
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A payment the viewer may see.
    pub async fn payment_for(&self, viewer: &Viewer, id: &str) -> Result<Payment> {
        let id = parse_id(id)?;
        let payment = self.payment(id).await?;
        viewer.ensure_owns(payment.user_id, "payment", id)?;
        Ok(payment)
    }

    /// The payment of an order the viewer may see (`None` before it is requested).
    pub async fn payment_of_order_for(
        &self,
        viewer: &Viewer,
        order_id: &str,
    ) -> Result<Option<Payment>> {
        let order_id = parse_id(order_id)?;
        let payment = self.store.payments_by_order_ids(&[order_id]).await?.pop();
        // Another customer's order reads like one without a payment.
        Ok(payment.filter(|p| viewer.can_see(p.user_id)))
    }

    /// Refunds of a payment.
    pub async fn refunds(&self, payment_id: Uuid) -> Result<Vec<Refund>> {
        self.store.refunds_by_payment_ids(&[payment_id]).await
    }

    async fn payment(&self, id: Uuid) -> Result<Payment> {
        self.store
            .payments_by_ids(&[id])
            .await?
            .pop()
            .ok_or_else(|| PaymentError::PaymentNotFound(id).into())
    }

    async fn locked(&self, tx: &mut Transaction<'static, Postgres>, id: Uuid) -> Result<Payment> {
        store::lock_payment(tx, id)
            .await?
            .ok_or_else(|| PaymentError::PaymentNotFound(id).into())
    }
}

impl From<ChargeOutcome> for Settlement {
    fn from(outcome: ChargeOutcome) -> Self {
        match outcome {
            ChargeOutcome::Approved { card, reference } => {
                Settlement::Succeeded { card, reference }
            }
            ChargeOutcome::Declined { reason } => Settlement::Failed { reason },
        }
    }
}

impl Payments {
    /// Refunds a locked payment at the provider, then records it and
    /// announces `payment.refunded` in `tx`. The provider is called while the
    /// row is locked, so concurrent refunds cannot exceed the charge; its
    /// refund key derives from the payment and what was refunded before, so a
    /// retry after a lost answer is the same refund at the provider.
    async fn refund_locked(
        &self,
        tx: &mut UnitOfWork,
        payment: &Payment,
        amount: Option<i64>,
        reason: &str,
    ) -> Result<Payment> {
        let plan = plan_refund(
            payment.status,
            payment.amount.amount,
            payment.refunded,
            amount,
        )?;
        let money = Money::new(plan.amount, payment.amount.currency);
        let refund_key = refund_key(payment.id, payment.refunded, plan.amount);
        let call = self.provider.refund(payment.id, refund_key, money);
        let reference = match tokio::time::timeout(self.provider_timeout, call).await {
            Ok(Ok(RefundOutcome::Refunded { reference })) => reference,
            Ok(Ok(RefundOutcome::Refused { reason })) => {
                return Err(PaymentError::RefundRefused(reason).into())
            }
            Ok(Err(e)) => return Err(PaymentError::ProviderFailed(e.to_string()).into()),
            Err(_) => return Err(PaymentError::ProviderTimeout("the refund").into()),
        };
        store::record_refund(
            tx,
            payment.id,
            plan.amount,
            reason,
            plan.status_after,
            &reference,
        )
        .await?;
        let event = PaymentRefunded {
            order_id: payment.order_id,
            payment_id: payment.id,
            amount: money,
        };
        tx.publish(event).await?;
        tracing::info!(payment = %payment.id, amount = plan.amount, %reference, "refunded");
        store::lock_payment(tx, payment.id)
            .await?
            .ok_or_else(|| PaymentError::PaymentNotFound(payment.id).into())
    }
}

/// The provider's idempotency key of a refund: the same payment, refunded
/// total before and amount give the same key.
fn refund_key(payment_id: Uuid, refunded_before: i64, amount: i64) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("refund:{payment_id}:{refunded_before}:{amount}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Parses an id given by a client.
pub fn parse_id(raw: &str) -> Result<Uuid> {
    platform::input::parse_id("id", raw)
}
