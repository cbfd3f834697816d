//! A private corner of the real broker for tests: a topology under a random
//! prefix, a way to publish events as another service would, and a way to read
//! what a service published from the queue of the service that consumes it.

use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions};
use lapin::Connection;
use rand::distributions::{Alphanumeric, DistString};

use events::catalogue::Event;
use events::envelope::{Envelope, EventMeta, RawEnvelope};
use events::topology::Topology;

/// The broker tests use: `AMQP_URL` or the local RabbitMQ.
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| platform::config::default_amqp_url())
}

/// A test's own exchange and queues on the shared broker, deleted when it is
/// dropped (a broker left with hundreds of idle quorum queues by a test run
/// is a slow broker for the tests still running).
pub struct TestBus {
    /// The prefixed topology (give its prefix to the services under test).
    pub topology: Topology,
    conn: Connection,
    deleted: std::sync::atomic::AtomicBool,
}

impl TestBus {
    /// Declares a fresh prefixed topology.
    #[allow(clippy::expect_used)] // test fixture
    pub async fn new() -> TestBus {
        let prefix = format!(
            "t_{}.",
            Alphanumeric
                .sample_string(&mut rand::thread_rng(), 10)
                .to_lowercase()
        );
        let topology = Topology::with_prefix(prefix.clone());
        let conn = events::amqp::connect(&amqp_url(), &format!("{prefix}harness"))
            .await
            .expect("broker");
        let channel = conn.create_channel().await.expect("channel");
        topology.declare(&channel).await.expect("declare topology");
        TestBus {
            topology,
            conn,
            deleted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The prefix to configure services with.
    pub fn prefix(&self) -> String {
        self.topology.prefix().to_string()
    }

    /// Publishes an event as `source` would (with publisher confirms).
    #[allow(clippy::expect_used)]
    pub async fn publish<P: Event>(&self, source: &str, payload: P) -> RawEnvelope {
        let raw = Envelope::new(source, payload, EventMeta::default())
            .into_raw()
            .expect("raw");
        self.publish_raw(&raw).await;
        raw
    }

    /// Publishes an envelope as it is (to send the same event twice).
    #[allow(clippy::expect_used)]
    pub async fn publish_raw(&self, raw: &RawEnvelope) {
        let channel = events::amqp::confirm_channel(&self.conn)
            .await
            .expect("channel");
        channel
            .basic_publish(
                self.topology.exchange().into(),
                raw.kind.clone().into(),
                BasicPublishOptions::default(),
                &serde_json::to_vec(raw).expect("json"),
                events::amqp::properties(raw).expect("properties"),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
    }

    /// The next message in `service`'s queue (waiting up to `wait`), acknowledged.
    #[allow(clippy::expect_used)]
    pub async fn next_for(&self, service: &str, wait: Duration) -> Option<RawEnvelope> {
        self.next_message_for(service, wait).await.map(|(e, _)| e)
    }

    /// Like [`TestBus::next_for`], with the message's AMQP properties.
    #[allow(clippy::expect_used)]
    pub async fn next_message_for(
        &self,
        service: &str,
        wait: Duration,
    ) -> Option<(RawEnvelope, lapin::BasicProperties)> {
        let channel = self.conn.create_channel().await.expect("channel");
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let got = channel
                .basic_get(
                    self.topology.queue(service).into(),
                    BasicGetOptions::default(),
                )
                .await
                .expect("basic.get");
            if let Some(message) = got {
                message
                    .delivery
                    .ack(BasicAckOptions::default())
                    .await
                    .expect("ack");
                let _ = channel.close(200, "done".into()).await;
                let envelope = serde_json::from_slice(&message.delivery.data).ok()?;
                return Some((envelope, message.delivery.properties.clone()));
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = channel.close(200, "done".into()).await;
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Moves the next message of `service`'s queue (waiting up to `wait`) to
    /// its dead-letter queue, as its consumer does when it gives up on one.
    #[allow(clippy::expect_used)]
    pub async fn dead_letter_next(&self, service: &str, wait: Duration) -> Option<RawEnvelope> {
        let (envelope, properties) = self.next_message_for(service, wait).await?;
        let channel = events::amqp::confirm_channel(&self.conn)
            .await
            .expect("channel");
        channel
            .basic_publish(
                "".into(),
                self.topology.dead_letter_queue(service).into(),
                BasicPublishOptions::default(),
                &serde_json::to_vec(&envelope).expect("json"),
                properties,
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        Some(envelope)
    }

    /// Every message that reaches `service`'s queue within `wait`.
    pub async fn drain_for(&self, service: &str, count: usize, wait: Duration) -> Vec<RawEnvelope> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut got = Vec::new();
        while got.len() < count {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_for(service, left).await {
                Some(e) => got.push(e),
                None => break,
            }
        }
        got
    }

    /// What `service` dead-lettered (left in its dead-letter queue).
    #[allow(clippy::expect_used)]
    pub async fn dead_letters(&self, service: &str) -> Vec<events::dlq::DeadLetter> {
        events::dlq::list(&self.conn, &self.topology, service, 100)
            .await
            .expect("list the dead-letter queue")
    }

    /// Gives each service its own broker user on this topology, with the
    /// least privilege of [`events::permissions::grants`] and a random password.
    #[allow(clippy::expect_used)]
    pub async fn provision_users(&self) -> BrokerUsers {
        let management = management();
        let grants = events::permissions::grants(&self.topology);
        let passwords: std::collections::HashMap<String, String> = grants
            .iter()
            .map(|g| {
                let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 24);
                (g.service.to_string(), password)
            })
            .collect();
        events::permissions::provision(&management, &grants, |service| {
            passwords
                .get(service)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("no password for {service}"))
        })
        .await
        .expect("provision the broker users (is the management plugin on?)");
        BrokerUsers {
            management,
            grants,
            passwords,
        }
    }

    /// Removes the test's exchanges and queues.
    pub async fn delete(&self) {
        if let Ok(channel) = self.conn.create_channel().await {
            let _ = self.topology.delete(&channel).await;
        }
        self.deleted
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        if self.deleted.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let topology = self.topology.clone();
        // Drop cannot await, and the test's runtime may be stopping: a thread
        // with a runtime of its own deletes the topology.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(conn) = events::amqp::connect(&amqp_url(), "t-cleanup").await else {
                    return;
                };
                if let Ok(channel) = conn.create_channel().await {
                    let _ = topology.delete(&channel).await;
                }
                let _ = conn.close(200, "done".into()).await;
            });
        });
        let _ = cleanup.join();
    }
}

