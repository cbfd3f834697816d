//! The transactional outbox on PostgreSQL.
//!
//! [`enqueue`] writes an event inside the caller's transaction (and wakes the
//! relay with `NOTIFY outbox` on commit); [`PgOutbox`] is the relay's view of the
//! table: it claims pending rows with `FOR UPDATE SKIP LOCKED` and a lease, so
//! several relay instances never publish the same row at the same time, and a
//! crashed relay's rows become claimable again when its lease runs out.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::catalogue::Event;
use crate::envelope::{Envelope, EventMeta, RawEnvelope};

/// The NOTIFY channel the relay listens on.
pub const CHANNEL: &str = "outbox";

/// Writes `payload` as an event from `source` into the outbox, inside the
/// caller's transaction. Returns the event id.
pub async fn enqueue<P: Event>(
    conn: &mut PgConnection,
    source: &str,
    payload: P,
    meta: EventMeta,
) -> platform::Result<Uuid> {
    // Events caused by a request carry its correlation id and trace context.
    let context = platform::context::RequestContext::current();
    let meta = EventMeta {
        correlation_id: meta.correlation_id.or(context.correlation_id),
        causation_id: meta.causation_id,
        traceparent: meta.traceparent.or(context.traceparent),
    };
    let envelope = Envelope::new(source, payload, meta)
        .into_raw()
        .map_err(|e| platform::Error::Internal(e.into()))?;
    let json = serde_json::to_value(&envelope).map_err(|e| platform::Error::Internal(e.into()))?;
    sqlx::query("INSERT INTO outbox (id, routing_key, envelope) VALUES ($1, $2, $3)")
        .bind(envelope.id)
        .bind(&envelope.kind)
        .bind(json)
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(envelope.id)
}

/// Where a relay finds events to publish. PostgreSQL here; the products service
/// has a MongoDB implementation with the same guarantees.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Claims up to `limit` unpublished events, oldest first, for `lease`.
    async fn claim(&self, limit: i64, lease: Duration) -> anyhow::Result<Vec<RawEnvelope>>;
    /// Marks events as published (the broker confirmed them).
    async fn mark_published(&self, ids: &[Uuid]) -> anyhow::Result<()>;
    /// Gives a claimed event back after a failed publish, recording why.
    async fn release(&self, id: Uuid, error: &str) -> anyhow::Result<()>;
    /// Waits until new events may be pending, or `timeout` passes.
    async fn wait(&self, timeout: Duration);
    /// Deletes published events older than `age`.
    async fn prune(&self, age: Duration) -> anyhow::Result<u64>;
}

/// The PostgreSQL outbox of one service database.
pub struct PgOutbox {
    pool: PgPool,
    listener: Mutex<Option<PgListener>>,
}

impl PgOutbox {
    /// The outbox in `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        PgOutbox {
            pool,
            listener: Mutex::new(None),
        }
    }

    /// Events not yet published (for health and tests).
    pub async fn pending(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&self.pool)
            .await
    }
}

#[async_trait]
impl OutboxStore for PgOutbox {
    async fn claim(&self, limit: i64, lease: Duration) -> anyhow::Result<Vec<RawEnvelope>> {
        let rows: Vec<(sqlx::types::Json<RawEnvelope>,)> = sqlx::query_as(
            "UPDATE outbox SET lease_until = now() + make_interval(secs => $2), attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM outbox
                 WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now())
                 ORDER BY seq
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED)
             RETURNING envelope",
        )
        .bind(limit)
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let mut events: Vec<RawEnvelope> = rows.into_iter().map(|(j,)| j.0).collect();
        // RETURNING does not keep the subquery's order.
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn mark_published(&self, ids: &[Uuid]) -> anyhow::Result<()> {
        sqlx::query("UPDATE outbox SET published_at = now(), lease_until = NULL, last_error = NULL WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn release(&self, id: Uuid, error: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE outbox SET lease_until = NULL, last_error = $2 WHERE id = $1")
            .bind(id)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn wait(&self, timeout: Duration) {
        let mut guard = self.listener.lock().await;
        if guard.is_none() {
            match PgListener::connect_with(&self.pool).await {
                Ok(mut l) => match l.listen(CHANNEL).await {
                    Ok(()) => *guard = Some(l),
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN; polling"),
                },
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN; polling"),
            }
        }
        match guard.as_mut() {
            Some(listener) => match tokio::time::timeout(timeout, listener.recv()).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "LISTEN connection lost");
                    *guard = None;
                }
            },
            None => tokio::time::sleep(timeout).await,
        }
    }

    async fn prune(&self, age: Duration) -> anyhow::Result<u64> {
        let done = sqlx::query(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
        )
        .bind(age.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
