//! The test kit for end-to-end tests: starts the four services (in this
//! process, each on a free port with a fresh database, all on one private
//! exchange of the real RabbitMQ) and the real router (as a child process, on
//! the committed supergraph and config), and talks to the router over HTTP.
//!
//! Each subgraph sits behind a small counting proxy, so a test can see how
//! many requests (and `_entities` requests) the router sent to it.

// A test kit: a failure to set up is a failed test, so it may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use platform::auth::{Role, TokenSigner};
use serde_json::{json, Value};
use testkit::bus::TestBus;
use testkit::{fresh_database_url, test_keys, GraphqlClient};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use uuid::Uuid;

pub mod live;
pub mod processes;

use processes::free_port;

/// The repository root.
pub fn repo_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.pop();
    dir
}

/// The router binary: `SHOP_ROUTER_BIN` (scripts/test sets it), or the debug
/// build in the target directory. Never built from here: a test that compiled
/// ~770 crates would time out and starve the others. Build it first with
/// `cargo build --manifest-path supergraph/router/Cargo.toml`.
pub fn router_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(bin) = std::env::var("SHOP_ROUTER_BIN") {
            return PathBuf::from(bin);
        }
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join("supergraph/router/target"));
        let bin = target.join("debug/shop-router");
        assert!(
            bin.exists(),
            "no router at {}: build it first (`cargo build --manifest-path supergraph/router/Cargo.toml`, as scripts/test does) or set SHOP_ROUTER_BIN",
            bin.display()
        );
        bin
    })
    .clone()
}

/// Requests one subgraph received through its proxy.
#[derive(Default, Debug)]
pub struct Traffic {
    /// All GraphQL requests.
    pub requests: AtomicUsize,
    /// Requests that resolved entities (`_entities`).
    pub entity_requests: AtomicUsize,
    /// The `X-Correlation-ID` and `traceparent` of the last request.
    pub last_ids: std::sync::Mutex<(Option<String>, Option<String>)>,
}