/// Closes, from the broker side (`rabbitmqctl close_connection`), every
/// connection whose name starts with `prefix`, except the test harness's own.
/// Returns how many were closed. Blocking: call it from `spawn_blocking`.
#[allow(clippy::expect_used)]
pub fn close_connections(prefix: &str) -> usize {
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "--no-table-headers",
            "--quiet",
            "pid",
            "client_properties",
        ])
        .output()
        .expect("rabbitmqctl runs");
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let mut closed = 0;
    for line in listing
        .lines()
        .filter(|l| l.contains(prefix) && !l.contains("harness"))
    {
        let Some(pid) = line.split_whitespace().next() else {
            continue;
        };
        let status = std::process::Command::new("rabbitmqctl")
            .args([
                "close_connection",
                pid,
                "test: the broker closed the connection",
            ])
            .output()
            .expect("rabbitmqctl runs");
        if status.status.success() {
            closed += 1;
        }
    }
    closed
}

/// The management API of the local broker, as its administrator
/// (`RABBITMQ_MANAGEMENT_URL`, `RABBITMQ_ADMIN_USER`, `RABBITMQ_ADMIN_PASSWORD`).
pub fn management() -> events::permissions::Management {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    events::permissions::Management {
        url: env("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672"),
        user: env("RABBITMQ_ADMIN_USER", "guest"),
        password: env("RABBITMQ_ADMIN_PASSWORD", "guest"),
        vhost: env("RABBITMQ_VHOST", "/"),
    }
}

/// A test's per-service broker users (see [`TestBus::provision_users`]).
pub struct BrokerUsers {
    management: events::permissions::Management,
    grants: Vec<events::permissions::Grant>,
    passwords: std::collections::HashMap<String, String>,
}

impl BrokerUsers {
    /// The broker URL for `service`'s own user.
    #[allow(clippy::expect_used)]
    pub fn url(&self, service: &str) -> String {
        let grant = self
            .grants
            .iter()
            .find(|g| g.service == service)
            .expect("a service with a broker user");
        let mut url = reqwest::Url::parse(&amqp_url()).expect("AMQP_URL is a URL");
        url.set_username(&grant.user).expect("user");
        url.set_password(self.passwords.get(service).map(String::as_str))
            .expect("password");
        url.to_string()
    }

    /// Deletes the users.
    pub async fn remove(self) {
        let _ = events::permissions::remove(&self.management, &self.grants).await;
    }
}

/// Publishes an empty message to `exchange` with `key` as the user of `url`
/// and waits for the broker's verdict (`ACCESS_REFUSED` for a key the user may
/// not publish: see [`events::topology::is_access_refused`]).
pub async fn publish_as(url: &str, exchange: &str, key: &str) -> Result<(), lapin::Error> {
    let conn = events::amqp::connect(url, "t-publish-as").await?;
    let channel = events::amqp::confirm_channel(&conn).await?;
    let outcome = async {
        channel
            .basic_publish(
                exchange.into(),
                key.into(),
                BasicPublishOptions::default(),
                b"{}",
                lapin::BasicProperties::default(),
            )
            .await?
            .await?;
        Ok(())
    }
    .await;
    let _ = conn.close(200, "done".into()).await;
    outcome
}
