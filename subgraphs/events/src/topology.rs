//! The broker topology: one durable topic exchange for all events, one quorum
//! queue per consuming service bound to the keys it handles, and a dead-letter
//! exchange routing failures to `<service>.dlq`.
//!
//! Each consuming service also has a retry queue (`<service>.retry`, bound to
//! the topic exchange `commerce.retry` with that key): a message waits there
//! for its own delay ([`RETRY_DELAYS`], as the message's `expiration`) and is
//! then dead-lettered back to `<service>.events` through the default exchange,
//! so a delayed redelivery reaches only that service. (Messages expire from the
//! head of the queue: a short delay behind a long one waits for it; delays are
//! a lower bound.) Services never
//! publish to the default exchange, so broker permissions can confine each to
//! its own routing keys.
//!
//! The run command declares the whole topology, and so does a service that
//! finds it missing at start-up (whichever consumers it runs: events published
//! while a consumer is down wait in its queue). Declarations are idempotent. In a deployment with a broker user per service (least
//! privilege: no `configure` permission, writes only to the two exchanges and
//! only its own routing keys, reads only its own queue; see
//! `events-dlq provision`), the operator declares the topology and each
//! service only checks that what it uses exists ([`Topology::ensure`]): a
//! service declares only what is missing, so after an upgrade that changes the
//! topology the operator runs `events-dlq declare` first.

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ErrorKind, ExchangeKind};

/// How many times a message may be delivered before the broker dead-letters it
/// (a consumer that crashes mid-message, again and again).
pub const DELIVERY_LIMIT: i64 = 5;

/// The delays of the retry queues; a message redelivered for the n-th time
/// waits the n-th (the last one from then on).
pub const RETRY_DELAYS: [std::time::Duration; 3] = [
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(5),
    std::time::Duration::from_secs(30),
];

/// The consuming services and the routing keys each one handles.
pub const SUBSCRIPTIONS: &[(&str, &[&str])] = &[
    (
        "products",
        &["order.placed", "order.paid", "order.cancelled"],
    ),
    (
        "orders",
        &[
            "stock.reserved",
            "stock.rejected",
            "stock.released",
            "payment.succeeded",
            "payment.failed",
            "payment.refunded",
        ],
    ),
    ("payments", &["payment.requested", "order.cancelled"]),
];

/// The only service that may publish each routing key. A consumer refuses
/// (dead-letters, never applies) an event whose envelope names another source,
/// so a foothold elsewhere cannot, say, announce a payment.
pub const PUBLISHERS: &[(&str, &[&str])] = &[
    ("users", &["user.registered"]),
    (
        "orders",
        &[
            "order.placed",
            "order.paid",
            "order.cancelled",
            "order.shipped",
            "order.delivered",
            "payment.requested",
        ],
    ),
    (
        "products",
        &["stock.reserved", "stock.rejected", "stock.released"],
    ),
    (
        "payments",
        &["payment.succeeded", "payment.failed", "payment.refunded"],
    ),
];

/// The service that may publish `key`.
pub fn publisher_of(key: &str) -> Option<&'static str> {
    PUBLISHERS
        .iter()
        .find(|(_, keys)| keys.contains(&key))
        .map(|(service, _)| *service)
}

/// Names of the exchanges and queues, optionally under a prefix so that tests
/// can share one broker without seeing each other's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
}

impl Topology {
    /// The production topology (no prefix).
    pub fn new() -> Self {
        Topology::default()
    }

