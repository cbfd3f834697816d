//! The outbox relay and the inbox consumer against the real PostgreSQL and
//! RabbitMQ. Each test has its own database and its own exchange and queues
//! (a random name prefix), so tests run in parallel on one broker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use events::catalogue::{OrderLine, OrderPlaced};
use events::consumer::{self, begin_once, ConsumerConfig, Handler, HandlerError};
use events::outbox::{self, OutboxStore, PgOutbox, Settlement};
use events::relay::{self, RelayConfig};
use events::{dlq, Envelope, EventMeta, RawEnvelope, Topology};
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions};
use platform::workers::WorkerContext;
use rand::distributions::{Alphanumeric, DistString};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

struct Harness {
    pool: PgPool,
    url: String,
    topology: Topology,
    prefix: String,
    shutdown: CancellationToken,
    conn: lapin::Connection,
}

impl Harness {
    async fn new() -> Harness {
        let url = testkit::fresh_database_url("events");
        let pool = platform::db::connect(&url, &events::MIGRATOR, 10)
            .await
            .expect("database");
        sqlx::query("CREATE TABLE applied (event_id uuid PRIMARY KEY, n integer NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        let prefix = format!(
            "t_{}.",
            Alphanumeric
                .sample_string(&mut rand::thread_rng(), 10)
                .to_lowercase()
        );
        let topology = Topology::with_prefix(&prefix);
        let conn = events::amqp::connect(&amqp_url(), &format!("{prefix}harness"))
            .await
            .expect("broker");
        let channel = conn.create_channel().await.unwrap();
        topology.declare(&channel).await.expect("declare");
        Harness {
            pool,
            url,
            topology,
            prefix,
            shutdown: CancellationToken::new(),
            conn,
        }
    }

    fn start_relay(&self, name: &str) -> tokio::task::JoinHandle<()> {
        let mut config = RelayConfig::new(
            &amqp_url(),
            self.topology.clone(),
            &format!("{}{name}", self.prefix),
        );
        config.poll_interval = Duration::from_millis(200);
        config.batch = 50;
        tokio::spawn(relay::run(
            Arc::new(PgOutbox::new(self.pool.clone())),
            config,
            WorkerContext::detached("relay", self.shutdown.clone()),
        ))
    }

    fn start_consumer(&self, handler: Arc<dyn Handler>) -> tokio::task::JoinHandle<()> {
        let mut config = ConsumerConfig::new(&amqp_url(), self.topology.clone(), "products");
        config.retry_delay = Duration::from_millis(20);
        self.start_consumer_with(handler, config)
    }

    fn start_consumer_with(
        &self,
        handler: Arc<dyn Handler>,
        config: ConsumerConfig,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(consumer::run(
            handler,
            config,
            WorkerContext::detached("consumer", self.shutdown.clone()),
        ))
    }

    async fn place(&self, n: usize) -> Vec<Uuid> {
        let mut tx = self.pool.begin().await.unwrap();
        let mut ids = Vec::new();
        for _ in 0..n {
            ids.push(
                outbox::enqueue(&mut tx, "orders", order_placed(), EventMeta::default())
                    .await
                    .unwrap(),
            );
        }
        tx.commit().await.unwrap();
        ids
    }

