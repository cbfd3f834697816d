//! The payments database: the only module with SQL.

use chrono::{DateTime, Utc};
use platform::{Currency, Error, Money, Result};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{CardDetails, Payment, PaymentStatus, Refund};

/// The migrations of the payments database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const PAYMENT_COLUMNS: &str =
    "id, order_id, user_id, amount, currency, status, card_brand, card_last4, \
     failure_reason, refunded_amount, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: Uuid,
    order_id: Uuid,
    user_id: Uuid,
    amount: i64,
    currency: String,
    status: String,
    card_brand: Option<String>,
    card_last4: Option<String>,
    failure_reason: Option<String>,
    refunded_amount: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<PaymentRow> for Payment {
    type Error = Error;
    fn try_from(r: PaymentRow) -> Result<Payment> {
        let status = PaymentStatus::parse(&r.status).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("unknown payment status {}", r.status))
        })?;
        let card = match (r.card_brand, r.card_last4) {
            (Some(brand), Some(last4)) => Some(CardDetails { brand, last4 }),
            _ => None,
        };
        Ok(Payment {
            id: r.id,
            order_id: r.order_id,
            user_id: r.user_id,
            amount: Money::new(r.amount, Currency::parse(&r.currency)?),
            status,
            card,
            failure_reason: r.failure_reason,
            refunded: r.refunded_amount,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RefundRow {
    id: Uuid,
    payment_id: Uuid,
    amount: i64,
    currency: String,
    reason: String,
    created_at: DateTime<Utc>,
}

fn payments(rows: Vec<PaymentRow>) -> Result<Vec<Payment>> {
    rows.into_iter().map(Payment::try_from).collect()
}

/// The provider's verdict, as stored.
#[derive(Debug, Clone)]
pub enum Settlement {
    /// Charged on this card.
    Succeeded {
        /// The card.
        card: CardDetails,
        /// The provider's reference.
        reference: String,
    },
    /// Not charged.
    Failed {
        /// Why.
        reason: String,
    },
    /// Nothing to charge (a free order): succeeded without the provider.
    NothingToCharge,
}

/// Payments in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PaymentStore {
    pool: PgPool,
}

/// A payment about to be charged (see [`PaymentStore::start_charge`]).
#[derive(Debug)]
pub struct ChargeStart {
    /// The order's payment.
    pub payment: Payment,
    /// When the provider is to be called: how many attempts there were
    /// before this one (more than 0: a charge may be in doubt).
    pub charge: Option<i32>,
    /// Whether the order was cancelled meanwhile (only read when charging).
    pub order_cancelled: bool,
}

impl PaymentStore {
    /// A store over a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        PaymentStore { pool }
    }

    /// The pool (transactions, readiness).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Opens the order's payment, or finds the one opened before, and when it
    /// is still to be charged at the provider counts that attempt, in one
    /// transaction (one commit) before the provider is called.
    pub async fn start_charge(
        &self,
        order_id: Uuid,
        user_id: Uuid,
        amount: Money,
    ) -> Result<ChargeStart> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO payments (id, order_id, user_id, amount, currency, status)
             VALUES ($1, $2, $3, $4, $5, 'PENDING') ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(order_id)
        .bind(user_id)
        .bind(amount.amount)
        .bind(amount.currency.as_str())
        .execute(&mut *tx)
        .await?;
        let row: PaymentRow = sqlx::query_as(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1 FOR UPDATE"
        ))
        .bind(order_id)
        .fetch_one(&mut *tx)
        .await?;
        let payment: Payment = row.try_into()?;
        let mut start = ChargeStart {
            charge: None,
            order_cancelled: false,
            payment,
        };
        if !start.payment.status.is_settled() && start.payment.amount.amount != 0 {
            let earlier_attempts: i32 = sqlx::query_scalar(
                "UPDATE payments SET charge_attempts = charge_attempts + 1, updated_at = now()
                 WHERE id = $1 RETURNING charge_attempts - 1",
            )
            .bind(start.payment.id)
            .fetch_one(&mut *tx)
            .await?;
            start.charge = Some(earlier_attempts);
            start.order_cancelled = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM cancelled_orders WHERE order_id = $1)",
            )
            .bind(order_id)
            .fetch_one(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(start)
    }

    /// Pending payments already sent to the provider and untouched for
    /// `older_than` (charges in doubt), oldest first, at most `limit`.
    pub async fn payments_in_doubt(
        &self,
        older_than: std::time::Duration,
        limit: i64,
    ) -> Result<Vec<Payment>> {
        let rows: Vec<PaymentRow> = sqlx::query_as(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments
             WHERE status = 'PENDING' AND charge_attempts > 0
               AND updated_at < now() - make_interval(secs => $1)
             ORDER BY updated_at LIMIT $2"
        ))
        .bind(older_than.as_secs_f64())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        payments(rows)
    }

    /// Whether the order was cancelled.
    pub async fn is_order_cancelled(&self, order_id: Uuid) -> Result<bool> {
        Ok(
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM cancelled_orders WHERE order_id = $1)",
            )
            .bind(order_id)
            .fetch_one(&self.pool)
            .await?,
        )
    }

    /// Payments by id (one query).
    pub async fn payments_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Payment>> {
        let rows: Vec<PaymentRow> = sqlx::query_as(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        payments(rows)
    }

    /// Payments by order id (one query).
    pub async fn payments_by_order_ids(&self, order_ids: &[Uuid]) -> Result<Vec<Payment>> {
        let rows: Vec<PaymentRow> = sqlx::query_as(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = ANY($1)"
        ))
        .bind(order_ids)
        .fetch_all(&self.pool)
        .await?;
        payments(rows)
    }

    /// Refunds of these payments, oldest first (one query).
    pub async fn refunds_by_payment_ids(&self, ids: &[Uuid]) -> Result<Vec<Refund>> {
        let rows: Vec<RefundRow> = sqlx::query_as(
            "SELECT r.id, r.payment_id, r.amount, p.currency, r.reason, r.created_at
             FROM refunds r JOIN payments p ON p.id = r.payment_id
             WHERE r.payment_id = ANY($1) ORDER BY r.created_at, r.id",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Refund {
                    id: r.id,
                    payment_id: r.payment_id,
                    amount: Money::new(r.amount, Currency::parse(&r.currency)?),
                    reason: r.reason,
                    created_at: r.created_at,
                })
            })
            .collect()
    }
}

