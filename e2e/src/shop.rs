//! The whole shop in this process: the four services (each on a free port
//! with a fresh database, all on one private exchange of the real RabbitMQ)
//! behind counting proxies, and the router in front.

use std::collections::HashMap;
use std::sync::Arc;

use platform::auth::Role;
use serde_json::{json, Value};
use testkit::bus::TestBus;
use testkit::{fresh_database_url, test_keys, GraphqlClient};
use tokio::process::Child;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::proxy::{start_proxy, Traffic};
use crate::router::spawn_router;
use crate::story::{
    create_product, create_product_in, place_order, register_customer, token, wait_for_status,
};

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
