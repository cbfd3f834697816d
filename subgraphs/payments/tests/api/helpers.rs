//! Spawning the service on a fresh database, with the use cases on the same
//! database for arranging payments, and a provider that counts its calls; the
//! saga's side of the broker, played as the orders service.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use events::catalogue::{OrderCancelled, PaymentRequested};
use events::{Envelope, Event, RawEnvelope};
use payments::app::{ChargeRequest, Payments};
use payments::clients::card_provider::{
    CardProvider, ChargeOutcome, ProviderUnavailable, RefundOutcome, SimulatedProvider,
};
use payments::config::Config;
use payments::domain::Payment;
use payments::store::{PaymentStore, MIGRATOR};
use platform::auth::{Role, TokenSigner};
use platform::{Currency, Money};
use serde_json::Value;
use testkit::bus::TestBus;
use testkit::{first_error_code, test_keys, GraphqlClient};
use uuid::Uuid;

/// The simulated provider, counting charges; it can be told to fail
/// transiently a number of times first.
#[derive(Default)]
pub struct CountingProvider {
    /// Charges that reached the provider.
    pub calls: AtomicUsize,
    /// Transient failures still to produce.
    pub failures_left: AtomicUsize,
    /// Status lookups that reached the provider.
    pub lookups: AtomicUsize,
    /// Refunds that reached the provider.
    pub refunds: AtomicUsize,
    /// The simulator behind it.
    pub inner: SimulatedProvider,
}

#[async_trait]
impl CardProvider for CountingProvider {
    async fn charge(
        &self,
        key: Uuid,
        amount: Money,
        token: &str,
    ) -> Result<ChargeOutcome, ProviderUnavailable> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(ProviderUnavailable("flaky".into()));
        }
        self.inner.charge(key, amount, token).await
    }

    async fn charge_status(&self, key: Uuid) -> Result<Option<ChargeOutcome>, ProviderUnavailable> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.charge_status(key).await
    }

    async fn refund(
        &self,
        charge_key: Uuid,
        refund_key: Uuid,
        amount: Money,
    ) -> Result<RefundOutcome, ProviderUnavailable> {
        self.refunds.fetch_add(1, Ordering::SeqCst);
        self.inner.refund(charge_key, refund_key, amount).await
    }
}

/// A user and their token.
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Bearer token.
    pub token: String,
}

/// A new user with `role`.
pub fn user(role: Role) -> User {
    let keys = test_keys();
    let signer = TokenSigner::from_pem(
        &keys.private_pem,
        &keys.public_pem,
        Duration::from_secs(600),
    )
    .expect("signer");
    let id = Uuid::now_v7();
    User {
        id,
        token: signer.sign(id, role).expect("sign").0,
    }
}

/// A running service.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// GraphQL client.
    pub gql: GraphqlClient,
    /// The use cases on the same database.
    pub payments: Payments,
    /// The provider behind `payments`.
    pub provider: Arc<CountingProvider>,
    /// An administrator.
    pub admin: User,
}

/// A configuration for a fresh database without event workers.
pub fn test_config() -> Config {
    Config {
        service: testkit::service_config("payments"),
        provider_timeout_ms: 300,
        ..Config::default()
    }
}

/// Starts the service on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

/// Starts the service with `config`.
pub async fn spawn_app_with(config: Config) -> TestApp {
    let url = config.service.expose_database_url().to_string();
    let timeout = Duration::from_millis(config.provider_timeout_ms);
    // The service and the use cases share one provider.
    let provider = Arc::new(CountingProvider::default());
    let service = payments::startup::build_with_provider(config, provider.clone())
        .await
        .expect("service builds");
    let port = service.port();
    tokio::spawn(service.run(std::future::pending()));
    let pool = platform::db::connect_with(&url, &[&MIGRATOR, &events::MIGRATOR], 10)
        .await
        .expect("pool");
    TestApp {
        base_url: format!("http://127.0.0.1:{port}"),
        gql: GraphqlClient::local(port),
        payments: Payments::new(PaymentStore::new(pool), provider.clone(), timeout),
        provider,
        admin: user(Role::Admin),
    }
}

/// A charge request for a new order of `amount` cents by `user_id`.
pub fn charge_request(user_id: Uuid, amount: i64, token: &str) -> ChargeRequest {
    ChargeRequest {
        order_id: Uuid::now_v7(),
        user_id,
        amount: Money::new(amount, Currency::EUR),
        token: token.into(),
    }
}

impl TestApp {
    /// A payment of `amount` cents with `token` for a new order of a new
    /// customer, charged through the use cases (succeeded or failed).
    pub async fn charged(&self, amount: i64, token: &str) -> Payment {
        self.payments
            .charge(&charge_request(Uuid::now_v7(), amount, token), None)
            .await
            .expect("charge settled")
    }

    /// The response to `query` with `vars`, sent by the administrator.
    pub async fn as_admin(&self, query: &str, vars: Value) -> Value {
        self.gql.query(query, vars, Some(&self.admin.token)).await
    }
}

/// Asserts that the GraphQL response `res` failed with `code`.
#[track_caller]
pub fn assert_error(res: &Value, code: &str) {
    assert_eq!(first_error_code(res).as_deref(), Some(code), "{res}");
}

/// How long the saga waits for an answer from payments.
pub const SAGA_WAIT: Duration = Duration::from_secs(10);

/// The service with its event workers, on a private corner of the broker.
pub async fn spawn_saga() -> (TestApp, TestBus) {
    let bus = TestBus::new().await;
    let mut config = test_config();
    config.service.event_workers = true;
    config.service.events_prefix = bus.prefix();
    (spawn_app_with(config).await, bus)
}

/// A payment request of 42.00 EUR with `token` for a new order.
pub fn payment_request(token: &str) -> PaymentRequested {
    PaymentRequested {
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        amount: Money::new(4200, Currency::EUR),
        payment_token: token.into(),
    }
}

/// Publishes `event` as the orders service would.
pub async fn send_as_orders<P: Event>(bus: &TestBus, event: P) -> RawEnvelope {
    bus.publish("orders", event).await
}

/// Orders cancels `order_id` for `reason`, asking for a refund and a restock
/// (`refund`) or for neither.
pub async fn cancel_order(bus: &TestBus, order_id: Uuid, reason: &str, refund: bool) {
    let cancelled = OrderCancelled {
        order_id,
        reason: reason.into(),
        refund,
        restock: refund,
        items: vec![],
    };
    send_as_orders(bus, cancelled).await;
}

/// The next event payments sent to orders, which must be a `P`.
pub async fn answer<P: Event>(bus: &TestBus) -> Envelope<P> {
    bus.next_for("orders", SAGA_WAIT)
        .await
        .unwrap_or_else(|| panic!("payments answered with {}", P::TYPE))
        .decode::<P>()
        .unwrap_or_else(|e| panic!("expected {}: {e}", P::TYPE))
}