impl Traffic {
    /// (requests, entity requests) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.requests.load(Ordering::SeqCst),
            self.entity_requests.load(Ordering::SeqCst),
        )
    }

    /// Starts counting again.
    pub fn reset(&self) {
        self.requests.store(0, Ordering::SeqCst);
        self.entity_requests.store(0, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    traffic: Arc<Traffic>,
    http: reqwest::Client,
}

async fn forward(State(proxy): State<Proxy>, headers: HeaderMap, body: Bytes) -> Response {
    proxy.traffic.requests.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if let Ok(mut ids) = proxy.traffic.last_ids.lock() {
        *ids = (header("x-correlation-id"), header("traceparent"));
    }
    if body.windows(9).any(|w| w == b"_entities") {
        proxy.traffic.entity_requests.fetch_add(1, Ordering::SeqCst);
    }
    let mut req = proxy.http.post(&proxy.upstream).body(body);
    for (name, value) in headers.iter() {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            req = req.header(name.as_str(), value.as_bytes());
        }
    }
    match req.send().await {
        Ok(res) => {
            let status =
                StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = res.headers().get("content-type").cloned();
            // Streamed, not buffered: a subscription's events pass as they come.
            let body = axum::body::Body::from_stream(res.bytes_stream());
            let mut response = (status, body).into_response();
            if let Some(ct) =
                content_type.and_then(|c| c.to_str().ok().and_then(|s| s.parse().ok()))
            {
                response.headers_mut().insert("content-type", ct);
            }
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn start_proxy(upstream_port: u16, traffic: Arc<Traffic>) -> u16 {
    let proxy = Proxy {
        upstream: format!("http://127.0.0.1:{upstream_port}/graphql"),
        traffic,
        http: reqwest::Client::new(),
    };
    let app = Router::new()
        .route("/graphql", post(forward))
        .with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// One running service.
pub struct RunningService {
    /// Its own port.
    pub port: u16,
    /// What the router sent it.
    pub traffic: Arc<Traffic>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningService {
    fn spawn<F>(
        port: u16,
        run: impl FnOnce(oneshot::Receiver<()>) -> F,
        traffic: Arc<Traffic>,
    ) -> Self
    where
        F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(run(rx));
        RunningService {
            port,
            traffic,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the service (graceful shutdown) and waits for it.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

async fn until(rx: oneshot::Receiver<()>) {
    let _ = rx.await;
}

/// Options for a shop.
#[derive(Debug, Clone)]
pub struct ShopOptions {
    /// How long products holds stock for an unpaid order.
    pub reservation_ttl_secs: u64,
    /// How much each sign-in attempt past the free ones is slowed (the flows
    /// sign in a lot; the security suite measures the slowing).
    pub throttle_step_ms: u64,
    /// An administrator who signs in with a password ([`ADMIN_EMAIL`],
    /// [`ADMIN_PASSWORD`]), as the browser tests do; the flows sign tokens.
    pub admin_account: bool,
}

/// The e-mail of the administrator of [`ShopOptions::admin_account`].
pub const ADMIN_EMAIL: &str = "admin@shop.test";
/// Its password (a test fixture; never a deployed secret).
pub const ADMIN_PASSWORD: &str = "correct horse admin 1";

impl Default for ShopOptions {
    fn default() -> Self {
        ShopOptions {
            reservation_ttl_secs: 900,
            throttle_step_ms: 1,
            admin_account: false,
        }
    }
}

/// The whole system.
pub struct Shop {
    /// GraphQL through the router.
    pub gql: GraphqlClient,
    /// The router's base URL.
    pub router_url: String,
    /// The services.
    pub users: RunningService,
    /// See above.
    pub products: RunningService,
    /// See above.
    pub orders: RunningService,
    /// See above.
    pub payments: RunningService,
    /// The private exchange and queues.
    pub bus: TestBus,
    /// Each service's database URL (a second replica can share one).
    pub databases: HashMap<&'static str, String>,
    router: Child,
}

impl Shop {
    /// Starts everything with default options.
    pub async fn start() -> Shop {
        Shop::start_with(ShopOptions::default()).await
    }

    /// Starts everything.
    pub async fn start_with(options: ShopOptions) -> Shop {
        let keys = test_keys();
        let bus = TestBus::new().await;
        let prefix = bus.prefix();
        let databases: HashMap<&'static str, String> = ["users", "products", "orders", "payments"]
            .into_iter()
            .map(|s| (s, fresh_database_url(&format!("e2e_{s}"))))
            .collect();

        let users = users::startup::build(users::config::Config {
            service: shop_service("users", &databases, &prefix, 5),
            jwt_private_key_pem: Some(keys.private_pem.clone().into()),
            // The flows sign up dozens of customers from one address.
            signups_per_address: 10_000,
            throttle_step_ms: options.throttle_step_ms,
            bootstrap_admin_email: options.admin_account.then(|| ADMIN_EMAIL.to_string()),
            bootstrap_admin_password: options
                .admin_account
                .then(|| ADMIN_PASSWORD.to_string().into()),
            ..Default::default()
        })
        .await
        .expect("users");
        let products = products::startup::build(products::config::Config {
            service: shop_service("products", &databases, &prefix, 10),
            reservation_ttl_secs: options.reservation_ttl_secs,
            reservation_sweep_ms: 200,
            ..Default::default()
        })
        .await
        .expect("products");
        let products_port = products.port();
        let orders = orders::startup::build(orders::config::Config {
            service: shop_service("orders", &databases, &prefix, 10),
            products_url: format!("http://127.0.0.1:{products_port}"),
            // Flows place up to 100 orders per customer faster than the saga
            // pays them; the production cap (5 unpaid) would refuse them.
            max_open_orders: 1_000,
            ..Default::default()
        })
        .await
        .expect("orders");
        let payments = payments::startup::build(payments::config::Config {
            service: shop_service("payments", &databases, &prefix, 5),
            provider_timeout_ms: 500,
            ..Default::default()
        })
        .await
        .expect("payments");

        let users = {
            let port = users.port();
            RunningService::spawn(port, |rx| users.run(until(rx)), Arc::default())
        };
        let products =
            RunningService::spawn(products_port, |rx| products.run(until(rx)), Arc::default());
        let orders = {
            let port = orders.port();
            RunningService::spawn(port, |rx| orders.run(until(rx)), Arc::default())
        };
        let payments = {
            let port = payments.port();
            RunningService::spawn(port, |rx| payments.run(until(rx)), Arc::default())
        };

        let mut proxies = Vec::new();
        for s in [&users, &products, &orders, &payments] {
            proxies.push(start_proxy(s.port, s.traffic.clone()).await);
        }
        let subgraphs: Vec<String> = proxies
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}/graphql"))
            .collect();
        // The router fetches the key set directly (not through the counting proxy).
        let jwks = format!("http://127.0.0.1:{}/.well-known/jwks.json", users.port);
        let (router, router_port) = spawn_router(&subgraphs, &jwks).await;
        let router_url = format!("http://127.0.0.1:{router_port}");
        Shop {
            gql: GraphqlClient::local(router_port),
            router_url,
            users,
            products,
            orders,
            payments,
            bus,
            databases,
            router,
        }
    }

    /// A token for a new admin (signed with the users service's key).
    pub fn admin_token(&self) -> String {
        token(Uuid::now_v7(), Role::Admin)
    }

    /// Runs a query through the router.
    pub async fn query(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        self.gql.query(query, variables, token).await
    }

    /// Stops the router and the services.
    pub async fn stop(mut self) {
        let _ = self.router.kill().await;
        for s in [
            &mut self.users,
            &mut self.products,
            &mut self.orders,
            &mut self.payments,
        ] {
            s.stop().await;
        }
        self.bus.delete().await;
    }

    /// Creates a category and a product with `stock` units through the router;
    /// returns the product id.
    pub async fn create_product(
        &self,
        admin: &str,
        sku: &str,
        name: &str,
        price: i64,
        stock: i64,
    ) -> String {
        create_product(&self.gql, admin, sku, name, price, stock).await
    }

    /// Creates a product in a category; returns its id.
    pub async fn create_product_in(
        &self,
        admin: &str,
        category: &str,
        sku: &str,
        name: &str,
        price: i64,
        stock: i64,
    ) -> String {
        create_product_in(&self.gql, admin, category, sku, name, price, stock).await
    }

    /// Registers a customer through the router; returns their access token.
    pub async fn customer(&self, email: &str) -> String {
        register_customer(&self.gql, email).await
    }

    /// Places an order of one product through the router; returns the response.
    pub async fn place_order(
        &self,
        token: &str,
        product: &str,
        quantity: i64,
        card: &str,
        key: &str,
    ) -> Value {
        place_order(&self.gql, token, product, quantity, card, key).await
    }

    /// Polls an order's status until it is `status` (10 s at most).
    pub async fn wait_for_status(&self, token: &str, order: &str, status: &str) -> Value {
        wait_for_status(&self.gql, token, order, status).await
    }

    /// A product's available quantity, through the router.
    pub async fn available(&self, product: &str) -> i64 {
        let res = self
            .query(
                "query($id: ID!) { product(id: $id) { availableQuantity } }",
                json!({"id": product}),
                None,
            )
            .await;
        res["data"]["product"]["availableQuantity"]
            .as_i64()
            .unwrap_or_else(|| panic!("{res}"))
    }
}

/// Registers a customer with `email` at `gql`; returns their access token.
pub async fn register_customer(gql: &GraphqlClient, email: &str) -> String {
    let res = gql
        .query(
            "mutation($e: String!) { register(input: {email: $e, password: \"correct horse 1\", name: \"Shopper\"}) { accessToken } }",
            json!({"e": email}),
            None,
        )
        .await;
    res["data"]["register"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("register: {res}"))
        .to_string()
}

/// Creates a category and a product with `stock` units through `gql` (the
/// router or the products subgraph); returns the product id.
pub async fn create_product(
    gql: &GraphqlClient,
    admin: &str,
    sku: &str,
    name: &str,
    price: i64,
    stock: i64,
) -> String {
    let slug = format!("cat-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let res = gql
        .query(
            "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { id } }",
            json!({"i": {"name": slug.clone(), "slug": slug}}),
            Some(admin),
        )
        .await;
    let category = res["data"]["createCategory"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("category: {res}"))
        .to_string();
    create_product_in(gql, admin, &category, sku, name, price, stock).await
}

/// Creates a product in a category through `gql`; returns its id.
pub async fn create_product_in(
    gql: &GraphqlClient,
    admin: &str,
    category: &str,
    sku: &str,
    name: &str,
    price: i64,
    stock: i64,
) -> String {
    let res = gql
        .query(
            "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }",
            json!({"i": {
                "sku": sku, "name": name, "description": format!("{name}, for testing"),
                "price": {"amount": price, "currency": "EUR"}, "categoryId": category,
                "images": [], "attributes": [], "stockOnHand": stock,
            }}),
            Some(admin),
        )
        .await;
    res["data"]["createProduct"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("product: {res}"))
        .to_string()
}

/// Places an order of one product at `gql`; returns the response.
pub async fn place_order(
    gql: &GraphqlClient,
    token: &str,
    product: &str,
    quantity: i64,
    card: &str,
    key: &str,
) -> Value {
    gql.query(
        "mutation($p: ID!, $q: Int!, $card: String!, $key: String!) {
           placeOrder(input: {
             shippingAddress: {name: \"Ada\", line1: \"1 Loop St\", city: \"London\", postalCode: \"N1\", country: \"GB\"},
             paymentToken: $card, items: [{productId: $p, quantity: $q}]
           }, idempotencyKey: $key) { id status total { amount } }
         }",
        json!({"p": product, "q": quantity, "card": card, "key": key}),
        Some(token),
    )
    .await
}

/// Polls an order's status at `gql` until it is `status` (10 s at most).
pub async fn wait_for_status(gql: &GraphqlClient, token: &str, order: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = gql
            .query(
                "query($id: ID!) { order(id: $id) { status } }",
                json!({"id": order}),
                Some(token),
            )
            .await;
        if last["data"]["order"]["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {order} never reached {status}: {last}");
}

/// Starts the router on the committed supergraph and config with the
/// subgraphs at `subgraphs` (users, products, orders, payments `/graphql`
/// URLs), verifying tokens against the users service's key set at `jwks_url`;
/// waits until it is ready. Returns the process and its port.
pub async fn spawn_router(subgraphs: &[String], jwks_url: &str) -> (Child, u16) {
    spawn_router_with(subgraphs, jwks_url, &[]).await
}

/// Like [`spawn_router`], with more environment variables (the profile, the
/// trusted-document manifest).
pub async fn spawn_router_with(
    subgraphs: &[String],
    jwks_url: &str,
    env: &[(&str, String)],
) -> (Child, u16) {
    let router_port = free_port();
    let root = repo_root();
    let mut command = Command::new(router_binary());
    command
        .env(
            "ROUTER_CONFIG_FILE_PATH",
            root.join("supergraph/router/router.config.yaml"),
        )
        .env(
            "SUPERGRAPH_FILE_PATH",
            root.join("schema/supergraph.graphql"),
        )
        .env("ROUTER_JWKS_URL", jwks_url)
        .env("HOST", "127.0.0.1")
        .env("PORT", router_port.to_string())
        .env("LOG_LEVEL", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    for (name, url) in ["USERS", "PRODUCTS", "ORDERS", "PAYMENTS"]
        .iter()
        .zip(subgraphs)
    {
        command.env(format!("SUBGRAPH_{name}_URL"), url);
    }
    let router = command
        .stdout(Stdio::null())
        .stderr(if std::env::var("TEST_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .expect("router starts");
    let router_url = format!("http://127.0.0.1:{router_port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(res) = http.get(format!("{router_url}/readiness")).send().await {
            if res.status().is_success() {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the router did not become ready");
    // Ready is not yet verifying: on a busy machine the first fetch of the key
    // set may fail, and the router fetches again on its next poll. Wait (a
    // while, not failing: some tests give it keys it must refuse) until it
    // accepts a token signed with the test key.
    let probe = serde_json::json!({"query": "{ __typename }"});
    let admin = token(Uuid::now_v7(), Role::Admin);
    for _ in 0..100 {
        let accepted = http
            .post(format!("{router_url}/graphql"))
            .bearer_auth(&admin)
            .json(&probe)
            .send()
            .await
            .is_ok_and(|res| res.status() != reqwest::StatusCode::UNAUTHORIZED);
        if accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (router, router_port)
}

/// A token for `user` with `role`, signed with the test key.
pub fn token(user: Uuid, role: Role) -> String {
    let keys = test_keys();
    #[allow(clippy::expect_used)]
    let signer = TokenSigner::from_pem(
        &keys.private_pem,
        &keys.public_pem,
        Duration::from_secs(900),
    )
    .expect("signer");
    #[allow(clippy::expect_used)]
    signer.sign(user, role).expect("sign").0
}

/// The common settings of `service` in a [`Shop`]: its database, the event
/// workers on the shop's private topology, a pool of `pool` connections.
fn shop_service(
    service: &str,
    databases: &HashMap<&'static str, String>,
    prefix: &str,
    pool: u32,
) -> platform::config::ServiceConfig {
    platform::config::ServiceConfig {
        database_url: databases[service].clone().into(),
        events_prefix: prefix.to_string(),
        event_workers: true,
        db_max_connections: pool,
        ..testkit::service_config(service)
    }
}
