//! The order saga's stock ledger on PostgreSQL: row-level conditional updates
//! (`reserved + q <= stock_on_hand` checked in the UPDATE itself, and by a CHECK
//! constraint), one transaction per event with the inbox and the outbox.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use events::catalogue::{
    OrderCancelled, OrderLine, OrderPaid, OrderPlaced, RejectedLine, ReleaseReason, ReservedLine,
    StockRejected, StockReleased, StockReserved,
};
use events::consumer::HandlerError;
use events::outbox::{OutboxStore, PgOutbox};
use events::Envelope;
use events::UnitOfWork;
use platform::{Currency, Money};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::postgres::PgCatalogStore;
use super::{Applied, StockLedger};
use crate::domain::reservation::{
    merge_lines, on_cancel, on_paid, CancelAction, PayAction, ReservationStatus,
};

/// The service name in event envelopes and the inbox.
const SERVICE: &str = "products";

#[async_trait]
impl StockLedger for PgCatalogStore {
    async fn reserve(
        &self,
        event: &Envelope<OrderPlaced>,
        ttl: chrono::Duration,
    ) -> Result<Applied, HandlerError> {
        let Some(mut tx) = UnitOfWork::applying(self.pool(), SERVICE, &raw(event)?).await? else {
            return Ok(Applied::Duplicate);
        };
        let order_id = event.payload.order_id;
        if reservation_status(&mut tx, order_id).await?.is_some() {
            // Cancelled before it was placed here, or placed twice: nothing to hold.
            tx.commit().await?;
            return Ok(Applied::Done);
        }
        let lines = match merge_lines(&event.payload.items) {
            Ok(lines) => lines,
            Err(why) => return Err(HandlerError::Permanent(anyhow::anyhow!(why))),
        };
        let mut attempt = sqlx::Acquire::begin(&mut *tx).await?;
        let mut reserved = Vec::with_capacity(lines.len());
        let mut short = false;
        for line in &lines {
            let row: Option<(i64, String)> = sqlx::query_as(
                "UPDATE products SET reserved = reserved + $2, updated_at = now()
                 WHERE id = $1 AND NOT archived AND stock_on_hand - reserved >= $2
                 RETURNING price_amount, price_currency",
            )
            .bind(line.product_id)
            .bind(line.quantity)
            .fetch_optional(&mut *attempt)
            .await?;
            match row {
                Some((amount, currency)) => reserved.push(ReservedLine {
                    product_id: line.product_id,
                    quantity: line.quantity,
                    unit_price: Money::new(amount, Currency::parse(&currency)?),
                }),
                None => {
                    short = true;
                    break;
                }
            }
        }
        if short {
            attempt.rollback().await?;
            let rejected = rejected_lines(&mut tx, &lines).await?;
            tx.publish(StockRejected {
                order_id,
                lines: rejected,
            })
            .await?;
            insert_reservation(
                &mut tx,
                order_id,
                ReservationStatus::Released,
                &[],
                Utc::now(),
            )
            .await?;
        } else {
            attempt.commit().await?;
            let expires_at = Utc::now() + ttl;
            insert_reservation(
                &mut tx,
                order_id,
                ReservationStatus::Held,
                &reserved,
                expires_at,
            )
            .await?;
            tx.publish(StockReserved {
                order_id,
                lines: reserved,
                expires_at,
            })
            .await?;
        }
        tx.commit().await?;
        Ok(Applied::Done)
    }

    async fn commit(&self, event: &Envelope<OrderPaid>) -> Result<Applied, HandlerError> {
        let Some(mut tx) = UnitOfWork::applying(self.pool(), SERVICE, &raw(event)?).await? else {
            return Ok(Applied::Duplicate);
        };
        let order_id = event.payload.order_id;
        let current = lock_reservation(&mut tx, order_id).await?;
        let action = on_paid(
            current.as_ref().map(|(s, _)| *s),
            current.as_ref().is_some_and(|(_, l)| !l.is_empty()),
        );
        let lines = current.map(|(_, l)| l).unwrap_or_default();
        match action {
            PayAction::NotYetReserved => {
                // order.placed is still on its way: not recorded, tried again later.
                return Err(HandlerError::Transient(anyhow::anyhow!(
                    "order {order_id} paid but not reserved here yet"
                )));
            }
            PayAction::SellHeld => {
                for line in &lines {
                    sqlx::query(
                        "UPDATE products SET stock_on_hand = stock_on_hand - $2, reserved = reserved - $2,
                         updated_at = now() WHERE id = $1",
                    )
                    .bind(line.product_id)
                    .bind(line.quantity)
                    .execute(&mut **tx)
                    .await?;
                }
                set_status(&mut tx, order_id, ReservationStatus::Committed).await?;
            }
            PayAction::SellAvailable => {
                // Paid after the reservation lapsed: sell from what is available.
                let mut attempt = sqlx::Acquire::begin(&mut *tx).await?;
                let mut sold = true;
                for line in &lines {
                    let done = sqlx::query(
                        "UPDATE products SET stock_on_hand = stock_on_hand - $2, updated_at = now()
                         WHERE id = $1 AND stock_on_hand - reserved >= $2",
                    )
                    .bind(line.product_id)
                    .bind(line.quantity)
                    .execute(&mut *attempt)
                    .await?;
                    if done.rows_affected() == 0 {
                        sold = false;
                        break;
                    }
                }
                if sold {
                    attempt.commit().await?;
                    set_status(&mut tx, order_id, ReservationStatus::Committed).await?;
                } else {
                    attempt.rollback().await?;
                    let wanted: Vec<OrderLine> = lines
                        .iter()
                        .map(|l| OrderLine {
                            product_id: l.product_id,
                            quantity: l.quantity,
                        })
                        .collect();
                    let rejected = rejected_lines(&mut tx, &wanted).await?;
                    tx.publish(StockRejected {
                        order_id,
                        lines: rejected,
                    })
                    .await?;
                }
            }
            PayAction::Nothing => {}
        }
        tx.commit().await?;
        Ok(Applied::Done)
    }