/// Settles a pending payment; `None` if it was settled already (by another
/// replica handling a redelivery).
pub async fn settle(
    conn: &mut PgConnection,
    payment_id: Uuid,
    settlement: &Settlement,
) -> Result<Option<Payment>> {
    let (status, brand, last4, reason, reference) = match settlement {
        Settlement::Succeeded { card, reference } => (
            "SUCCEEDED",
            Some(card.brand.as_str()),
            Some(card.last4.as_str()),
            None,
            Some(reference.as_str()),
        ),
        Settlement::Failed { reason } => ("FAILED", None, None, Some(reason.as_str()), None),
        Settlement::NothingToCharge => ("SUCCEEDED", None, None, None, None),
    };
    let row: Option<PaymentRow> = sqlx::query_as(&format!(
        "UPDATE payments SET status = $2, card_brand = $3, card_last4 = $4, failure_reason = $5,
         provider_reference = $6, updated_at = now()
         WHERE id = $1 AND status = 'PENDING' RETURNING {PAYMENT_COLUMNS}"
    ))
    .bind(payment_id)
    .bind(status)
    .bind(brand)
    .bind(last4)
    .bind(reason)
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Payment::try_from).transpose()
}

/// Locks a payment for a refund.
pub async fn lock_payment(conn: &mut PgConnection, payment_id: Uuid) -> Result<Option<Payment>> {
    let row: Option<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 FOR UPDATE"
    ))
    .bind(payment_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Payment::try_from).transpose()
}

/// Locks an order's payment.
pub async fn lock_payment_of_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<Payment>> {
    let row: Option<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1 FOR UPDATE"
    ))
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Payment::try_from).transpose()
}

/// Records a refund (with the provider's reference) and the payment's new
/// refunded total and status.
pub async fn record_refund(
    conn: &mut PgConnection,
    payment_id: Uuid,
    amount: i64,
    reason: &str,
    status_after: PaymentStatus,
    provider_reference: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refunds (id, payment_id, amount, reason, provider_reference) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(payment_id)
    .bind(amount)
    .bind(reason)
    .bind(provider_reference)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE payments SET refunded_amount = refunded_amount + $2, status = $3, updated_at = now()
         WHERE id = $1",
    )
    .bind(payment_id)
    .bind(amount)
    .bind(status_after.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Remembers that an order was cancelled.
pub async fn mark_order_cancelled(conn: &mut PgConnection, order_id: Uuid) -> Result<()> {
    sqlx::query("INSERT INTO cancelled_orders (order_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
