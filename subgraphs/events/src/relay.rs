//! The outbox relay: publishes claimed outbox events to the exchange with
//! publisher confirms and marks them published only once the broker has
//! confirmed them, a batch at a time (on PostgreSQL one transaction, one commit,
//! per batch: under load a batch holds every event written meanwhile). Woken by LISTEN/NOTIFY, with polling as a backstop; it
//! reconnects to the broker by itself, and several relays may run side by side.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::Channel;
use lapin::Confirmation;
use platform::workers::WorkerContext;

use crate::amqp;
use crate::envelope::RawEnvelope;
use crate::outbox::{OutboxStore, Settlement};
use crate::topology::{Topology, SUBSCRIPTIONS};

/// Relay settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The broker URL.
    pub amqp_url: String,
    /// Names of exchange and queues.
    pub topology: Topology,
    /// The connection name shown by the broker, e.g. `orders-relay`.
    pub name: String,
    /// Events per claim.
    pub batch: i64,
    /// How long to wait for a NOTIFY before polling anyway.
    pub poll_interval: Duration,
    /// How long a claim is exclusive where the store leases rows (MongoDB),
    /// and how long publishing a batch may take before its unconfirmed events
    /// are given back (PostgreSQL holds them locked meanwhile).
    pub lease: Duration,
}

impl RelayConfig {
    /// Defaults for a service: batches of 100, poll every second, 30 s leases.
    pub fn new(amqp_url: &str, topology: Topology, name: &str) -> Self {
        RelayConfig {
            amqp_url: amqp_url.to_string(),
            topology,
            name: name.to_string(),
            batch: 100,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
        }
    }
}

/// Whether some queue consumes `key`: such events are published `mandatory`, so
/// an unroutable one is an error and stays pending instead of vanishing.
fn is_consumed(key: &str) -> bool {
    SUBSCRIPTIONS.iter().any(|(_, keys)| keys.contains(&key))
}

#[derive(Debug)]
enum BatchError {
    Broker(lapin::Error),
    /// The broker did not confirm the batch within the lease.
    Timeout,
    Store(anyhow::Error),
}

/// Runs the relay until its token is cancelled, reporting to its status
/// whether it can reach the broker.
pub async fn run(store: Arc<dyn OutboxStore>, config: RelayConfig, ctx: WorkerContext) {
    let shutdown = ctx.token.clone();
    let mut attempt = 0u32;
    let mut last_prune = tokio::time::Instant::now();
    let mut last_backlog = tokio::time::Instant::now() - BACKLOG_EVERY;
    while !shutdown.is_cancelled() {
        let connected = async {
            let conn = amqp::connect(&config.amqp_url, &config.name).await?;
            config.topology.ensure(&conn, None).await?;
            let channel = amqp::confirm_channel(&conn).await?;
            Ok::<_, lapin::Error>((conn, channel))
        }
        .await;
        let (conn, channel) = match connected {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, relay = %config.name, "broker unavailable; retrying");
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
        tracing::info!(relay = %config.name, "relay connected");
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            // A connection lost while idle is noticed here, not at the next publish.
            if !conn.status().connected() {
                tracing::warn!(relay = %config.name, "broker connection lost; reconnecting");
                ctx.status.down("broker connection lost");
                break;
            }
            if last_backlog.elapsed() >= BACKLOG_EVERY {
                last_backlog = tokio::time::Instant::now();
                report_backlog(store.as_ref()).await;
            }
            match publish_batch(store.as_ref(), &channel, &config).await {
                Ok(n) if n as i64 >= config.batch => continue,
                Ok(_) => {
                    if last_prune.elapsed() > Duration::from_secs(3600) {
                        last_prune = tokio::time::Instant::now();
                        if let Err(e) = store.prune(Duration::from_secs(7 * 24 * 3600)).await {
                            tracing::warn!(error = %e, "pruning the outbox failed");
                        }
                    }
                    tokio::select! {
                        () = store.wait(config.poll_interval) => {}
                        () = shutdown.cancelled() => {}
                    }
                }
                Err(BatchError::Broker(e)) => {
                    tracing::warn!(error = %e, relay = %config.name, "broker connection lost; reconnecting");
                    ctx.status.down(format!("broker connection lost: {e}"));
                    break;
                }
                Err(BatchError::Timeout) => {
                    tracing::warn!(relay = %config.name, lease = ?config.lease, "the broker did not confirm a batch in time; reconnecting");
                    ctx.status.down("the broker did not confirm in time");
                    break;
                }
                Err(BatchError::Store(e)) => {
                    tracing::warn!(error = %e, relay = %config.name, "outbox unavailable");
                    tokio::select! {
                        () = tokio::time::sleep(config.poll_interval) => {}
                        () = shutdown.cancelled() => {}
                    }
                }
            }
        }
        let _ = conn.close(200, "relay stopping".into()).await;
    }
    tracing::info!(relay = %config.name, "relay stopped");
}

