//! The consumer: reads a service's queue with manual acks and a bounded
//! prefetch and hands each event to a [`Handler`]. What happens on failure
//! depends on why it failed:
//! - a **transient** failure is retried a few times at once (100 ms, 200 ms),
//!   then redelivered later through the service's retry queue (after 1 s,
//!   5 s, then every 30 s, for about a quarter of an hour: [`ConsumerConfig`]),
//!   and dead-lettered only when that budget is spent;
//! - while the handler's **store is unreachable** (connection refused, pool
//!   timed out, the server shutting down), the message is held and retried
//!   with backoff instead: with every prefetch slot held, consumption pauses
//!   until the store answers, and no budget is spent meanwhile;
//! - a **permanent** failure (a malformed event, a broken invariant) is
//!   dead-lettered at once (`basic.reject` without requeue, so the queue's
//!   dead-letter exchange routes it to `<service>.dlq`).
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
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};
use platform::workers::WorkerContext;
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

    /// Whether the handler's store could not be reached at all (as opposed to
    /// a failure of this event's work): then the consumer waits for the store.
    pub fn is_store_unavailable(&self) -> bool {
        let HandlerError::Transient(e) = self else {
            return false;
        };
        e.chain().any(|cause| {
            cause
                .downcast_ref::<sqlx::Error>()
                .is_some_and(is_connection_error)
        })
    }
}

/// A database error that means the server is unreachable, not that the
/// statement failed.
fn is_connection_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        // 08: connection exceptions; 57P01-57P03: shutting down, cannot connect now.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
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
    /// The event types this handler applies: exactly the routing keys its
    /// service's queue is bound to ([`Topology::keys_of`]), which
    /// [`check_routes`] holds it to when the service starts.
    fn handles(&self) -> &'static [&'static str];
    /// Applies one event, at most once (see [`begin_once`]).
    async fn handle(&self, event: &RawEnvelope) -> Result<(), HandlerError>;
}

