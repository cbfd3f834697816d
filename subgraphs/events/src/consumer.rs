//! The consumer: reads a service's queue with manual acks and a bounded
//! prefetch, hands each event to a [`Handler`], retries transient failures with
//! backoff, and dead-letters poison messages (`basic.reject` without requeue, so
//! the queue's dead-letter exchange routes them to `<service>.dlq`).
//!
//! Exactly-once effects come from the handler's inbox: with [`begin_once`] a
//! PostgreSQL handler writes its effects and the event id in one transaction, so
//! a redelivered event (the `redelivered` flag is only a hint) is acknowledged
//! and skipped. A message is acknowledged only after that transaction commits.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use sqlx::{PgPool, Postgres, Transaction};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::amqp;
use crate::envelope::RawEnvelope;
use crate::topology::Topology;

/// Why handling an event failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying: a dependency is briefly unavailable, a serialisation conflict.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// Will never succeed as is: a malformed or unknown event, a broken invariant.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
}

impl HandlerError {
    /// Whether a retry may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, HandlerError::Transient(_))
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        // Database errors are transient unless the statement itself is wrong.
        let permanent = matches!(&e, sqlx::Error::Database(db)
            if db.code().is_some_and(|c| c.starts_with("22") || c.starts_with("42")));
        if permanent {
            HandlerError::Permanent(e.into())
        } else {
            HandlerError::Transient(e.into())
        }
    }
}

impl From<crate::envelope::DecodeError> for HandlerError {
    fn from(e: crate::envelope::DecodeError) -> Self {
        HandlerError::Permanent(e.into())
    }
}

impl From<platform::Error> for HandlerError {
    fn from(e: platform::Error) -> Self {
        match e {
            platform::Error::Unavailable(m) => HandlerError::Transient(anyhow::anyhow!(m)),
            platform::Error::Internal(e) => HandlerError::Transient(e),
            other => HandlerError::Permanent(anyhow::anyhow!(other.to_string())),
        }
    }
}

/// Applies events of the keys a service consumes.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Applies one event, at most once (see [`begin_once`]).
    async fn handle(&self, event: &RawEnvelope) -> Result<(), HandlerError>;
}

/// Starts the transaction that applies `event` for `consumer`, or returns `None`
/// when the inbox says it was applied already. Commit it to record the event.
pub async fn begin_once(
    pool: &PgPool,
    consumer: &str,
    event: &RawEnvelope,
) -> sqlx::Result<Option<Transaction<'static, Postgres>>> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event.id)
    .bind(&event.kind)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        tracing::debug!(event = %event.id, "already applied; skipping");
        tx.rollback().await?;
        return Ok(None);
    }
    Ok(Some(tx))
}

/// Consumer settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The broker URL.
    pub amqp_url: String,
    /// Names of exchange and queues.
    pub topology: Topology,
    /// The consuming service (selects its queue).
    pub service: String,
    /// Unacknowledged messages the broker may send ahead (also the concurrency).
    pub prefetch: u16,
    /// Attempts for a transiently failing event before it is dead-lettered.
    pub max_attempts: usize,
    /// First retry delay (doubling up to 2 s).
    pub retry_delay: Duration,
}

impl ConsumerConfig {
    /// Defaults: prefetch 32, 5 attempts starting at 100 ms.
    pub fn new(amqp_url: &str, topology: Topology, service: &str) -> Self {
        ConsumerConfig {
            amqp_url: amqp_url.to_string(),
            topology,
            service: service.to_string(),
            prefetch: 32,
            max_attempts: 5,
            retry_delay: Duration::from_millis(100),
        }
    }
}

