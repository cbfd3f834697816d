//! The transactional outbox on PostgreSQL.
//!
//! [`enqueue`] writes an event inside the caller's transaction (and wakes the
//! relay with `NOTIFY outbox` on commit); [`PgOutbox`] is the relay's view of the
//! table: a [`Claim`] locks a batch of pending rows with `FOR UPDATE SKIP
//! LOCKED` in one transaction that stays open while the relay publishes them and
//! records the outcome (one commit per batch, however large), so several relay
//! instances never publish the same row at the same time, and a crashed relay's
//! rows are claimable again the moment its connection ends.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::catalogue::Event;
use crate::envelope::{Envelope, EventMeta, RawEnvelope};

/// The NOTIFY channel the relay listens on.
pub const CHANNEL: &str = "outbox";

/// Writes `payload` as an event from `source` into the outbox, inside the
/// caller's transaction. Returns the event id. Services publish through
/// [`crate::UnitOfWork::publish`], which calls this with the unit's cause.
pub async fn enqueue<P: Event>(
    conn: &mut PgConnection,
    source: &str,
    payload: P,
    meta: EventMeta,
) -> platform::Result<Uuid> {
    // Events caused by a request carry its correlation id and trace context; with
    // traces exported, the span writing the event becomes its consumers' parent.
    let context = platform::context::RequestContext::current();
    let meta = EventMeta {
        correlation_id: meta.correlation_id.or(context.correlation_id),
        causation_id: meta.causation_id,
        traceparent: platform::telemetry::current_traceparent()
            .or(meta.traceparent)
            .or(context.traceparent),
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

/// How many publish attempts an event that the broker will not take gets
/// before it is parked.
pub const MAX_PUBLISH_ATTEMPTS: i32 = 10;

/// How long the inbox remembers an applied event: far longer than the longest
/// redelivery window (minutes of delayed retries), so a duplicate is always
/// recognised.
pub const INBOX_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How many times a row may be claimed (each a publish attempt, whatever
/// failed) before it is parked.
pub const MAX_CLAIMS: i32 = 3 * MAX_PUBLISH_ATTEMPTS;

/// The delay before the next publish attempt of an event that failed
/// `attempts` times: 1 s doubling to 5 min.
pub fn publish_retry_delay(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    Duration::from_secs(1u64.checked_shl(exp).unwrap_or(u64::MAX).min(300))
}

/// What is waiting in an outbox (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    /// Events not yet published (parked ones included).
    pub pending: i64,
    /// Events parked after too many failed attempts.
    pub parked: i64,
    /// Age in seconds of the oldest pending event that is not parked.
    pub oldest_pending_secs: f64,
}

/// What became of the events of a [`Claim`]: the relay fills it in, the claim
/// records it. An event of the claim named nowhere is given back as it was.
#[derive(Debug, Default)]
pub struct Settlement {
    /// Confirmed by the broker.
    pub published: Vec<Uuid>,
    /// Not sent because the connection failed (not the event's fault):
    /// claimable again at once; counted towards [`MAX_CLAIMS`].
    pub released: Vec<(Uuid, String)>,
    /// The broker would not take it (or, when `permanent`, it cannot be sent
    /// at all): tried again after [`publish_retry_delay`], parked once it
    /// failed [`MAX_PUBLISH_ATTEMPTS`] times (at once when `permanent`).
    pub deferred: Vec<Deferral>,
}

/// An event the broker would not take.
#[derive(Debug)]
pub struct Deferral {
    /// The event.
    pub id: Uuid,
    /// Why.
    pub error: String,
    /// It can never be sent: park it now.
    pub permanent: bool,
}

impl Settlement {
    /// Records `id` as confirmed.
    pub fn published(&mut self, id: Uuid) {
        self.published.push(id);
    }

    /// Records `id` as not sent for `error`, claimable again at once.
    pub fn release(&mut self, id: Uuid, error: impl Into<String>) {
        self.released.push((id, error.into()));
    }

    /// Records `id` as refused for `error` (see [`Settlement::deferred`]).
    pub fn defer(&mut self, id: Uuid, error: impl Into<String>, permanent: bool) {
        self.deferred.push(Deferral {
            id,
            error: error.into(),
            permanent,
        });
    }
}

/// A batch of events claimed by one relay: no other relay publishes them
/// until it is settled (or its holder dies).
#[async_trait]
pub trait Claim: Send {
    /// The claimed events, oldest first.
    fn events(&self) -> &[RawEnvelope];
    /// Records what became of the events and ends the claim; returns the ids
    /// parked by it.
    async fn settle(self: Box<Self>, settlement: Settlement) -> anyhow::Result<Vec<Uuid>>;
}

/// Where a relay finds events to publish. PostgreSQL here; the products service
/// has a MongoDB implementation with the same guarantees.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Claims up to `limit` unpublished, unparked events that are due, oldest
    /// first. A store that cannot hold them locked leases them for `lease`.
    async fn claim(&self, limit: i64, lease: Duration) -> anyhow::Result<Box<dyn Claim>>;
    /// Waits until new events may be pending, or `timeout` passes.
    async fn wait(&self, timeout: Duration);
    /// Deletes published events older than `age`, and inbox entries older
    /// than [`INBOX_RETENTION`].
    async fn prune(&self, age: Duration) -> anyhow::Result<u64>;
    /// What is waiting.
    async fn backlog(&self) -> anyhow::Result<Backlog>;
}

/// A parked outbox event, as an operator sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParkedEvent {
    /// The event id.
    pub id: Uuid,
    /// Its routing key.
    pub routing_key: String,
    /// How often publishing it was tried.
    pub attempts: i32,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was parked.
    pub parked_at: chrono::DateTime<chrono::Utc>,
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

/// A batch locked by an open transaction of [`PgOutbox`].
struct PgClaim {
    tx: Transaction<'static, Postgres>,
    events: Vec<RawEnvelope>,
    /// Rows whose envelope cannot be read: parked when the claim settles, so
    /// they cannot hold back the rows behind them.
    unreadable: Vec<(Uuid, String)>,
}

#[async_trait]
impl Claim for PgClaim {
    fn events(&self) -> &[RawEnvelope] {
        &self.events
    }

    async fn settle(self: Box<Self>, mut settlement: Settlement) -> anyhow::Result<Vec<Uuid>> {
        let PgClaim {
            mut tx,
            events,
            unreadable,
        } = *self;
        for (id, error) in unreadable {
            tracing::error!(event = %id, %error, "unreadable outbox row");
            settlement.defer(id, format!("unreadable: {error}"), true);
        }
        if events.is_empty() && settlement.deferred.is_empty() {
            // Nothing was locked: nothing to commit.
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        // Losing this commit in a database crash loses nothing: the events
        // are published again, and every consumer's inbox drops the duplicate.
        // So the relay does not wait for the disk (the saga's durable commits
        // are the ones that change state).
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        // Every settled claim counts as an attempt, whatever became of it (a
        // batch whose settlement never commits, its relay killed mid-batch, is
        // not counted: the rows are claimed again as they were).
        if !settlement.published.is_empty() {
            sqlx::query(
                "UPDATE outbox SET published_at = now(), attempts = attempts + 1,
                     lease_until = NULL, last_error = NULL
                 WHERE id = ANY($1)",
            )
            .bind(&settlement.published)
            .execute(&mut *tx)
            .await?;
        }
        let mut parked = Vec::new();
        for (id, error) in &settlement.released {
            // A row claimed again and again without ever being published (say,
            // one the broker answers by closing the channel) is parked, so it
            // cannot hold back the rows behind it for ever.
            let park: bool = sqlx::query_scalar(
                "UPDATE outbox SET attempts = attempts + 1, lease_until = NULL,
                     last_error = $2 || CASE WHEN attempts + 1 >= $3 THEN ' (claimed too often; parked)' ELSE '' END,
                     parked_at = CASE WHEN attempts + 1 >= $3 THEN now() END
                 WHERE id = $1
                 RETURNING parked_at IS NOT NULL",
            )
            .bind(id)
            .bind(error)
            .bind(MAX_CLAIMS)
            .fetch_one(&mut *tx)
            .await?;
            if park {
                parked.push(*id);
            }
        }
        for deferral in &settlement.deferred {
            let attempts: i32 = sqlx::query_scalar(
                "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts",
            )
            .bind(deferral.id)
            .fetch_one(&mut *tx)
            .await?;
            let park = deferral.permanent || attempts >= MAX_PUBLISH_ATTEMPTS;
            sqlx::query(
                "UPDATE outbox SET last_error = $2,
                     lease_until = now() + make_interval(secs => $3),
                     parked_at = CASE WHEN $4 THEN now() END
                 WHERE id = $1",
            )
            .bind(deferral.id)
            .bind(&deferral.error)
            .bind(publish_retry_delay(attempts).as_secs_f64())
            .bind(park)
            .execute(&mut *tx)
            .await?;
            if park {
                parked.push(deferral.id);
            }
        }
        tx.commit().await?;
        Ok(parked)
    }
}

#[async_trait]
impl OutboxStore for PgOutbox {
    async fn claim(&self, limit: i64, _lease: Duration) -> anyhow::Result<Box<dyn Claim>> {
        // The rows stay locked by this transaction until the claim is settled;
        // `lease_until` here only holds back a deferred row until its retry.
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(Uuid, serde_json::Value)> = sqlx::query_as(
            "SELECT id, envelope FROM outbox
             WHERE published_at IS NULL AND parked_at IS NULL
               AND (lease_until IS NULL OR lease_until < now())
             ORDER BY seq
             LIMIT $1
             FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let (mut events, mut unreadable) = (Vec::with_capacity(rows.len()), Vec::new());
        for (id, envelope) in rows {
            match serde_json::from_value::<RawEnvelope>(envelope) {
                Ok(event) => events.push(event),
                Err(e) => unreadable.push((id, e.to_string())),
            }
        }
        Ok(Box::new(PgClaim {
            tx,
            events,
            unreadable,
        }))
    }

    async fn backlog(&self) -> anyhow::Result<Backlog> {
        let (pending, parked, oldest): (i64, i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), count(parked_at),
                    EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL))::float8
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Backlog {
            pending,
            parked,
            oldest_pending_secs: oldest.unwrap_or(0.0).max(0.0),
        })
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
        let inbox =
            sqlx::query("DELETE FROM inbox WHERE processed_at < now() - make_interval(secs => $1)")
                .bind(INBOX_RETENTION.as_secs_f64())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() + inbox.rows_affected())
    }
}

impl PgOutbox {
    /// Parked events, oldest first.
    pub async fn parked(&self, limit: i64) -> sqlx::Result<Vec<ParkedEvent>> {
        sqlx::query_as(
            "SELECT id, routing_key, attempts, last_error, parked_at FROM outbox
             WHERE parked_at IS NOT NULL AND published_at IS NULL
             ORDER BY seq LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// Puts parked events (all, or only `only`) back in line, with their
    /// attempts reset; returns how many.
    pub async fn unpark(&self, only: Option<Uuid>) -> sqlx::Result<u64> {
        let done = sqlx::query(
            "UPDATE outbox SET parked_at = NULL, lease_until = NULL, attempts = 0
             WHERE parked_at IS NOT NULL AND published_at IS NULL
               AND ($1::uuid IS NULL OR id = $1)",
        )
        .bind(only)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&self.pool)
                .await?;
        }
        Ok(done.rows_affected())
    }
}
