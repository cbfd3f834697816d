//! The use cases of payments, shared by GraphQL, REST and the event handlers:
//! charging an order (idempotently, once per order) and refunding.
//!
//! Every settled charge and every refund writes its event (`payment.succeeded`,
//! `payment.failed`, `payment.refunded`) to the outbox in the same transaction.

use std::sync::Arc;
use std::time::Duration;

use events::catalogue::{PaymentFailed, PaymentRefunded, PaymentSucceeded};
use events::consumer::begin_once;
use events::outbox::enqueue;
use events::{EventMeta, RawEnvelope};
use platform::auth::Viewer;
use platform::{Error, Money, Result};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{parse_reason, plan_refund, Payment, PaymentStatus, Refund};
use crate::provider::{CardProvider, ChargeOutcome};
use crate::store::{self, PaymentStore, Settlement};

/// The service name in event envelopes and the inbox.
pub const SERVICE: &str = "payments";

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
    /// so the caller retries. When `cause` (the `payment.requested` event) is
    /// given, it is recorded in the inbox with the settlement.
    pub async fn charge(
        &self,
        request: &ChargeRequest,
        cause: Option<&RawEnvelope>,
    ) -> Result<Payment> {
        if request.amount.amount <= 0 {
            return Err(Error::invalid("a charge must be of a positive amount"));
        }
        let payment = self
            .store
            .open_payment(request.order_id, request.user_id, request.amount)
            .await?;
        let settlement = if payment.status.is_settled() {
            None
        } else if self.store.is_order_cancelled(request.order_id).await? {
            Some(Settlement::Failed {
                reason: "order_cancelled".into(),
            })
        } else {
            let call = self
                .provider
                .charge(payment.id, request.amount, &request.token);
            match tokio::time::timeout(self.provider_timeout, call).await {
                Ok(Ok(ChargeOutcome::Approved { card, reference })) => {
                    Some(Settlement::Succeeded { card, reference })
                }
                Ok(Ok(ChargeOutcome::Declined { reason })) => Some(Settlement::Failed { reason }),
                Ok(Err(e)) => return Err(Error::Unavailable(e.to_string())),
                Err(_) => {
                    return Err(Error::Unavailable(
                        "the card provider did not answer in time".into(),
                    ))
                }
            }
        };
        let Some(mut tx) = self.begin(cause).await? else {
            return self.payment(payment.id).await;
        };
        let result = match settlement {
            None => payment,
            Some(settlement) => match store::settle(&mut tx, payment.id, &settlement).await? {
                None => self.locked(&mut tx, payment.id).await?,
                Some(settled) => {
                    let meta = cause.map(EventMeta::caused_by).unwrap_or_default();
                    match &settlement {
                        Settlement::Succeeded { .. } => {
                            let event = PaymentSucceeded {
                                order_id: settled.order_id,
                                payment_id: settled.id,
                                amount: settled.amount,
                            };
                            enqueue(&mut tx, SERVICE, event, meta).await?;
                        }
                        Settlement::Failed { reason } => {
                            let event = PaymentFailed {
                                order_id: settled.order_id,
                                payment_id: settled.id,
                                reason: reason.clone(),
                            };
                            enqueue(&mut tx, SERVICE, event, meta).await?;
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
        if !viewer.is_admin() {
            return Err(Error::Forbidden("administrators only".into()));
        }
        let payment_id = parse_id(payment_id)?;
        let reason = parse_reason(reason)?;
        let mut tx = self.store.pool().begin().await?;
        let payment = store::lock_payment(&mut tx, payment_id)
            .await?
            .ok_or_else(|| Error::not_found("payment", payment_id))?;
        let refunded =
            refund_locked(&mut tx, &payment, amount, &reason, EventMeta::default()).await?;
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
        let Some(mut tx) = self.begin(Some(cause)).await? else {
            return Ok(());
        };
        store::mark_order_cancelled(&mut tx, order_id).await?;
        if refund {
            match store::lock_payment_of_order(&mut tx, order_id).await? {
                Some(p)
                    if matches!(
                        p.status,
                        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded
                    ) =>
                {
                    let reason = parse_reason(reason).unwrap_or_else(|_| "order cancelled".into());
                    refund_locked(&mut tx, &p, None, &reason, EventMeta::caused_by(cause)).await?;
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
        viewer.ensure_can_access(payment.user_id)?;
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
        if let Some(p) = &payment {
            viewer.ensure_can_access(p.user_id)?;
        }
        Ok(payment)
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
            .ok_or_else(|| Error::not_found("payment", id))
    }

    async fn locked(&self, tx: &mut Transaction<'static, Postgres>, id: Uuid) -> Result<Payment> {
        store::lock_payment(tx, id)
            .await?
            .ok_or_else(|| Error::not_found("payment", id))
    }

    /// A transaction that records `cause` in the inbox, or `None` if it was
    /// applied already. Without a cause, a plain transaction.
    async fn begin(
        &self,
        cause: Option<&RawEnvelope>,
    ) -> Result<Option<Transaction<'static, Postgres>>> {
        match cause {
            Some(event) => Ok(begin_once(self.store.pool(), SERVICE, event).await?),
            None => Ok(Some(self.store.pool().begin().await?)),
        }
    }
}

async fn refund_locked(
    tx: &mut Transaction<'static, Postgres>,
    payment: &Payment,
    amount: Option<i64>,
    reason: &str,
    meta: EventMeta,
) -> Result<Payment> {
    let plan = plan_refund(
        payment.status,
        payment.amount.amount,
        payment.refunded,
        amount,
    )?;
    store::record_refund(tx, payment.id, plan.amount, reason, plan.status_after).await?;
    let event = PaymentRefunded {
        order_id: payment.order_id,
        payment_id: payment.id,
        amount: Money::new(plan.amount, payment.amount.currency),
    };
    enqueue(tx, SERVICE, event, meta).await?;
    tracing::info!(payment = %payment.id, amount = plan.amount, "refunded");
    store::lock_payment(tx, payment.id)
        .await?
        .ok_or_else(|| Error::not_found("payment", payment.id))
}

/// Parses an id given by a client.
pub fn parse_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| Error::invalid(format!("{raw:?} is not a valid id")))
}