/// Consumes the service's queue until `shutdown` is cancelled; messages in
/// flight are finished (or left unacknowledged for redelivery), never half applied.
pub async fn run(handler: Arc<dyn Handler>, config: ConsumerConfig, shutdown: CancellationToken) {
    let mut attempt = 0u32;
    let name = format!("{}{}-consumer", config.topology.prefix(), config.service);
    while !shutdown.is_cancelled() {
        let started = async {
            let conn = amqp::connect(&config.amqp_url, &name).await?;
            let channel = conn.create_channel().await?;
            config.topology.declare(&channel).await?;
            channel
                .basic_qos(config.prefetch, BasicQosOptions::default())
                .await?;
            let consumer = channel
                .basic_consume(
                    config.topology.queue(&config.service).into(),
                    name.clone().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, lapin::Error>((conn, consumer))
        }
        .await;
        let (conn, consumer) = match started {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, consumer = %name, "broker unavailable; retrying");
                tokio::select! {
                    () = tokio::time::sleep(amqp::reconnect_delay(attempt)) => {}
                    () = shutdown.cancelled() => {}
                }
                attempt = attempt.saturating_add(1);
                continue;
            }
        };
        attempt = 0;
        tracing::info!(consumer = %name, "consuming");
        let cancelled = shutdown.clone();
        consumer
            .take_until(async move { cancelled.cancelled().await })
            .for_each_concurrent(usize::from(config.prefetch.max(1)), |delivery| {
                let handler = handler.clone();
                let config = &config;
                async move {
                    match delivery {
                        Ok(delivery) => process(handler.as_ref(), config, delivery).await,
                        Err(e) => tracing::warn!(error = %e, "delivery error; reconnecting"),
                    }
                }
            })
            .await;
        // The stream ended: shutdown, or the connection was lost. Unacked
        // messages go back to the queue when the connection closes.
        let _ = conn.close(200, "consumer stopping".into()).await;
        if !shutdown.is_cancelled() {
            tracing::warn!(consumer = %name, "connection lost; reconnecting");
            tokio::time::sleep(amqp::reconnect_delay(0)).await;
        }
    }
    tracing::info!(consumer = %name, "consumer stopped");
}

async fn process(handler: &dyn Handler, config: &ConsumerConfig, delivery: Delivery) {
    let event: RawEnvelope = match serde_json::from_slice(&delivery.data) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "not an event envelope; dead-lettering");
            reject(&delivery).await;
            return;
        }
    };
    let correlation = amqp::header(&delivery.properties, amqp::CORRELATION_HEADER)
        .or_else(|| event.correlation_id.clone())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "event",
        id = %event.id,
        kind = %event.kind,
        correlation_id = %correlation,
        traceparent = event.traceparent.as_deref().unwrap_or(""),
        redelivered = delivery.redelivered,
    );
    async {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(config.retry_delay)
            .with_max_delay(Duration::from_secs(2))
            .with_max_times(config.max_attempts.saturating_sub(1));
        let context = platform::context::RequestContext {
            correlation_id: event.correlation_id.clone(),
            traceparent: event.traceparent.clone(),
        };
        let result = (|| context.clone().scope(handler.handle(&event)))
            .retry(backoff)
            .when(HandlerError::is_transient)
            .notify(|e, after| tracing::warn!(error = %e, retry_in = ?after, "handler failed; retrying"))
            .await;
        match result {
            Ok(()) => {
                metrics::counter!("events_handled_total", "kind" => event.kind.clone()).increment(1);
                if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                    // Applied and recorded; the redelivery will be skipped by the inbox.
                    tracing::warn!(error = %e, "ack failed");
                }
            }
            Err(e) => {
                metrics::counter!("events_dead_lettered_total", "kind" => event.kind.clone()).increment(1);
                tracing::error!(error = %e, "event failed; dead-lettering");
                reject(&delivery).await;
            }
        }
    }
    .instrument(span)
    .await
}

async fn reject(delivery: &Delivery) {
    if let Err(e) = delivery.reject(BasicRejectOptions { requeue: false }).await {
        tracing::warn!(error = %e, "reject failed; the message will be redelivered");
    }
}