/// Whether `handler` applies exactly what `service`'s queue receives: an
/// event bound but not handled would be dead-lettered, one handled but not
/// bound would never arrive.
pub fn check_routes(service: &str, handler: &dyn Handler) -> anyhow::Result<()> {
    let mut handled = handler.handles().to_vec();
    let mut bound = Topology::keys_of(service).to_vec();
    handled.sort_unstable();
    bound.sort_unstable();
    if handled != bound {
        anyhow::bail!(
            "{service}'s handler applies {handled:?} but its queue is bound to {bound:?} \
             (events::topology::SUBSCRIPTIONS)"
        );
    }
    Ok(())
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

/// Records `event` as applied by `consumer` when applying it changes nothing
/// (an echo of the consumer's own decision, say), so the inbox, and with it
/// the saga inspector, shows every event a consumer took as handled.
pub async fn record_without_effect(
    pool: &PgPool,
    consumer: &str,
    event: &RawEnvelope,
) -> sqlx::Result<()> {
    if let Some(tx) = begin_once(pool, consumer, event).await? {
        tx.commit().await?;
    }
    Ok(())
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
    /// Attempts in a row for a transiently failing event before it is
    /// redelivered later.
    pub max_attempts: usize,
    /// First in-process retry delay (doubling).
    pub retry_delay: Duration,
    /// Delayed redeliveries (through the retry queues) of a transiently
    /// failing event before it is dead-lettered.
    pub max_redeliveries: u32,
    /// How long an event is held while the store is unreachable before it
    /// falls back to delayed redelivery.
    pub max_pause: Duration,
}

impl ConsumerConfig {
    /// Defaults: prefetch 32, 3 attempts from 100 ms, then 30 delayed
    /// redeliveries (about 15 minutes); held up to 20 minutes while the store
    /// is down (under the broker's 30-minute acknowledgement timeout).
    pub fn new(amqp_url: &str, topology: Topology, service: &str) -> Self {
        ConsumerConfig {
            amqp_url: amqp_url.to_string(),
            topology,
            service: service.to_string(),
            prefetch: 32,
            max_attempts: 3,
            retry_delay: Duration::from_millis(100),
            max_redeliveries: 30,
            // Below RabbitMQ's delivery acknowledgement timeout (30 min).
            max_pause: Duration::from_secs(20 * 60),
        }
    }
}

/// The AMQP header counting an event's delayed redeliveries.
pub const REDELIVERIES_HEADER: &str = "x-redeliveries";

/// Consumes the service's queue until the token is cancelled; messages in
/// flight are finished (or left unacknowledged for redelivery), never half
/// applied. Reports to its status whether it can reach the broker.
pub async fn run(handler: Arc<dyn Handler>, config: ConsumerConfig, ctx: WorkerContext) {
    let shutdown = ctx.token.clone();
    let mut attempt = 0u32;
    let name = format!("{}{}-consumer", config.topology.prefix(), config.service);
    while !shutdown.is_cancelled() {
        let started = async {
            let conn = amqp::connect(&config.amqp_url, &name).await?;
            config.topology.ensure(&conn, Some(&config.service)).await?;
            let channel = conn.create_channel().await?;
            // Redeliveries are published on their own channel, with confirms.
            let publisher = amqp::confirm_channel(&conn).await?;
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
            Ok::<_, lapin::Error>((conn, publisher, consumer))
        }
        .await;
        let (conn, publisher, consumer) = match started {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, consumer = %name, "broker unavailable; retrying");
                ctx.status.down(format!("broker unreachable: {e}"));
                tokio::select! {
                    () = tokio::time::sleep(amqp::reconnect_delay(attempt)) => {}
                    () = shutdown.cancelled() => {}
                }
                attempt = attempt.saturating_add(1);
                continue;
            }
        };
        attempt = 0;
        ctx.status.up();
        tracing::info!(consumer = %name, "consuming");
        let cancelled = shutdown.clone();
        consumer
            .take_until(async move { cancelled.cancelled().await })
            .for_each_concurrent(usize::from(config.prefetch.max(1)), |delivery| {
                let handler = handler.clone();
                let config = &config;
                let publisher = &publisher;
                let shutdown = &shutdown;
                async move {
                    match delivery {
                        Ok(delivery) => {
                            process(handler.as_ref(), config, publisher, shutdown, delivery).await
                        }
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
            ctx.status.down("broker connection lost");
            tokio::time::sleep(amqp::reconnect_delay(0)).await;
        }
    }
    tracing::info!(consumer = %name, "consumer stopped");
}

/// How handling one delivery ended.
enum Outcome {
    Done,
    Failed(HandlerError),
    /// Shutting down while waiting: leave it unacknowledged for redelivery.
    Abandoned,
}

async fn process(
    handler: &dyn Handler,
    config: &ConsumerConfig,
    publisher: &Channel,
    shutdown: &CancellationToken,
    delivery: Delivery,
) {
    let event: RawEnvelope = match serde_json::from_slice(&delivery.data) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "not an event envelope; dead-lettering");
            metrics::counter!("events_dead_lettered_total", "kind" => "unreadable").increment(1);
            reject(&delivery).await;
            return;
        }
    };
    if !handler.handles().contains(&event.kind.as_str()) {
        tracing::error!(id = %event.id, kind = %event.kind, "an event this service does not handle; dead-lettering");
        metrics::counter!("events_refused_total", "kind" => event.kind.clone()).increment(1);
        reject(&delivery).await;
        return;
    }
    let allowed = crate::topology::publisher_of(&event.kind);
    if allowed != Some(event.source.as_str()) {
        tracing::error!(
            id = %event.id, kind = %event.kind, source = %event.source, expected = ?allowed,
            "event from a service that may not publish it; dead-lettering, not applying"
        );
        metrics::counter!("events_refused_total", "kind" => event.kind.clone()).increment(1);
        reject(&delivery).await;
        return;
    }
    let correlation = amqp::correlation_id(&event).unwrap_or_default().to_string();
    let redeliveries = redeliveries(&delivery.properties);
    let span = tracing::info_span!(
        "event",
        id = %event.id,
        kind = %event.kind,
        correlation_id = %correlation,
        trace_id = tracing::field::Empty,
        redelivered = delivery.redelivered,
        redeliveries,
    );
    // The trace of what published the event continues in its handling.
    platform::telemetry::continue_trace(&span, amqp::traceparent(&event), None);
    async {
        let context = platform::context::RequestContext {
            correlation_id: amqp::correlation_id(&event).map(str::to_string),
            traceparent: amqp::traceparent(&event).map(str::to_string),
            client_address: None,
        };
        let outcome = match attempt(handler, config, &event, &context).await {
            Err(e) if e.is_store_unavailable() => {
                wait_for_store(handler, config, &event, &context, shutdown, e).await
            }
            Err(e) => Outcome::Failed(e),
            Ok(()) => Outcome::Done,
        };
        let kind = event.kind.clone();
        match outcome {
            Outcome::Done => {
                metrics::counter!("events_handled_total", "kind" => kind).increment(1);
                if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                    // Applied and recorded; the redelivery will be skipped by the inbox.
                    tracing::warn!(error = %e, "ack failed");
                }
            }
            Outcome::Abandoned => {}
            Outcome::Failed(e) if e.is_transient() && redeliveries < config.max_redeliveries => {
                redeliver_later(config, publisher, &delivery, redeliveries, &e).await;
            }
            Outcome::Failed(e) => {
                metrics::counter!("events_dead_lettered_total", "kind" => kind).increment(1);
                tracing::error!(error = %e, redeliveries, "event failed; dead-lettering");
                reject(&delivery).await;
            }
        }
    }
    .instrument(span)
    .await
}

