//! The services as their own processes (the binaries `scripts/test` builds),
//! for tests that kill them (SIGKILL), restart them, or run several replicas,
//! and the customer side of placing orders against them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::process::{Child, Command};
use uuid::Uuid;

/// A service binary next to this test's own build.
pub fn binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test binary");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: build the services first (`cargo build --workspace --bins`, as scripts/test does)",
        bin.display()
    );
    bin
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `<PREFIX>_<NAME>` variables.
pub fn env(prefix: &str, vars: &[(&str, String)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (format!("{prefix}_{k}"), v.clone()))
        .collect()
}

/// One service process, restartable with the same configuration.
pub struct ServiceProcess {
    /// The binary (`users`, `products`, ...).
    pub name: &'static str,
    /// Its HTTP port.
    pub port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl ServiceProcess {
    /// A process of `name` on `port` with `env` (not started yet).
    pub fn new(name: &'static str, port: u16, env: Vec<(String, String)>) -> ServiceProcess {
        ServiceProcess {
            name,
            port,
            env,
            child: None,
        }
    }

    /// Starts it and waits until `/health/live` answers.
    pub async fn start(&mut self) {
        let log = std::env::var("TEST_LOG").is_ok();
        let child = Command::new(binary(self.name))
            .envs(self.env.iter().cloned())
            .env("RUST_LOG", if log { "info" } else { "error" })
            // The services log to stdout: shown with TEST_LOG.
            .stdout(if log { Stdio::inherit() } else { Stdio::null() })
            .stderr(if log { Stdio::inherit() } else { Stdio::null() })
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", self.name));
        self.child = Some(child);
        let http = reqwest::Client::new();
        for _ in 0..300 {
            let live = http
                .get(format!("http://127.0.0.1:{}/health/live", self.port))
                .send()
                .await;
            if live.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} did not come up", self.name);
    }

    /// SIGKILL: no shutdown, no draining, whatever was in flight.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// `/health/ready`'s status and body (status 0 if it does not answer).
    pub async fn ready(&self) -> (u16, String) {
        let url = format!("http://127.0.0.1:{}/health/ready", self.port);
        match reqwest::get(url).await {
            Ok(res) => (res.status().as_u16(), res.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }

    /// The sum of the samples in `/metrics` of `metric` whose line contains
    /// every one of `labels` (e.g. `route="/graphql"`).
    pub async fn metric(&self, metric: &str, labels: &[&str]) -> f64 {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let text = match reqwest::get(url).await {
            Ok(res) => res.text().await.unwrap_or_default(),
            Err(_) => return 0.0,
        };
        text.lines()
            .filter(|l| l.starts_with(metric) && labels.iter().all(|label| l.contains(label)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

const PLACE_ORDER: &str = "mutation($p: ID!, $q: Int!, $key: String!) {
  placeOrder(input: {
    shippingAddress: {name: \"Ada\", line1: \"1 Loop St\", city: \"London\", postalCode: \"N1\", country: \"GB\"},
    paymentToken: \"tok_visa\", items: [{productId: $p, quantity: $q}]
  }, idempotencyKey: $key) { id status }
}";

/// Places one order at `url` (a `/graphql` endpoint) like a careful client: on
/// any failure that is not the client's fault (a timeout, a refused
/// connection, a server error), it retries with the same idempotency key, for
/// up to 90 s. A refusal of a valid order fails the test.
pub async fn place_order_retrying(
    http: &reqwest::Client,
    url: &str,
    customer: &str,
    product: &str,
    quantity: i64,
) -> Option<Uuid> {
    let key = Uuid::now_v7().to_string();
    let body =
        json!({"query": PLACE_ORDER, "variables": {"p": product, "q": quantity, "key": key}});
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while tokio::time::Instant::now() < deadline {
        let sent = http
            .post(url)
            .bearer_auth(customer)
            .json(&body)
            .send()
            .await;
        if let Ok(res) = sent {
            let res: serde_json::Value = res.json().await.unwrap_or_default();
            if let Some(id) = res["data"]["placeOrder"]["id"].as_str() {
                return id.parse().ok();
            }
            let code = testkit::first_error_code(&res).unwrap_or_default();
            assert_ne!(code, "BAD_USER_INPUT", "a valid order was refused: {res}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// Waits until every one of `orders` (id, quantity of `sku`) is PAID, then
/// checks the saga settled each exactly once: one PAID in its history, one
/// successful unrefunded payment, the stock of `sku` down by what was sold
/// with nothing held, no dead letter, and every outbox drained with none
/// parked. `databases` are the services' database URLs by name.
pub async fn assert_every_order_paid_once(
    databases: &std::collections::HashMap<&str, String>,
    bus: &testkit::bus::TestBus,
    orders: &[(Uuid, i64)],
    sku: &str,
    initial_stock: i64,
) {
    let connect = |name: &str| sqlx::PgPool::connect(&databases[name]);
    let orders_db = connect("orders").await.expect("orders db");
    let ids: Vec<Uuid> = orders.iter().map(|(id, _)| *id).collect();
    let mut statuses: Vec<(Uuid, String)> = Vec::new();
    // Up to 4 minutes: after the faults, an event may wait on the retry
    // queue's 30 s tier several times over (the redelivery budget is ~15 min).
    for _ in 0..480 {
        statuses = sqlx::query_as("SELECT id, status FROM orders WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&orders_db)
            .await
            .expect("statuses");
        if statuses.len() == ids.len() && statuses.iter().all(|(_, s)| s == "PAID") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(statuses.len(), ids.len(), "every accepted order exists");
    let unpaid: Vec<&(Uuid, String)> = statuses.iter().filter(|(_, s)| s != "PAID").collect();
    if !unpaid.is_empty() {
        eprintln!("{}", saga_state(databases).await);
    }
    assert!(
        unpaid.is_empty(),
        "with a good card and plenty of stock every order is paid ({} not): {unpaid:?}",
        unpaid.len()
    );
    let paid_twice: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT order_id, count(*) FROM order_status_history
         WHERE status = 'PAID' GROUP BY order_id HAVING count(*) <> 1",
    )
    .fetch_all(&orders_db)
    .await
    .expect("history");
    assert!(paid_twice.is_empty(), "paid more than once: {paid_twice:?}");

    let payments_db = connect("payments").await.expect("payments db");
    let charges: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT order_id, status, refunded_amount FROM payments WHERE order_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&payments_db)
    .await
    .expect("payments");
    assert_eq!(charges.len(), ids.len(), "one payment per order");
    for (order, status, refunded) in &charges {
        assert_eq!((status.as_str(), *refunded), ("SUCCEEDED", 0), "{order}");
    }

    let products_db = connect("products").await.expect("products db");
    let sold: i64 = orders.iter().map(|(_, q)| q).sum();
    // order.paid may sit in a killed relay's lease (30 s) before another
    // relay publishes it: wait past one lease.
    let mut stock = (0i64, 0i64);
    for _ in 0..200 {
        stock = sqlx::query_as(
            "SELECT stock_on_hand::bigint, reserved::bigint FROM products WHERE sku = $1",
        )
        .bind(sku)
        .fetch_one(&products_db)
        .await
        .expect("stock");
        if stock == (initial_stock - sold, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        stock,
        (initial_stock - sold, 0),
        "sold exactly what was paid for"
    );

    for service in ["products", "orders", "payments"] {
        let letters = bus.dead_letters(service).await;
        assert!(letters.is_empty(), "{service} dead-lettered {letters:?}");
    }
    for (name, url) in databases {
        let db = sqlx::PgPool::connect(url).await.expect("db");
        // A relay killed mid-batch leaves its claimed rows leased (30 s) until
        // another relay takes them over: wait past one lease.
        let mut left = (0i64, 0i64);
        for _ in 0..200 {
            left = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE published_at IS NULL), count(parked_at) FROM outbox",
            )
            .fetch_one(&db)
            .await
            .expect("outbox");
            if left == (0, 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(left, (0, 0), "{name}: (unpublished, parked) outbox rows");
    }
}

/// Where the saga stands in each service's database (outbox pending, parked
/// and published; inbox handled by kind): printed when a fault test fails,
/// so the failure says which hop stopped.
pub async fn saga_state(databases: &std::collections::HashMap<&str, String>) -> String {
    let mut report = String::from("saga state after the faults:\n");
    let mut names: Vec<&&str> = databases.keys().collect();
    names.sort();
    for name in names {
        let Ok(pool) = sqlx::PgPool::connect(&databases[*name]).await else {
            report.push_str(&format!("  {name}: database unreachable\n"));
            continue;
        };
        let outbox: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT routing_key,
                    count(*) FILTER (WHERE published_at IS NULL AND parked_at IS NULL),
                    count(*) FILTER (WHERE parked_at IS NOT NULL),
                    count(*) FILTER (WHERE published_at IS NOT NULL)
             FROM outbox GROUP BY routing_key ORDER BY routing_key",
        )
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        for (key, pending, parked, published) in outbox {
            report.push_str(&format!(
                "  {name} outbox {key}: {pending} pending, {parked} parked, {published} published\n"
            ));
        }
        let inbox: Vec<(String, i64)> = sqlx::query_as(
            "SELECT event_type, count(*) FROM inbox GROUP BY event_type ORDER BY event_type",
        )
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        for (kind, handled) in inbox {
            report.push_str(&format!("  {name} inbox {kind}: {handled} handled\n"));
        }
    }
    report
}

/// The four services as processes on private databases and a private broker
/// prefix, behind the real router: for tests that need each service in its own
/// process (each exports its own traces, logs, metrics).
pub struct ProcessStack {
    /// users, products, orders, payments, in that order.
    pub services: Vec<ServiceProcess>,
    /// GraphQL through the router.
    pub gql: testkit::GraphqlClient,
    /// Each service's database URL.
    pub databases: std::collections::HashMap<&'static str, String>,
    /// The private topology.
    pub bus: testkit::bus::TestBus,
    _router: Child,
}

impl ProcessStack {
    /// Starts the services with `extra` variables (unprefixed: `OTEL_*`, ...)
    /// and the router with `router_env`.
    pub async fn start(extra: &[(&str, String)], router_env: &[(&str, String)]) -> ProcessStack {
        let keys = testkit::test_keys();
        let bus = testkit::bus::TestBus::new().await;
        let names = ["users", "products", "orders", "payments"];
        let databases: std::collections::HashMap<&'static str, String> = names
            .iter()
            .map(|n| (*n, testkit::fresh_database_url(&format!("stack_{n}"))))
            .collect();
        let ports: std::collections::HashMap<&str, u16> =
            names.iter().map(|n| (*n, free_port())).collect();
        let mut services = Vec::new();
        for name in names {
            let mut vars = vec![
                ("HOST", "127.0.0.1".to_string()),
                ("PORT", ports[name].to_string()),
                ("DATABASE_URL", databases[name].clone()),
                ("DB_MAX_CONNECTIONS", "5".to_string()),
                ("JWT_PUBLIC_KEY_PEM", keys.public_pem.clone()),
                ("EVENTS_PREFIX", bus.prefix()),
            ];
            match name {
                "users" => vars.push(("JWT_PRIVATE_KEY_PEM", keys.private_pem.clone())),
                "orders" => {
                    vars.push((
                        "PRODUCTS_URL",
                        format!("http://127.0.0.1:{}", ports["products"]),
                    ));
                    vars.push((
                        "PAYMENTS_URL",
                        format!("http://127.0.0.1:{}", ports["payments"]),
                    ));
                }
                _ => {}
            }
            let mut vars = env(&name.to_uppercase(), &vars);
            vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
            services.push(ServiceProcess::new(name, ports[name], vars));
        }
        for service in services.iter_mut() {
            service.start().await;
        }
        let subgraphs: Vec<String> = names
            .iter()
            .map(|n| format!("http://127.0.0.1:{}/graphql", ports[n]))
            .collect();
        let jwks = format!("http://127.0.0.1:{}/.well-known/jwks.json", ports["users"]);
        let (router, port) = crate::spawn_router_with(&subgraphs, &jwks, router_env).await;
        ProcessStack {
            services,
            gql: testkit::GraphqlClient::local(port),
            databases,
            bus,
            _router: router,
        }
    }
}