    /// Takes every message from the products queue until `n` arrived or 10 s passed.
    async fn drain(&self, n: usize) -> Vec<RawEnvelope> {
        let channel = self.conn.create_channel().await.unwrap();
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while got.len() < n && tokio::time::Instant::now() < deadline {
            match channel
                .basic_get(
                    self.topology.queue("products").into(),
                    BasicGetOptions::default(),
                )
                .await
                .unwrap()
            {
                Some(m) => {
                    got.push(serde_json::from_slice(&m.delivery.data).unwrap());
                    m.delivery.ack(BasicAckOptions::default()).await.unwrap();
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        got
    }

    async fn applied(&self) -> Vec<(Uuid, i32)> {
        sqlx::query_as("SELECT event_id, n FROM applied")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    async fn wait_applied(&self, n: usize) -> Vec<(Uuid, i32)> {
        for _ in 0..200 {
            let rows = self.applied().await;
            if rows.len() >= n {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.applied().await
    }

    async fn publish_raw(&self, body: &[u8], key: &str) {
        let channel = events::amqp::confirm_channel(&self.conn).await.unwrap();
        channel
            .basic_publish(
                self.topology.exchange().into(),
                key.into(),
                BasicPublishOptions::default(),
                body,
                Default::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn finish(self) {
        self.shutdown.cancel();
        let channel = self.conn.create_channel().await.unwrap();
        let _ = self.topology.delete(&channel).await;
    }
}

fn order_placed() -> OrderPlaced {
    OrderPlaced {
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        items: vec![OrderLine {
            product_id: Uuid::now_v7(),
            quantity: 1,
        }],
        currency: "EUR".into(),
    }
}

/// Records each event in `applied` through the inbox; fails as told.
struct RecordingHandler {
    pool: PgPool,
    transient_failures_left: AtomicUsize,
    broken: std::sync::atomic::AtomicBool,
    calls: AtomicUsize,
}

impl RecordingHandler {
    fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(RecordingHandler {
            pool,
            transient_failures_left: AtomicUsize::new(0),
            broken: Default::default(),
            calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Handler for RecordingHandler {
    fn handles(&self) -> &'static [&'static str] {
        Topology::keys_of("products")
    }

    async fn handle(&self, event: &RawEnvelope) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let _placed = event.decode::<OrderPlaced>()?;
        if self.broken.load(Ordering::SeqCst) {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "the handler is broken"
            )));
        }
        if self
            .transient_failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(HandlerError::Transient(anyhow::anyhow!("database busy")));
        }
        apply_once(&self.pool, event).await
    }
}

/// Records `event` in `applied`, once (the inbox), as a real handler would.
async fn apply_once(pool: &PgPool, event: &RawEnvelope) -> Result<(), HandlerError> {
    let Some(mut tx) = begin_once(pool, "products", event).await? else {
        return Ok(());
    };
    sqlx::query("INSERT INTO applied (event_id, n) VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET n = applied.n + 1")
        .bind(event.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn committed_events_are_published_and_rolled_back_ones_are_not() {
    let h = Harness::new().await;
    let mut tx = h.pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, "orders", order_placed(), EventMeta::default())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let ids = h.place(20).await;
    h.start_relay("relay");

    let got = h.drain(21).await;
    let got_ids: Vec<Uuid> = got.iter().map(|e| e.id).collect();
    assert_eq!(got_ids.len(), 20, "exactly the committed events arrive");
    assert_eq!(
        got_ids.iter().collect::<HashSet<_>>(),
        ids.iter().collect::<HashSet<_>>()
    );
    assert!(got
        .iter()
        .all(|e| e.kind == "order.placed" && e.source == "orders"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(PgOutbox::new(h.pool.clone()).pending().await.unwrap(), 0);
    h.finish().await;
}

#[tokio::test]
async fn two_relays_publish_every_event_exactly_once() {
    let h = Harness::new().await;
    let ids = h.place(300).await;
    h.start_relay("relay-a");
    h.start_relay("relay-b");
    let got = h.drain(301).await;
    let unique: HashSet<Uuid> = got.iter().map(|e| e.id).collect();
    assert_eq!(got.len(), 300, "no event published twice");
    assert_eq!(unique, ids.into_iter().collect());
    h.finish().await;
}

#[tokio::test]
async fn an_unroutable_event_stays_pending_instead_of_being_lost() {
    let h = Harness::new().await;
    // Remove the products queue: order.placed has nowhere to go.
    let channel = h.conn.create_channel().await.unwrap();
    channel
        .queue_delete(h.topology.queue("products").into(), Default::default())
        .await
        .unwrap();
    let store = PgOutbox::new(h.pool.clone());
    h.place(1).await;
    // A relay with its own connection declares the topology on connect, which
    // would recreate the queue; publish with a relay loop that never reconnects
    // by claiming and publishing by hand instead.
    let confirm_channel = events::amqp::confirm_channel(&h.conn).await.unwrap();
    let claim = store.claim(10, Duration::from_secs(30)).await.unwrap();
    let claimed = claim.events();
    assert_eq!(claimed.len(), 1);
    let confirm = confirm_channel
        .basic_publish(
            h.topology.exchange().into(),
            claimed[0].kind.clone().into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &serde_json::to_vec(&claimed[0]).unwrap(),
            events::amqp::properties(&claimed[0]).unwrap(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(
        matches!(confirm, lapin::Confirmation::Ack(Some(_))),
        "returned as unroutable"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_redelivered_event_is_applied_once() {
    let h = Harness::new().await;
    let handler = RecordingHandler::new(h.pool.clone());
    h.start_consumer(handler.clone());
    let event = Envelope::new("orders", order_placed(), EventMeta::default())
        .into_raw()
        .unwrap();
    let body = serde_json::to_vec(&event).unwrap();
    h.publish_raw(&body, "order.placed").await;
    h.publish_raw(&body, "order.placed").await;
    let applied = h.wait_applied(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        2,
        "both deliveries were handled"
    );
    assert_eq!(
        h.applied().await,
        vec![(event.id, 1)],
        "but applied once: {applied:?}"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_transient_failure_is_retried_until_it_succeeds() {
    let h = Harness::new().await;
    let handler = RecordingHandler::new(h.pool.clone());
    handler.transient_failures_left.store(3, Ordering::SeqCst);
    h.start_consumer(handler.clone());
    h.start_relay("relay");
    let ids = h.place(1).await;
    let applied = h.wait_applied(1).await;
    assert_eq!(applied, vec![(ids[0], 1)]);
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        4,
        "three failures, then success"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_and_can_be_replayed() {
    let h = Harness::new().await;
    let handler = RecordingHandler::new(h.pool.clone());
    handler.broken.store(true, Ordering::SeqCst);
    h.start_consumer(handler.clone());
    h.start_relay("relay");
    let ids = h.place(1).await;
    h.publish_raw(b"this is not json", "order.placed").await;

    let mut letters = Vec::new();
    for _ in 0..100 {
        letters = dlq::list(&h.conn, &h.topology, "products", 10)
            .await
            .unwrap();
        if letters.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        letters.len(),
        2,
        "the failing event and the garbage are dead-lettered"
    );
    assert!(letters
        .iter()
        .any(|l| l.event.as_ref().map(|e| e.id) == Some(ids[0])));
    assert!(h.applied().await.is_empty());

    // Fixed: replaying applies the event; the garbage stays in the DLQ.
    handler.broken.store(false, Ordering::SeqCst);
    let replayed = dlq::replay(&h.conn, &h.topology, "products", None)
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    assert_eq!(h.wait_applied(1).await, vec![(ids[0], 1)]);
    let left = dlq::list(&h.conn, &h.topology, "products", 10)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].event.is_none());
    h.finish().await;
}

#[tokio::test]
async fn relay_and_consumer_survive_the_broker_closing_their_connections() {
    let h = Harness::new().await;
    let handler = RecordingHandler::new(h.pool.clone());
    h.start_consumer(handler.clone());
    h.start_relay("relay");
    let mut ids = h.place(20).await;
    assert_eq!(h.wait_applied(20).await.len(), 20);

    let prefix = h.prefix.clone();
    let closed = tokio::task::spawn_blocking(move || testkit::bus::close_connections(&prefix))
        .await
        .unwrap();
    assert!(
        closed >= 2,
        "closed the relay's and the consumer's connections ({closed})"
    );
    ids.extend(h.place(30).await);

    let applied = h.wait_applied(50).await;
    assert_eq!(applied.len(), 50, "every event applied after reconnecting");
    assert!(applied.iter().all(|(_, n)| *n == 1), "none applied twice");
    assert_eq!(
        applied.iter().map(|(id, _)| *id).collect::<HashSet<_>>(),
        ids.into_iter().collect()
    );
    h.finish().await;
}

/// Writes `raw` into the outbox as it is (as an older version, or another
/// writer, may have stored it), bypassing `Envelope::new`'s checks.
async fn insert_raw(pool: &PgPool, raw: &RawEnvelope) {
    sqlx::query("INSERT INTO outbox (id, routing_key, envelope) VALUES ($1, $2, $3)")
        .bind(raw.id)
        .bind(&raw.kind)
        .bind(serde_json::to_value(raw).unwrap())
        .execute(pool)
        .await
        .unwrap();
}

fn raw_order_placed() -> RawEnvelope {
    Envelope::new("orders", order_placed(), EventMeta::default())
        .into_raw()
        .unwrap()
}

async fn dead_letters(h: &Harness, service: &str) -> Vec<dlq::DeadLetter> {
    dlq::list(&h.conn, &h.topology, service, 100).await.unwrap()
}

/// The dead letters of `service` once there are at least `n` (or after 15 s).
async fn wait_for_dead_letters(h: &Harness, service: &str, n: usize) -> Vec<dlq::DeadLetter> {
    let mut letters = Vec::new();
    for _ in 0..150 {
        letters = dead_letters(h, service).await;
        if letters.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    letters
}

#[tokio::test]
async fn an_oversized_correlation_id_in_the_outbox_does_not_stop_the_relay() {
    let h = Harness::new().await;
    let mut poisoned = raw_order_placed();
    poisoned.correlation_id = Some("a".repeat(300));
    poisoned.traceparent = Some("x".repeat(300));
    insert_raw(&h.pool, &poisoned).await;
    let mut ids = h.place(5).await;
    ids.push(poisoned.id);
    h.start_relay("relay");
    let got = h.drain(6).await;
    assert_eq!(
        got.iter().map(|e| e.id).collect::<HashSet<_>>(),
        ids.into_iter().collect(),
        "every event is published, the odd one without its correlation id"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(PgOutbox::new(h.pool.clone()).pending().await.unwrap(), 0);
    h.finish().await;
}

#[tokio::test]
async fn an_event_that_cannot_be_sent_is_parked_and_the_rest_flow_past_it() {
    let h = Harness::new().await;
    let mut unsendable = raw_order_placed();
    unsendable.kind = "order.".repeat(60);
    insert_raw(&h.pool, &unsendable).await;
    let ids = h.place(3).await;
    h.start_relay("relay");
    let got = h.drain(3).await;
    assert_eq!(
        got.iter().map(|e| e.id).collect::<HashSet<_>>(),
        ids.into_iter().collect()
    );
    let store = PgOutbox::new(h.pool.clone());
    let mut parked = Vec::new();
    for _ in 0..50 {
        parked = store.parked(10).await.unwrap();
        if !parked.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(parked.len(), 1, "parked: {parked:?}");
    assert_eq!(parked[0].id, unsendable.id);
    assert!(
        parked[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("longer than 255 bytes")),
        "{parked:?}"
    );
    let backlog = store.backlog().await.unwrap();
    assert_eq!((backlog.pending, backlog.parked), (1, 1));
    assert_eq!(
        backlog.oldest_pending_secs, 0.0,
        "parked rows are not waiting"
    );
    h.finish().await;
}

#[tokio::test]
async fn publishing_failures_back_off_and_park_after_the_bound_until_retried() {
    let h = Harness::new().await;
    let store = PgOutbox::new(h.pool.clone());
    let id = h.place(1).await[0];
    let lease = Duration::from_secs(30);
    let claim_ids =
        |claim: &dyn outbox::Claim| claim.events().iter().map(|e| e.id).collect::<Vec<_>>();
    let refused = || {
        let mut s = Settlement::default();
        s.defer(id, "nacked by the broker", false);
        s
    };
    let claim = store.claim(10, lease).await.unwrap();
    assert_eq!(claim_ids(claim.as_ref()), vec![id]);
    assert!(
        claim.settle(refused()).await.unwrap().is_empty(),
        "not parked yet"
    );
    let claim = store.claim(10, lease).await.unwrap();
    assert!(claim.events().is_empty(), "not again before its backoff");
    claim.settle(Settlement::default()).await.unwrap();
    // The last allowed attempt fails too.
    sqlx::query("UPDATE outbox SET attempts = $1 - 1, lease_until = NULL")
        .bind(outbox::MAX_PUBLISH_ATTEMPTS)
        .execute(&h.pool)
        .await
        .unwrap();
    let claim = store.claim(10, lease).await.unwrap();
    assert_eq!(claim_ids(claim.as_ref()), vec![id]);
    assert_eq!(claim.settle(refused()).await.unwrap(), vec![id], "parked");
    sqlx::query("UPDATE outbox SET lease_until = NULL")
        .execute(&h.pool)
        .await
        .unwrap();
    let claim = store.claim(10, lease).await.unwrap();
    assert!(claim.events().is_empty(), "parked rows are never claimed");
    claim.settle(Settlement::default()).await.unwrap();
    assert_eq!(store.parked(10).await.unwrap().len(), 1);
    assert_eq!(store.unpark(None).await.unwrap(), 1);
    // A row claimed too often without being published (whatever failed: the
    // broker closing the channel on it, say) is parked too.
    sqlx::query("UPDATE outbox SET attempts = $1 - 1, lease_until = NULL")
        .bind(outbox::MAX_CLAIMS)
        .execute(&h.pool)
        .await
        .unwrap();
    let claim = store.claim(10, lease).await.unwrap();
    assert_eq!(claim_ids(claim.as_ref()), vec![id]);
    let mut lost = Settlement::default();
    lost.release(id, "channel closed");
    assert_eq!(claim.settle(lost).await.unwrap(), vec![id], "parked");
    assert_eq!(store.parked(10).await.unwrap().len(), 1);
    assert_eq!(store.unpark(None).await.unwrap(), 1);
    let again = store.claim(10, lease).await.unwrap();
    assert_eq!(claim_ids(again.as_ref()), vec![id]);
    again.settle(Settlement::default()).await.unwrap();
    assert_eq!(outbox::publish_retry_delay(1), Duration::from_secs(1));
    assert_eq!(outbox::publish_retry_delay(30), Duration::from_secs(300));
    h.finish().await;
}

/// A batch stays claimed while its relay publishes it: another relay (another
/// replica) skips it rather than publishing it a second time, and a relay that
/// dies holding it (its transaction ends) leaves it claimable at once.
#[tokio::test]
async fn a_claimed_batch_is_skipped_by_other_relays_and_freed_when_its_holder_dies() {
    let h = Harness::new().await;
    let store = PgOutbox::new(h.pool.clone());
    let ids = h.place(3).await;
    let lease = Duration::from_secs(30);
    let first = store.claim(2, lease).await.unwrap();
    assert_eq!(first.events().len(), 2);
    let second = store.claim(10, lease).await.unwrap();
    assert_eq!(
        second.events().iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[2]],
        "only the row the first claim does not hold"
    );
    let mut done = Settlement::default();
    done.published(ids[2]);
    second.settle(done).await.unwrap();
    drop(first);
    // The rollback of the dropped transaction reaches the server a moment later.
    let mut after = Vec::new();
    for _ in 0..50 {
        let claim = store.claim(10, lease).await.unwrap();
        after = claim.events().iter().map(|e| e.id).collect::<Vec<_>>();
        claim.settle(Settlement::default()).await.unwrap();
        if !after.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(after, ids[..2].to_vec(), "the dead holder's rows, in order");
    assert_eq!(store.pending().await.unwrap(), 2);
    h.finish().await;
}

#[tokio::test]
async fn a_transient_failure_outlasting_the_quick_retries_is_redelivered_later() {
    let h = Harness::new().await;
    let handler = RecordingHandler::new(h.pool.clone());
    // Three quick attempts fail, the delayed redelivery fails twice more, then works.
    handler.transient_failures_left.store(5, Ordering::SeqCst);
    h.start_consumer(handler.clone());
    h.start_relay("relay");
    let ids = h.place(1).await;
    let applied = h.wait_applied(1).await;
    assert_eq!(applied, vec![(ids[0], 1)]);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 6);
    assert!(dead_letters(&h, "products").await.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn a_transient_failure_that_never_ends_is_dead_lettered_when_the_budget_is_spent() {
    let h = Harness::new().await;
    let handler = RecordingHandler::new(h.pool.clone());
    handler
        .transient_failures_left
        .store(usize::MAX, Ordering::SeqCst);
    let mut config = ConsumerConfig::new(&amqp_url(), h.topology.clone(), "products");
    config.retry_delay = Duration::from_millis(20);
    config.max_redeliveries = 2;
    h.start_consumer_with(handler.clone(), config);
    h.start_relay("relay");
    let ids = h.place(1).await;
    let letters = wait_for_dead_letters(&h, "products", 1).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event.as_ref().map(|e| e.id), Some(ids[0]));
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        9,
        "3 quick attempts, then twice 3 after 1 s and 5 s"
    );
    h.finish().await;
}

/// Applies events through a pool that reaches PostgreSQL through a proxy.
struct ProxiedHandler {
    pool: PgPool,
    calls: AtomicUsize,
}

#[async_trait]
impl Handler for ProxiedHandler {
    fn handles(&self) -> &'static [&'static str] {
        Topology::keys_of("products")
    }

    async fn handle(&self, event: &RawEnvelope) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        apply_once(&self.pool, event).await
    }
}

#[tokio::test]
async fn while_the_database_is_unreachable_events_wait_and_none_is_dead_lettered() {
    let h = Harness::new().await;
    let proxy = testkit::TcpProxy::start("127.0.0.1:5432").await.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(1))
        .connect(&testkit::with_port(&h.url, proxy.port()))
        .await
        .unwrap();
    let handler = Arc::new(ProxiedHandler {
        pool,
        calls: AtomicUsize::new(0),
    });
    h.start_consumer(handler.clone());
    h.start_relay("relay");
    proxy.cut();
    let ids = h.place(10).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(h.applied().await.is_empty());
    assert!(
        dead_letters(&h, "products").await.is_empty(),
        "nothing is dead-lettered while the database is down"
    );
    let calls_while_down = handler.calls.load(Ordering::SeqCst);
    assert!(
        calls_while_down <= 10 * 4,
        "consumption paused, not spinning: {calls_while_down} calls"
    );
    proxy.restore();
    let mut applied = Vec::new();
    for _ in 0..300 {
        applied = h.applied().await;
        if applied.len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        applied.iter().map(|(id, _)| *id).collect::<HashSet<_>>(),
        ids.into_iter().collect()
    );
    assert!(dead_letters(&h, "products").await.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn a_replayed_dead_letter_goes_only_to_the_queue_that_dead_lettered_it() {
    let h = Harness::new().await;
    // order.cancelled goes to products and payments.
    let cancelled: RawEnvelope = serde_json::from_value(serde_json::json!({
        "id": Uuid::now_v7(), "type": "order.cancelled", "version": 1,
        "occurred_at": "2026-11-26T10:00:00Z", "source": "orders",
        "payload": {"order_id": Uuid::now_v7(), "refund": false, "restock": false},
    }))
    .unwrap();
    h.publish_raw(&serde_json::to_vec(&cancelled).unwrap(), "order.cancelled")
        .await;
    let channel = h.conn.create_channel().await.unwrap();
    let get = |service: &'static str| {
        let channel = channel.clone();
        let queue = h.topology.queue(service);
        async move {
            for _ in 0..50 {
                if let Some(m) = channel
                    .basic_get(queue.clone().into(), BasicGetOptions::default())
                    .await
                    .unwrap()
                {
                    return Some(m);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            None
        }
    };
    // Products fails it for good; payments handles its copy.
    let products_copy = get("products").await.expect("products got it");
    products_copy
        .delivery
        .reject(lapin::options::BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    let payments_copy = get("payments").await.expect("payments got it");
    payments_copy
        .delivery
        .ack(BasicAckOptions::default())
        .await
        .unwrap();
    for _ in 0..50 {
        if !dead_letters(&h, "products").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replayed = dlq::replay(&h.conn, &h.topology, "products", None)
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    let again = get("products").await.expect("products gets it again");
    let event: RawEnvelope = serde_json::from_slice(&again.delivery.data).unwrap();
    assert_eq!(event.id, cancelled.id);
    let channel2 = h.conn.create_channel().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_payments = channel2
        .basic_get(
            h.topology.queue("payments").into(),
            BasicGetOptions::default(),
        )
        .await
        .unwrap();
    assert!(at_payments.is_none(), "payments does not get it twice");
    h.finish().await;
}

#[tokio::test]
async fn the_inbox_forgets_applied_events_after_its_retention() {
    let h = Harness::new().await;
    let (old, recent) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, age_days) in [(old, 8), (recent, 1)] {
        sqlx::query(
            "INSERT INTO inbox (consumer, event_id, event_type, processed_at)
             VALUES ('products', $1, 'order.placed', now() - make_interval(days => $2))",
        )
        .bind(id)
        .bind(age_days)
        .execute(&h.pool)
        .await
        .unwrap();
    }
    PgOutbox::new(h.pool.clone())
        .prune(Duration::from_secs(3600))
        .await
        .unwrap();
    let left: Vec<Uuid> = sqlx::query_scalar("SELECT event_id FROM inbox")
        .fetch_all(&h.pool)
        .await
        .unwrap();
    assert_eq!(left, vec![recent]);
    assert!(outbox::INBOX_RETENTION > Duration::from_secs(3600));
    h.finish().await;
}

#[tokio::test]
async fn an_event_from_a_service_that_may_not_publish_it_is_never_applied() {
    let h = Harness::new().await;
    let handler = RecordingHandler::new(h.pool.clone());
    h.start_consumer(handler.clone());
    // order.placed may come from orders only.
    let forged = Envelope::new("payments", order_placed(), EventMeta::default())
        .into_raw()
        .unwrap();
    h.publish_raw(&serde_json::to_vec(&forged).unwrap(), "order.placed")
        .await;
    let genuine = raw_order_placed();
    h.publish_raw(&serde_json::to_vec(&genuine).unwrap(), "order.placed")
        .await;
    assert_eq!(h.wait_applied(1).await, vec![(genuine.id, 1)]);
    let letters = wait_for_dead_letters(&h, "products", 1).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event.as_ref().map(|e| e.id), Some(forged.id));
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        1,
        "the forged one never reached the handler"
    );
    h.finish().await;
}

/// The unit of work: a consumed event is applied once, the events it causes
/// name it as their cause and carry its correlation id, and nothing of a
/// unit given up stays (neither its events nor its inbox record).
#[tokio::test]
async fn a_unit_of_work_applies_an_event_once_and_its_events_name_their_cause() {
    let h = Harness::new().await;
    let cause = Envelope::new(
        "orders",
        order_placed(),
        EventMeta {
            correlation_id: Some("corr-1".into()),
            ..EventMeta::default()
        },
    )
    .into_raw()
    .unwrap();
    let given_up = events::UnitOfWork::applying(&h.pool, "products", &cause)
        .await
        .unwrap()
        .expect("not applied yet");
    given_up.rollback().await.unwrap();
    let mut unit = events::UnitOfWork::applying(&h.pool, "products", &cause)
        .await
        .unwrap()
        .expect("given up: still to apply");
    unit.publish(order_placed()).await.unwrap();
    unit.commit().await.unwrap();
    assert!(
        events::UnitOfWork::applying(&h.pool, "products", &cause)
            .await
            .unwrap()
            .is_none(),
        "applied once"
    );
    let store = PgOutbox::new(h.pool.clone());
    let claim = store.claim(10, Duration::from_secs(30)).await.unwrap();
    let published = claim.events().to_vec();
    claim.settle(Settlement::default()).await.unwrap();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].source, "products");
    assert_eq!(published[0].causation_id, Some(cause.id));
    assert_eq!(published[0].correlation_id.as_deref(), Some("corr-1"));
    h.finish().await;
}

/// A row whose envelope cannot be read is parked by the claim that meets it,
/// and the rows behind it are published as usual.
#[tokio::test]
async fn an_unreadable_outbox_row_is_parked_and_the_rest_flow_past_it() {
    let h = Harness::new().await;
    let broken = Uuid::now_v7();
    sqlx::query("INSERT INTO outbox (id, routing_key, envelope) VALUES ($1, 'order.placed', '{\"not\": \"an envelope\"}')")
        .bind(broken)
        .execute(&h.pool)
        .await
        .unwrap();
    let ids = h.place(2).await;
    let store = PgOutbox::new(h.pool.clone());
    let claim = store.claim(10, Duration::from_secs(30)).await.unwrap();
    let readable: Vec<Uuid> = claim.events().iter().map(|e| e.id).collect();
    assert_eq!(readable, ids, "the readable rows, in order");
    let mut done = Settlement::default();
    for id in &readable {
        done.published(*id);
    }
    assert_eq!(claim.settle(done).await.unwrap(), vec![broken], "parked");
    assert_eq!(store.parked(10).await.unwrap()[0].id, broken);
    assert_eq!(store.pending().await.unwrap(), 1, "only the parked row");
    h.finish().await;
}
