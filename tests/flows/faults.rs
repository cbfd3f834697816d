//! The saga under faults: the four services run as their own processes (the
//! binaries `scripts/test` builds), each reaching its database and the broker
//! through a TCP proxy this test controls, so cutting them touches no other
//! test. Orders are placed all along while, in turn, each service is killed
//! with SIGKILL and restarted, the broker is unreachable for 15 s and the
//! products database refuses connections for 30 s. Afterwards every accepted
//! order has reached a final state, each paid order was charged exactly once,
//! the stock is the initial stock minus what was sold, nothing is held, and
//! nothing was dead-lettered or parked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::processes::{env, free_port, place_order_retrying, ServiceProcess};
use e2e::token;
use events::testing::TestBus;
use platform::auth::Role;
use platform::testing::{fresh_database_url, test_keys, with_port, GraphqlClient, TcpProxy};
use serde_json::json;
use uuid::Uuid;

/// An accepted order.
#[derive(Debug, Clone)]
struct Accepted {
    id: Uuid,
    quantity: i64,
}

fn progress(what: &str) {
    eprintln!("[faults] {what}");
}

#[tokio::test]
async fn orders_placed_through_kills_a_broker_outage_and_a_database_outage_all_settle_once() {
    let keys = test_keys();
    progress("declaring the topology");
    let bus = TestBus::new().await;
    progress("starting proxies");
    let prefix = bus.prefix();
    let broker = TcpProxy::start("127.0.0.1:5672")
        .await
        .expect("broker proxy");
    let amqp = format!("amqp://guest:guest@127.0.0.1:{}/%2f", broker.port());

    let names = ["users", "products", "orders", "payments"];
    let mut databases = HashMap::new();
    let mut proxies = HashMap::new();
    for name in names {
        let url = fresh_database_url(&format!("faults_{name}"));
        let proxy = TcpProxy::start("127.0.0.1:5432").await.expect("db proxy");
        databases.insert(name, url);
        proxies.insert(name, proxy);
    }
    let through = |name: &str| with_port(&databases[name], proxies[name].port());
    let ports: HashMap<&str, u16> = names.iter().map(|n| (*n, free_port())).collect();
    let common = |name: &str| {
        vec![
            ("HOST", "127.0.0.1".to_string()),
            ("PORT", ports[name].to_string()),
            ("DATABASE_URL", through(name)),
            ("DB_MAX_CONNECTIONS", "5".to_string()),
            ("JWT_PUBLIC_KEY_PEM", keys.public_pem.clone()),
            ("AMQP_URL", amqp.clone()),
            ("EVENTS_PREFIX", prefix.clone()),
        ]
    };
    let mut users_env = common("users");
    users_env.push(("JWT_PRIVATE_KEY_PEM", keys.private_pem.clone()));
    let mut orders_env = common("orders");
    orders_env.push(("MAX_OPEN_ORDERS", "1000".to_string()));
    orders_env.push((
        "PRODUCTS_URL",
        format!("http://127.0.0.1:{}", ports["products"]),
    ));
    let mut procs = [
        ServiceProcess::new("users", ports["users"], env("USERS", &users_env)),
        ServiceProcess::new(
            "products",
            ports["products"],
            env("PRODUCTS", &common("products")),
        ),
        ServiceProcess::new("orders", ports["orders"], env("ORDERS", &orders_env)),
        ServiceProcess::new(
            "payments",
            ports["payments"],
            env("PAYMENTS", &common("payments")),
        ),
    ];
    for p in procs.iter_mut() {
        progress(&format!("starting {}", p.name));
        p.start().await;
    }
    progress("creating the product");

    // One product with plenty of stock.
    const INITIAL: i64 = 10_000;
    let admin = token(Uuid::now_v7(), Role::Admin);
    let products = GraphqlClient::local(ports["products"]);
    let res = products
        .query(
            "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { id } }",
            json!({"i": {"name": "Faults", "slug": "faults"}}),
            Some(&admin),
        )
        .await;
    let category = res["data"]["createCategory"]["id"]
        .as_str()
        .expect("category")
        .to_string();
    let res = products
        .query(
            "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }",
            json!({"i": {
                "sku": "FAULT-1", "name": "Sturdy lamp", "description": "Survives anything",
                "price": {"amount": 1500, "currency": "EUR"}, "categoryId": category,
                "images": [], "attributes": [], "stockOnHand": INITIAL,
            }}),
            Some(&admin),
        )
        .await;
    let product = res["data"]["createProduct"]["id"]
        .as_str()
        .expect("product")
        .to_string();

    // Customers place orders all along, each through its own task.
    let accepted: Arc<Mutex<Vec<Accepted>>> = Arc::default();
    let (stop_placing, stop) = tokio::sync::watch::channel(false);
    let mut placers = Vec::new();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{}/graphql", ports["orders"]);
    for c in 0..12 {
        let (http, url) = (http.clone(), url.clone());
        let customer = token(Uuid::now_v7(), Role::Customer);
        let (accepted, stop, product) = (accepted.clone(), stop.clone(), product.clone());
        placers.push(tokio::spawn(async move {
            let mut n = 0i64;
            while !*stop.borrow() {
                let quantity = 1 + (n + c) % 3;
                if let Some(id) =
                    place_order_retrying(&http, &url, &customer, &product, quantity).await
                {
                    accepted
                        .lock()
                        .expect("lock")
                        .push(Accepted { id, quantity });
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
        }));
    }

    // The faults, in turn.
    for process in procs.iter_mut() {
        tokio::time::sleep(Duration::from_secs(3)).await;
        progress(&format!("killing {}", process.name));
        process.kill().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        process.start().await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    progress("broker unreachable");
    broker.cut();
    tokio::time::sleep(Duration::from_secs(5)).await;
    // Every service says it is not ready while it cannot reach the broker.
    for p in &procs {
        let (status, body) = p.ready().await;
        assert_eq!(status, 503, "{} ready without a broker: {body}", p.name);
        assert!(body.contains("broker"), "{}: {body}", p.name);
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    broker.restore();
    tokio::time::sleep(Duration::from_secs(3)).await;
    progress("products database unreachable");
    proxies["products"].cut();
    tokio::time::sleep(Duration::from_secs(30)).await;
    proxies["products"].restore();
    let mut back = (0, String::new());
    for _ in 0..100 {
        back = procs[1].ready().await;
        if back.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(back.0, 200, "products ready again: {}", back.1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    progress("stop placing");
    stop_placing.send_replace(true);
    for p in placers {
        p.await.expect("placer");
    }
    let accepted = accepted.lock().expect("lock").clone();
    assert!(
        accepted.len() >= 30,
        "orders kept being accepted: {}",
        accepted.len()
    );

    progress(&format!(
        "{} orders accepted; waiting for them to settle",
        accepted.len()
    ));
    // Every accepted order settles.
    let orders_db = sqlx::PgPool::connect(&databases["orders"])
        .await
        .expect("orders db");
    let ids: Vec<Uuid> = accepted.iter().map(|a| a.id).collect();
    let mut statuses: Vec<(Uuid, String)> = Vec::new();
    for _ in 0..240 {
        statuses = sqlx::query_as("SELECT id, status FROM orders WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&orders_db)
            .await
            .expect("statuses");
        if statuses.len() == ids.len()
            && statuses
                .iter()
                .all(|(_, s)| matches!(s.as_str(), "PAID" | "CANCELLED"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let unsettled: Vec<&(Uuid, String)> = statuses
        .iter()
        .filter(|(_, s)| !matches!(s.as_str(), "PAID" | "CANCELLED"))
        .collect();
    assert_eq!(statuses.len(), ids.len(), "every accepted order exists");
    assert!(unsettled.is_empty(), "unsettled orders: {unsettled:?}");
    let paid: Vec<Uuid> = statuses
        .iter()
        .filter(|(_, s)| s == "PAID")
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        paid.len(),
        ids.len(),
        "with a good card and plenty of stock every order is paid: {statuses:?}"
    );

    // Each paid order was charged exactly once, and nothing was refunded.
    let payments_db = sqlx::PgPool::connect(&databases["payments"])
        .await
        .expect("payments db");
    let charges: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT order_id, status, refunded_amount FROM payments WHERE order_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&payments_db)
    .await
    .expect("payments");
    let mut per_order: HashMap<Uuid, usize> = HashMap::new();
    for (order, status, refunded) in &charges {
        assert_eq!((status.as_str(), *refunded), ("SUCCEEDED", 0), "{order}");
        *per_order.entry(*order).or_default() += 1;
    }
    assert_eq!(per_order.len(), paid.len());
    assert!(per_order.values().all(|n| *n == 1));

    // The stock is the initial stock less what was sold, and nothing is held.
    let products_db = sqlx::PgPool::connect(&databases["products"])
        .await
        .expect("products db");
    let (on_hand, reserved): (i64, i64) = sqlx::query_as(
        "SELECT stock_on_hand::bigint, reserved::bigint FROM products WHERE sku = 'FAULT-1'",
    )
    .fetch_one(&products_db)
    .await
    .expect("stock");
    let sold: i64 = accepted.iter().map(|a| a.quantity).sum();
    assert_eq!((on_hand, reserved), (INITIAL - sold, 0));

    // Nothing dead-lettered, nothing parked or left in an outbox.
    for service in ["products", "orders", "payments"] {
        let letters = bus.dead_letters(service).await;
        assert!(letters.is_empty(), "{service} dead-lettered {letters:?}");
    }
    for name in names {
        let db = sqlx::PgPool::connect(&databases[name]).await.expect("db");
        let mut left = (0, 0);
        for _ in 0..40 {
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
        assert_eq!(
            left,
            (0i64, 0i64),
            "{name}: (unpublished, parked) outbox rows"
        );
    }

    for p in procs.iter_mut() {
        p.kill().await;
    }
    bus.delete().await;
}