/// Handles the event, retrying transient failures a few times at once.
async fn attempt(
    handler: &dyn Handler,
    config: &ConsumerConfig,
    event: &RawEnvelope,
    context: &platform::context::RequestContext,
) -> Result<(), HandlerError> {
    let backoff = ExponentialBuilder::default()
        .with_min_delay(config.retry_delay)
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(config.max_attempts.saturating_sub(1));
    (|| context.clone().scope(handler.handle(event)))
        .retry(backoff)
        .when(|e: &HandlerError| e.is_transient() && !e.is_store_unavailable())
        .notify(
            |e, after| tracing::warn!(error = %e, retry_in = ?after, "handler failed; retrying"),
        )
        .await
}

/// Holds the event while the store is unreachable, trying again with backoff
/// (1 s doubling to 10 s) until it answers, shutdown, or `max_pause`.
async fn wait_for_store(
    handler: &dyn Handler,
    config: &ConsumerConfig,
    event: &RawEnvelope,
    context: &platform::context::RequestContext,
    shutdown: &CancellationToken,
    first: HandlerError,
) -> Outcome {
    tracing::warn!(error = %first, "store unavailable; holding the event until it answers");
    metrics::counter!("events_paused_total", "kind" => event.kind.clone()).increment(1);
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_secs(1);
    let mut last = first;
    while started.elapsed() < config.max_pause {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.cancelled() => return Outcome::Abandoned,
        }
        delay = (delay * 2).min(Duration::from_secs(10));
        match context.clone().scope(handler.handle(event)).await {
            Ok(()) => return Outcome::Done,
            Err(e) if e.is_store_unavailable() => last = e,
            Err(e) => return Outcome::Failed(e),
        }
    }
    Outcome::Failed(last)
}

/// The number of delayed redeliveries an event had.
fn redeliveries(props: &BasicProperties) -> u32 {
    let value = props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(REDELIVERIES_HEADER).cloned());
    match value {
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(n).unwrap_or(0),
        Some(AMQPValue::LongInt(n)) => u32::try_from(n).unwrap_or(0),
        Some(AMQPValue::ShortInt(n)) => u32::try_from(n).unwrap_or(0),
        _ => 0,
    }
}

/// Sends the message to the retry queue of its next delay; it comes back to
/// this service's queue (only) when the delay runs out. The original is acked
/// only once the broker confirmed the copy, so nothing is lost in between.
async fn redeliver_later(
    config: &ConsumerConfig,
    publisher: &Channel,
    delivery: &Delivery,
    redeliveries: u32,
    why: &HandlerError,
) {
    let tier = redeliveries as usize;
    let key = Topology::retry_key(&config.service);
    let delay_ms = Topology::retry_delay(tier).as_millis().to_string();
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(
        REDELIVERIES_HEADER.into(),
        AMQPValue::LongLongInt(i64::from(redeliveries) + 1),
    );
    let properties = delivery
        .properties
        .clone()
        .with_headers(headers)
        .with_expiration(delay_ms.into());
    let published = async {
        publisher
            .basic_publish(
                config.topology.retry_exchange().into(),
                key.clone().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &delivery.data,
                properties,
            )
            .await?
            .await
    }
    .await;
    match published {
        Ok(Confirmation::Ack(None)) => {
            tracing::warn!(error = %why, delay = ?Topology::retry_delay(tier), redeliveries, "event failed; redelivering later");
            metrics::counter!("events_retried_total", "kind" => delivery.routing_key.to_string())
                .increment(1);
            if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                // Both copies may arrive; the inbox applies the event once.
                tracing::warn!(error = %e, "ack after redelivery failed");
            }
        }
        other => {
            tracing::warn!(result = ?other.map(|_| ()), "cannot schedule the redelivery; requeueing");
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(e) = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await
            {
                tracing::warn!(error = %e, "nack failed; the message will be redelivered");
            }
        }
    }
}

async fn reject(delivery: &Delivery) {
    if let Err(e) = delivery.reject(BasicRejectOptions { requeue: false }).await {
        tracing::warn!(error = %e, "reject failed; the message will be redelivered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Handles(&'static [&'static str]);

    #[async_trait]
    impl Handler for Handles {
        fn handles(&self) -> &'static [&'static str] {
            self.0
        }
        async fn handle(&self, _: &RawEnvelope) -> Result<(), HandlerError> {
            Ok(())
        }
    }

    #[test]
    fn a_handler_must_apply_exactly_what_its_queue_receives() {
        let payments = &["order.cancelled", "payment.requested"];
        assert!(check_routes("payments", &Handles(payments)).is_ok());
        let missing = check_routes("payments", &Handles(&["payment.requested"]));
        assert!(missing.is_err_and(|e| e.to_string().contains("order.cancelled")));
        let extra = &["order.cancelled", "payment.requested", "order.paid"];
        assert!(check_routes("payments", &Handles(extra)).is_err());
    }
}
