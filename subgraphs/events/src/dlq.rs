//! Dead-lettered messages: list them and replay them to their consumer.

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions};
use lapin::Confirmation;
use lapin::Connection;

use crate::amqp;
use crate::envelope::RawEnvelope;
use crate::topology::Topology;

/// A dead-lettered message.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The event, if the body is one.
    pub event: Option<RawEnvelope>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The routing key it was published with.
    pub routing_key: String,
}

/// Lists up to `limit` messages of `service`'s dead-letter queue without
/// removing them (they are returned to the queue when the channel closes).
pub async fn list(
    conn: &Connection,
    topology: &Topology,
    service: &str,
    limit: usize,
) -> lapin::Result<Vec<DeadLetter>> {
    let channel = conn.create_channel().await?;
    let mut letters = Vec::new();
    while letters.len() < limit {
        let Some(message) = channel
            .basic_get(
                topology.dead_letter_queue(service).into(),
                BasicGetOptions { no_ack: false },
            )
            .await?
        else {
            break;
        };
        let body = message.delivery.data.clone();
        letters.push(DeadLetter {
            event: serde_json::from_slice(&body).ok(),
            routing_key: message.delivery.routing_key.to_string(),
            body,
        });
    }
    // Closing without acks returns every message to the queue.
    channel.close(200, "listed".into()).await?;
    Ok(letters)
}

/// Replays dead-lettered events of `service` (all, or only `only` if given) by
/// publishing them again, with confirms, to that service's queue only (through
/// its retry queue with no delay, as its own redeliveries go: the other
/// consumers of the key already had theirs, and a service's broker user may
/// publish exactly that), with a fresh redelivery budget; each is removed
/// from the dead-letter queue only after the broker confirmed its replay.
/// (A replayed event waits behind any redelivery already waiting there.)
/// Returns how many were replayed. Messages that are not events stay put.
pub async fn replay(
    conn: &Connection,
    topology: &Topology,
    service: &str,
    only: Option<uuid::Uuid>,
) -> lapin::Result<usize> {
    let channel = amqp::confirm_channel(conn).await?;
    let mut replayed = 0;
    let mut keep = Vec::new();
    // Messages just returned to the queue (a listing's channel closing) become
    // ready a moment later: only stop after the queue stayed empty for a while.
    // Messages kept back stay unacknowledged on this channel, so none is seen twice.
    let mut idle = 0;
    while idle < 10 {
        let Some(message) = channel
            .basic_get(
                topology.dead_letter_queue(service).into(),
                BasicGetOptions { no_ack: false },
            )
            .await?
        else {
            idle += 1;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        idle = 0;
        let event: Option<RawEnvelope> = serde_json::from_slice(&message.delivery.data).ok();
        let wanted = match (&event, only) {
            (Some(e), Some(id)) => e.id == id,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let Some(properties) = event
            .filter(|_| wanted)
            .and_then(|e| amqp::properties(&e).ok())
        else {
            keep.push(message);
            continue;
        };
        let properties = properties.with_expiration("0".into());
        let confirm = channel
            .basic_publish(
                topology.retry_exchange().into(),
                Topology::retry_key(service).into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &message.delivery.data,
                properties,
            )
            .await?
            .await?;
        if matches!(confirm, Confirmation::Ack(None)) {
            message.delivery.ack(BasicAckOptions::default()).await?;
            replayed += 1;
        } else {
            keep.push(message);
        }
    }
    // Unacked messages return to the dead-letter queue with the channel.
    drop(keep);
    channel.close(200, "replayed".into()).await?;
    Ok(replayed)
}
