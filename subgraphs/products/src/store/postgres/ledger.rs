//! The stock ledger's primitives on PostgreSQL: row-level conditional updates
//! (`reserved + q <= stock_on_hand` checked in the UPDATE itself, and by a
//! CHECK constraint), reservations locked `FOR UPDATE`, and one
//! [`UnitOfWork`] per event holding its inbox record, the changes and the
//! outbox. A short attempt is rolled back to the savepoint its rule marked
//! ([`LedgerTx::attempt`]) and refused in the same transaction; a lapsed
//! reservation that cannot be released (a broken invariant, unreadable lines)
//! is rolled back to its own savepoint and looked at again later, so it
//! never holds up the others. The rules are
//! `crate::stock`'s.
//!
//! Savepoints go over the simple protocol: nothing to prepare.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use events::consumer::HandlerError;
use events::outbox::{OutboxStore, PgOutbox};
use events::{RawEnvelope, UnitOfWork};
use platform::{Currency, Money};
use sqlx::types::Json;
use uuid::Uuid;

use super::PgCatalogStore;
use crate::config::NAME;
use crate::domain::reservation::{Line, PricedLine, ReservationStatus};
use crate::stock::{
    expire, held_unless, LedgerTx, Outgoing, Pass, Reservation, Step, StockRule, EXPIRY_BATCH,
    LOOK_AGAIN_AFTER,
};
use crate::store::{Applied, StockLedger};

#[async_trait]
impl StockLedger for PgCatalogStore {
    async fn apply_once(
        &self,
        event: &RawEnvelope,
        rule: &dyn StockRule,
    ) -> Result<Applied, HandlerError> {
        let Some(mut uow) = UnitOfWork::applying(self.pool(), NAME, event).await? else {
            return Ok(Applied::Duplicate);
        };
        let mut tx = PgTx::new(&mut uow);
        if rule.apply(&mut tx, Pass::Attempt).await? == Step::Short {
            if !tx.marked {
                return Err(HandlerError::Permanent(anyhow::anyhow!(
                    "event {} fell short without marking its attempt",
                    event.id
                )));
            }
            savepoint(tx.uow, "ROLLBACK TO SAVEPOINT attempt").await?;
            tx.marked = false;
            if rule.apply(&mut tx, Pass::Refuse).await? == Step::Short {
                return Err(HandlerError::Permanent(anyhow::anyhow!(
                    "event {} fell short while refusing",
                    event.id
                )));
            }
        }
        uow.commit().await?;
        Ok(Applied::Done)
    }

    async fn expire_due(&self, limit: i64) -> Result<usize, HandlerError> {
        let mut uow = UnitOfWork::begin(self.pool(), NAME).await?;
        let due: Vec<Uuid> = sqlx::query_scalar(
            "SELECT order_id FROM reservations
             WHERE status = 'HELD' AND expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(limit.min(EXPIRY_BATCH))
        .fetch_all(&mut **uow)
        .await?;
        let mut tx = PgTx::new(&mut uow);
        let mut released = 0;
        for order_id in due {
            savepoint(tx.uow, "SAVEPOINT expiring").await?;
            match expire(&mut tx, order_id).await {
                Ok(true) => released += 1,
                Ok(false) => {}
                // Do not let one broken reservation hold up the others.
                Err(HandlerError::Permanent(cause)) => {
                    savepoint(tx.uow, "ROLLBACK TO SAVEPOINT expiring").await?;
                    tracing::error!(reservation = %order_id, error = %format_args!("{cause:#}"),
                        "cannot release a lapsed reservation; looked at again later");
                    // Behind the sound ones.
                    sqlx::query(
                        "UPDATE reservations SET expires_at = $2, updated_at = now()
                         WHERE order_id = $1 AND status = 'HELD'",
                    )
                    .bind(order_id)
                    .bind(Utc::now() + LOOK_AGAIN_AFTER)
                    .execute(&mut ***tx.uow)
                    .await?;
                }
                Err(e) => return Err(e),
            }
        }
        uow.commit().await?;
        Ok(released)
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(PgOutbox::new(self.pool().clone()))
    }
}

/// The ledger's primitives inside one unit of work.
struct PgTx<'a> {
    uow: &'a mut UnitOfWork,
    now: DateTime<Utc>,
    /// Whether the savepoint `attempt` is set.
    marked: bool,
}

impl<'a> PgTx<'a> {
    fn new(uow: &'a mut UnitOfWork) -> Self {
        PgTx {
            uow,
            now: Utc::now(),
            marked: false,
        }
    }
}

