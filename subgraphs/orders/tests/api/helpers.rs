//! Spawning the service on a fresh database with a fixed catalogue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use orders::app::Orders;
use orders::clients::products::{PriceQuotes, QuotedLine};
use orders::config::Config;
use orders::domain::OrderLineRequest;
use orders::error::{OrderError, OrderResult};
use orders::store::{OrderStore, MIGRATOR};
use platform::auth::{Role, TokenSigner, Viewer};
use platform::{Currency, Money};
use serde_json::{json, Value};
use testkit::{test_keys, GraphqlClient};
use uuid::Uuid;

/// A catalogue of fixed prices and stock; it can be switched "down".
#[derive(Default)]
pub struct FixedCatalog {
    products: Mutex<HashMap<Uuid, (String, i64, i64)>>,
    /// When set, every quote fails as if products were unreachable.
    pub down: AtomicBool,
}

impl FixedCatalog {
    /// Adds a product; returns its id.
    pub fn add(&self, name: &str, price: i64, available: i64) -> Uuid {
        let id = Uuid::now_v7();
        self.products
            .lock()
            .unwrap()
            .insert(id, (name.to_string(), price, available));
        id
    }

    /// Takes a product off sale (the quote then says `NOT_FOUND`, like an
    /// archived product).
    pub fn archive(&self, id: Uuid) {
        self.products.lock().unwrap().remove(&id);
    }
}

#[async_trait]
impl PriceQuotes for FixedCatalog {
    async fn quote(&self, lines: &[OrderLineRequest]) -> OrderResult<Vec<QuotedLine>> {
        if self.down.load(Ordering::SeqCst) {
            return Err(OrderError::CatalogUnavailable);
        }
        let products = self.products.lock().unwrap();
        lines
            .iter()
            .map(|l| {
                let (name, price, available) = products.get(&l.product_id).ok_or_else(|| {
                    OrderError::NotSold(format!("product {} not found", l.product_id))
                })?;
                Ok(QuotedLine {
                    product_id: l.product_id,
                    sku: name.to_uppercase(),
                    name: name.clone(),
                    unit_price: Money::new(*price, Currency::EUR),
                    quantity: l.quantity,
                    available_quantity: *available,
                })
            })
            .collect()
    }
}

/// A user and their token.
#[derive(Clone)]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Bearer token.
    pub token: String,
    /// As a viewer.
    pub viewer: Viewer,
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
        viewer: Viewer { user_id: id, role },
    }
}

/// A running service.
pub struct TestApp {
    /// GraphQL client.
    pub gql: GraphqlClient,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The catalogue the service prices with.
    pub catalog: Arc<FixedCatalog>,
    /// The use cases on the same database.
    pub orders: Orders,
    /// An administrator.
    pub admin: User,
    /// A customer.
    pub ada: User,
}

/// A configuration for a fresh database without event workers.
pub fn test_config() -> Config {
    Config {
        service: testkit::service_config("orders"),
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
    let catalog = Arc::new(FixedCatalog::default());
    let service = orders::startup::build_with_quotes(config, catalog.clone())
        .await
        .expect("service builds");
    let port = service.port();
    tokio::spawn(service.run(std::future::pending()));
    let pool = platform::db::connect_with(&url, &[&MIGRATOR, &events::MIGRATOR], 10)
        .await
        .expect("pool");
    TestApp {
        gql: GraphqlClient::local(port),
        base_url: format!("http://127.0.0.1:{port}"),
        orders: Orders::new(OrderStore::new(pool), catalog.clone()),
        catalog,
        admin: user(Role::Admin),
        ada: user(Role::Customer),
    }
}

/// A valid shipping address.
pub fn address() -> Value {
    json!({"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postalCode": "N1 9GU", "country": "GB"})
}

/// Places an order of explicit items as `user`; returns the response.
pub async fn place(app: &TestApp, user: &User, items: &[(Uuid, i32)], key: &str) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(p, q)| json!({"productId": p, "quantity": q}))
        .collect();
    app.gql
        .query(
            PLACE_ORDER,
            json!({"input": {"shippingAddress": address(), "paymentToken": "tok_visa", "items": items}, "key": key}),
            Some(&user.token),
        )
        .await
}

/// The placeOrder mutation.
pub const PLACE_ORDER: &str = "mutation($input: PlaceOrderInput!, $key: String!) {
  placeOrder(input: $input, idempotencyKey: $key) {
    id number status total { amount currency }
    items { product { id } name quantity unitPrice { amount } lineTotal { amount } }
    statusHistory { status reason }
    customer { id }
  }
}";

/// The id of a placed order in a response.
pub fn order_id(res: &Value) -> Uuid {
    res["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("order placed: {res}"))
        .parse()
        .unwrap()
}