    async fn cancel(&self, event: &Envelope<OrderCancelled>) -> Result<Applied, HandlerError> {
        let Some(mut tx) = UnitOfWork::applying(self.pool(), SERVICE, &raw(event)?).await? else {
            return Ok(Applied::Duplicate);
        };
        let order_id = event.payload.order_id;
        let current = lock_reservation(&mut tx, order_id).await?;
        match on_cancel(current.as_ref().map(|(s, _)| *s), event.payload.restock) {
            CancelAction::Release => {
                let lines = current.map(|(_, l)| l).unwrap_or_default();
                release(&mut tx, &lines).await?;
                set_status(&mut tx, order_id, ReservationStatus::Cancelled).await?;
                tx.publish(StockReleased {
                    order_id,
                    reason: ReleaseReason::Cancelled,
                })
                .await?;
            }
            CancelAction::Restock => {
                for line in current.map(|(_, l)| l).unwrap_or_default() {
                    sqlx::query("UPDATE products SET stock_on_hand = stock_on_hand + $2, updated_at = now() WHERE id = $1")
                        .bind(line.product_id)
                        .bind(line.quantity)
                        .execute(&mut **tx)
                        .await?;
                }
                set_status(&mut tx, order_id, ReservationStatus::Restocked).await?;
            }
            CancelAction::Tombstone => {
                insert_reservation(
                    &mut tx,
                    order_id,
                    ReservationStatus::Cancelled,
                    &[],
                    Utc::now(),
                )
                .await?;
            }
            CancelAction::Close => {
                set_status(&mut tx, order_id, ReservationStatus::Cancelled).await?;
            }
            CancelAction::Nothing => {}
        }
        tx.commit().await?;
        Ok(Applied::Done)
    }

    async fn expire_due(&self, limit: i64) -> Result<usize, HandlerError> {
        let mut tx = UnitOfWork::begin(self.pool(), SERVICE).await?;
        let due: Vec<(Uuid, Json<Vec<ReservedLine>>)> = sqlx::query_as(
            "SELECT order_id, lines FROM reservations
             WHERE status = 'HELD' AND expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
        for (order_id, Json(lines)) in &due {
            release(&mut tx, lines).await?;
            set_status(&mut tx, *order_id, ReservationStatus::Released).await?;
            tx.publish(StockReleased {
                order_id: *order_id,
                reason: ReleaseReason::Expired,
            })
            .await?;
        }
        tx.commit().await?;
        Ok(due.len())
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(PgOutbox::new(self.pool().clone()))
    }
}

fn raw<P: events::Event + Clone>(event: &Envelope<P>) -> Result<events::RawEnvelope, HandlerError> {
    event
        .clone()
        .into_raw()
        .map_err(|e| HandlerError::Permanent(e.into()))
}

async fn reservation_status(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<ReservationStatus>, HandlerError> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM reservations WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(status.as_deref().and_then(ReservationStatus::parse))
}

async fn lock_reservation(
    tx: &mut Transaction<'static, Postgres>,
    order_id: Uuid,
) -> Result<Option<(ReservationStatus, Vec<ReservedLine>)>, HandlerError> {
    let row: Option<(String, Json<Vec<ReservedLine>>)> =
        sqlx::query_as("SELECT status, lines FROM reservations WHERE order_id = $1 FOR UPDATE")
            .bind(order_id)
            .fetch_optional(&mut **tx)
            .await?;
    match row {
        None => Ok(None),
        Some((status, Json(lines))) => {
            let status = ReservationStatus::parse(&status).ok_or_else(|| {
                HandlerError::Permanent(anyhow::anyhow!("unknown reservation status {status}"))
            })?;
            Ok(Some((status, lines)))
        }
    }
}

async fn insert_reservation(
    conn: &mut PgConnection,
    order_id: Uuid,
    status: ReservationStatus,
    lines: &[ReservedLine],
    expires_at: chrono::DateTime<Utc>,
) -> Result<(), HandlerError> {
    sqlx::query(
        "INSERT INTO reservations (order_id, status, lines, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(order_id)
    .bind(status.as_str())
    .bind(Json(lines))
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn set_status(
    conn: &mut PgConnection,
    order_id: Uuid,
    status: ReservationStatus,
) -> Result<(), HandlerError> {
    sqlx::query("UPDATE reservations SET status = $2, updated_at = now() WHERE order_id = $1")
        .bind(order_id)
        .bind(status.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn release(conn: &mut PgConnection, lines: &[ReservedLine]) -> Result<(), HandlerError> {
    for line in lines {
        sqlx::query(
            "UPDATE products SET reserved = reserved - $2, updated_at = now() WHERE id = $1",
        )
        .bind(line.product_id)
        .bind(line.quantity)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn rejected_lines(
    conn: &mut PgConnection,
    lines: &[OrderLine],
) -> Result<Vec<RejectedLine>, HandlerError> {
    let ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let available: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT id, CASE WHEN archived THEN 0 ELSE (stock_on_hand - reserved)::bigint END
         FROM products WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(lines
        .iter()
        .filter_map(|l| {
            let avail = available
                .iter()
                .find(|(id, _)| *id == l.product_id)
                .map(|(_, a)| *a)
                .unwrap_or(0);
            (avail < l.quantity).then_some(RejectedLine {
                product_id: l.product_id,
                requested: l.quantity,
                available: avail,
            })
        })
        .collect())
}