/// How often the backlog gauges are refreshed.
const BACKLOG_EVERY: Duration = Duration::from_secs(5);

/// Sets `outbox_pending_events`, `outbox_parked_events` and
/// `outbox_oldest_pending_seconds`.
async fn report_backlog(store: &dyn OutboxStore) {
    match store.backlog().await {
        Ok(backlog) => {
            metrics::gauge!("outbox_pending_events").set(backlog.pending as f64);
            metrics::gauge!("outbox_parked_events").set(backlog.parked as f64);
            metrics::gauge!("outbox_oldest_pending_seconds").set(backlog.oldest_pending_secs);
        }
        Err(e) => tracing::debug!(error = %e, "cannot read the outbox backlog"),
    }
}

/// Publishes one claimed batch; returns how many were claimed. The batch's
/// rows stay claimed while it is published, so publishing and its confirms are
/// bounded by the lease: what the broker has not confirmed by then is given
/// back and the relay reconnects.
async fn publish_batch(
    store: &dyn OutboxStore,
    channel: &Channel,
    config: &RelayConfig,
) -> Result<usize, BatchError> {
    let claim = store
        .claim(config.batch, config.lease)
        .await
        .map_err(BatchError::Store)?;
    let events = claim.events();
    let claimed = events.len();
    let mut settlement = Settlement::default();
    let published = tokio::time::timeout(
        config.lease,
        publish_and_confirm(events, channel, config, &mut settlement),
    )
    .await;
    let failure = match published {
        Ok(None) => None,
        Ok(Some(e)) => Some(BatchError::Broker(e)),
        Err(_) => {
            let settled: std::collections::HashSet<uuid::Uuid> = settlement
                .published
                .iter()
                .copied()
                .chain(settlement.released.iter().map(|(id, _)| *id))
                .chain(settlement.deferred.iter().map(|d| d.id))
                .collect();
            for event in events.iter().filter(|e| !settled.contains(&e.id)) {
                settlement.release(event.id, "the broker did not confirm it in time");
            }
            Some(BatchError::Timeout)
        }
    };
    let published = settlement.published.len();
    for deferral in settlement.deferred.iter().filter(|d| d.permanent) {
        tracing::warn!(event = %deferral.id, error = %deferral.error, "event cannot be sent");
    }
    let parked = claim.settle(settlement).await.map_err(BatchError::Store)?;
    for id in &parked {
        tracing::error!(event = %id, "event parked; replay it with `events-dlq outbox retry`");
    }
    if !parked.is_empty() {
        metrics::counter!("outbox_events_parked_total").increment(parked.len() as u64);
    }
    if published > 0 {
        metrics::counter!("outbox_events_published_total").increment(published as u64);
        tracing::debug!(count = published, "published events");
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(claimed),
    }
}

/// Publishes `events` and waits for their confirms, recording each outcome
/// in `settlement`; returns the broker error that cut it short, if any.
async fn publish_and_confirm(
    events: &[RawEnvelope],
    channel: &Channel,
    config: &RelayConfig,
    settlement: &mut Settlement,
) -> Option<lapin::Error> {
    let mut pending = Vec::with_capacity(events.len());
    let mut broker_error = None;
    for (index, event) in events.iter().enumerate() {
        let body = match serde_json::to_vec(event) {
            Ok(b) => b,
            Err(e) => {
                settlement.defer(event.id, format!("cannot serialise: {e}"), true);
                continue;
            }
        };
        let (key, properties) = match amqp::short("type", &event.kind)
            .and_then(|k| Ok((k, amqp::properties(event)?)))
        {
            Ok(built) => built,
            Err(e) => {
                settlement.defer(event.id, format!("cannot be sent: {e}"), true);
                continue;
            }
        };
        let options = BasicPublishOptions {
            mandatory: is_consumed(&event.kind),
            ..Default::default()
        };
        match channel
            .basic_publish(
                config.topology.exchange().into(),
                key,
                options,
                &body,
                properties,
            )
            .await
        {
            Ok(confirm) => pending.push((event.id, confirm)),
            Err(e) => {
                // Give back what was not sent, so no relay waits for it.
                for unsent in &events[index..] {
                    settlement.release(unsent.id, e.to_string());
                }
                broker_error = Some(e);
                break;
            }
        }
    }
    for (id, confirm) in pending {
        match confirm.await {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => {
                settlement.published(id)
            }
            Ok(Confirmation::Ack(Some(returned))) => {
                let why = format!("unroutable: {}", returned.reply_text);
                tracing::warn!(event = %id, error = %why, "event not published; retrying later");
                settlement.defer(id, why, false);
            }
            Ok(Confirmation::Nack(_)) => {
                tracing::warn!(event = %id, "event nacked by the broker; retrying later");
                settlement.defer(id, "nacked by the broker", false);
            }
            Err(e) => {
                settlement.release(id, e.to_string());
                broker_error.get_or_insert(e);
            }
        }
    }
    broker_error
}