    /// A topology whose every name starts with `prefix` (tests use a random one).
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Topology {
            prefix: prefix.into(),
        }
    }

    /// The prefix of every name (empty in production).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The events exchange, `commerce.events`.
    pub fn exchange(&self) -> String {
        format!("{}commerce.events", self.prefix)
    }

    /// The dead-letter exchange, `commerce.dlx`.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}commerce.dlx", self.prefix)
    }

    /// A service's queue, `<service>.events`.
    pub fn queue(&self, service: &str) -> String {
        format!("{}{service}.events", self.prefix)
    }

    /// A service's dead-letter queue, `<service>.dlq`.
    pub fn dead_letter_queue(&self, service: &str) -> String {
        format!("{}{service}.dlq", self.prefix)
    }

    /// The delay of retry tier `tier` (the last one past the end).
    pub fn retry_delay(tier: usize) -> std::time::Duration {
        RETRY_DELAYS[tier.min(RETRY_DELAYS.len() - 1)]
    }

    /// The retry queue of `service`, `<service>.retry`.
    pub fn retry_queue(&self, service: &str) -> String {
        format!("{}{}", self.prefix, Self::retry_key(service))
    }

    /// The topic exchange consumers send delayed redeliveries to,
    /// `commerce.retry` (a topic exchange, so the broker can limit each service
    /// to its own keys).
    pub fn retry_exchange(&self) -> String {
        format!("{}commerce.retry", self.prefix)
    }

    /// The routing key of `service`'s retry queue: `<service>.retry`.
    pub fn retry_key(service: &str) -> String {
        format!("{service}.retry")
    }

    /// The routing keys a service consumes.
    pub fn keys_of(service: &str) -> &'static [&'static str] {
        SUBSCRIPTIONS
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, k)| *k)
            .unwrap_or(&[])
    }

    /// Declares exchanges, queues and bindings (idempotent).
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                self.exchange().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.dead_letter_exchange().into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.retry_exchange().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        for (service, keys) in SUBSCRIPTIONS {
            let dlq = self.dead_letter_queue(service);
            channel
                .queue_declare(dlq.clone().into(), durable_queue(), quorum_args())
                .await?;
            channel
                .queue_bind(
                    dlq.into(),
                    self.dead_letter_exchange().into(),
                    (*service).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;

            let queue = self.queue(service);
            let mut args = quorum_args();
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(DELIVERY_LIMIT),
            );
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(self.dead_letter_exchange().into()),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString((*service).into()),
            );
            // Dead-letter at least once (not at most once): needs reject-publish overflow.
            args.insert(
                "x-dead-letter-strategy".into(),
                AMQPValue::LongString("at-least-once".into()),
            );
            args.insert(
                "x-overflow".into(),
                AMQPValue::LongString("reject-publish".into()),
            );
            channel
                .queue_declare(queue.clone().into(), durable_queue(), args)
                .await?;
            // One retry queue per service; each message carries its own delay
            // (`expiration`). A classic queue: a message only waits there.
            let mut args = FieldTable::default();
            // Back to the service's own queue through the default exchange.
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString("".into()),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(queue.clone().into()),
            );
            channel
                .queue_declare(self.retry_queue(service).into(), durable_queue(), args)
                .await?;
            channel
                .queue_bind(
                    self.retry_queue(service).into(),
                    self.retry_exchange().into(),
                    Self::retry_key(service).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            for key in *keys {
                channel
                    .queue_bind(
                        queue.clone().into(),
                        self.exchange().into(),
                        (*key).into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Makes sure what a service uses exists: the exchanges it publishes to
    /// and, for a consumer, its own queue. When they do (the operator, or an
    /// earlier start, declared them) nothing is declared, so a service whose
    /// own, least-privilege user may not configure the broker starts cleanly;
    /// when they do not, the whole topology is declared, which needs the
    /// `configure` permission (development and tests run with it).
    pub async fn ensure(&self, conn: &Connection, consumer_of: Option<&str>) -> lapin::Result<()> {
        let channel = conn.create_channel().await?;
        match self.check(&channel, consumer_of).await {
            Ok(()) => return channel.close(200, "checked".into()).await,
            Err(e) if is_not_found(&e) => {
                tracing::info!("declaring the broker topology");
            }
            Err(e) => return Err(e),
        }
        // A failed passive declaration closed that channel.
        let channel = conn.create_channel().await?;
        self.declare(&channel).await?;
        channel.close(200, "declared".into()).await
    }

    /// Passive declarations (no permission needed) of the exchanges and of
    /// `consumer_of`'s queue; `NOT_FOUND` if one is missing.
    async fn check(&self, channel: &Channel, consumer_of: Option<&str>) -> lapin::Result<()> {
        let passive = ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        };
        for exchange in [self.exchange(), self.retry_exchange()] {
            channel
                .exchange_declare(
                    exchange.into(),
                    ExchangeKind::Topic,
                    passive,
                    FieldTable::default(),
                )
                .await?;
        }
        if let Some(service) = consumer_of {
            let passive = QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            channel
                .queue_declare(self.queue(service).into(), passive, FieldTable::default())
                .await?;
        }
        Ok(())
    }

    /// Deletes everything [`Topology::declare`] made (tests clean up with it).
    pub async fn delete(&self, channel: &Channel) -> lapin::Result<()> {
        for (service, _) in SUBSCRIPTIONS {
            for q in [
                self.queue(service),
                self.dead_letter_queue(service),
                self.retry_queue(service),
            ] {
                channel
                    .queue_delete(q.into(), QueueDeleteOptions::default())
                    .await?;
            }
        }
        for x in [
            self.exchange(),
            self.dead_letter_exchange(),
            self.retry_exchange(),
        ] {
            channel
                .exchange_delete(x.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

fn quorum_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

/// Whether the broker refused an operation for want of permission
/// (`ACCESS_REFUSED`, which closes the channel).
pub fn is_access_refused(e: &lapin::Error) -> bool {
    is_soft(e, AMQPSoftError::ACCESSREFUSED)
}

/// Whether a passive declaration found nothing (`NOT_FOUND`).
fn is_not_found(e: &lapin::Error) -> bool {
    is_soft(e, AMQPSoftError::NOTFOUND)
}

fn is_soft(e: &lapin::Error, kind: AMQPSoftError) -> bool {
    matches!(e.kind(), ErrorKind::ProtocolError(p) if *p.kind() == AMQPErrorKind::Soft(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_someone_consumes_has_a_publisher_side_type() {
        use crate::catalogue::*;
        let known = [
            OrderPlaced::TYPE,
            OrderPaid::TYPE,
            OrderCancelled::TYPE,
            StockReserved::TYPE,
            StockRejected::TYPE,
            StockReleased::TYPE,
            PaymentRequested::TYPE,
            PaymentSucceeded::TYPE,
            PaymentFailed::TYPE,
            PaymentRefunded::TYPE,
        ];
        for (_, keys) in SUBSCRIPTIONS {
            for key in *keys {
                assert!(known.contains(key), "{key} has no payload type");
            }
        }
    }

    #[test]
    fn every_consumed_key_has_exactly_one_publisher() {
        for (_, keys) in SUBSCRIPTIONS {
            for key in *keys {
                let publishers = PUBLISHERS.iter().filter(|(_, k)| k.contains(key)).count();
                assert_eq!(publishers, 1, "{key}");
            }
        }
        assert_eq!(publisher_of("payment.succeeded"), Some("payments"));
        assert_eq!(publisher_of("payment.requested"), Some("orders"));
    }

    #[test]
    fn prefixed_names_do_not_collide_with_production() {
        let t = Topology::with_prefix("t_x.");
        assert_eq!(t.queue("orders"), "t_x.orders.events");
        assert_eq!(Topology::new().dead_letter_queue("orders"), "orders.dlq");
    }
}