#[async_trait]
impl LedgerTx for PgTx<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    async fn attempt(&mut self) -> Result<(), HandlerError> {
        savepoint(self.uow, "SAVEPOINT attempt").await?;
        self.marked = true;
        Ok(())
    }

    async fn reservation(&mut self, order_id: Uuid) -> Result<Option<Reservation>, HandlerError> {
        let row: Option<(String, Json<serde_json::Value>)> =
            sqlx::query_as("SELECT status, lines FROM reservations WHERE order_id = $1 FOR UPDATE")
                .bind(order_id)
                .fetch_optional(&mut ***self.uow)
                .await?;
        let Some((status, Json(lines))) = row else {
            return Ok(None);
        };
        let status = ReservationStatus::parse(&status).ok_or_else(|| {
            HandlerError::Permanent(anyhow::anyhow!("unknown reservation status {status}"))
        })?;
        // Unreadable lines are a broken reservation, not a passing failure.
        let lines: Vec<PricedLine> = serde_json::from_value(lines).map_err(|e| {
            HandlerError::Permanent(
                anyhow::Error::new(e).context(format!("lines of reservation {order_id}")),
            )
        })?;
        Ok(Some(Reservation { status, lines }))
    }

    async fn insert_reservation(
        &mut self,
        order_id: Uuid,
        status: ReservationStatus,
        lines: &[PricedLine],
        expires_at: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        sqlx::query(
            "INSERT INTO reservations (order_id, status, lines, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(order_id)
        .bind(status.as_str())
        .bind(Json(lines))
        .bind(expires_at)
        .execute(&mut ***self.uow)
        .await?;
        Ok(())
    }

    async fn set_status(
        &mut self,
        order_id: Uuid,
        from: ReservationStatus,
        to: ReservationStatus,
    ) -> Result<(), HandlerError> {
        let done = sqlx::query(
            "UPDATE reservations SET status = $3, updated_at = now()
             WHERE order_id = $1 AND status = $2",
        )
        .bind(order_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .execute(&mut ***self.uow)
        .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(HandlerError::Transient(anyhow::anyhow!(
                "reservation {order_id} left {} meanwhile",
                from.as_str()
            )))
        }
    }

    async fn reserve_line(&mut self, line: &Line) -> Result<Option<Money>, HandlerError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "UPDATE products SET reserved = reserved + $2, updated_at = now()
             WHERE id = $1 AND NOT archived AND stock_on_hand - reserved >= $2
             RETURNING price_amount, price_currency",
        )
        .bind(line.product_id)
        .bind(line.quantity)
        .fetch_optional(&mut ***self.uow)
        .await?;
        row.map(|(amount, currency)| Ok(Money::new(amount, Currency::parse(&currency)?)))
            .transpose()
    }

    async fn sell_held(&mut self, line: &PricedLine) -> Result<(), HandlerError> {
        let done = sqlx::query(
            "UPDATE products SET stock_on_hand = stock_on_hand - $2, reserved = reserved - $2,
             updated_at = now() WHERE id = $1 AND reserved >= $2",
        )
        .bind(line.product_id)
        .bind(line.quantity)
        .execute(&mut ***self.uow)
        .await?;
        held_unless(done.rows_affected() == 1, line)
    }

    async fn sell_available(&mut self, line: &PricedLine) -> Result<bool, HandlerError> {
        let done = sqlx::query(
            "UPDATE products SET stock_on_hand = stock_on_hand - $2, updated_at = now()
             WHERE id = $1 AND stock_on_hand - reserved >= $2",
        )
        .bind(line.product_id)
        .bind(line.quantity)
        .execute(&mut ***self.uow)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&mut self, line: &PricedLine) -> Result<(), HandlerError> {
        let done = sqlx::query(
            "UPDATE products SET reserved = reserved - $2, updated_at = now()
             WHERE id = $1 AND reserved >= $2",
        )
        .bind(line.product_id)
        .bind(line.quantity)
        .execute(&mut ***self.uow)
        .await?;
        held_unless(done.rows_affected() == 1, line)
    }

    async fn restock(&mut self, line: &PricedLine) -> Result<(), HandlerError> {
        sqlx::query(
            "UPDATE products SET stock_on_hand = stock_on_hand + $2, updated_at = now() WHERE id = $1",
        )
        .bind(line.product_id)
        .bind(line.quantity)
        .execute(&mut ***self.uow)
        .await?;
        Ok(())
    }

    async fn available(&mut self, products: &[Uuid]) -> Result<Vec<(Uuid, i64)>, HandlerError> {
        Ok(sqlx::query_as(
            "SELECT id, CASE WHEN archived THEN 0 ELSE (stock_on_hand - reserved)::bigint END
             FROM products WHERE id = ANY($1)",
        )
        .bind(products)
        .fetch_all(&mut ***self.uow)
        .await?)
    }

    async fn publish(&mut self, event: Outgoing) -> Result<(), HandlerError> {
        match event {
            Outgoing::Reserved(p) => self.uow.publish(p).await?,
            Outgoing::Rejected(p) => self.uow.publish(p).await?,
            Outgoing::Released(p) => self.uow.publish(p).await?,
        };
        Ok(())
    }
}

/// Runs a savepoint statement (`SAVEPOINT x`, `ROLLBACK TO SAVEPOINT x`) as a
/// simple query.
async fn savepoint(
    conn: &mut sqlx::PgConnection,
    statement: &'static str,
) -> Result<(), HandlerError> {
    sqlx::Executor::execute(conn, statement).await?;
    Ok(())
}
