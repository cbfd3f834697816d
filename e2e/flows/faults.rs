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

use e2e::processes::{
    assert_every_order_paid_once, env, free_port, place_order_retrying, ServiceProcess,
};
use e2e::token;
use platform::auth::Role;
use testkit::bus::TestBus;
use testkit::{fresh_database_url, test_keys, with_port, GraphqlClient, TcpProxy};

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
    let product =
        e2e::create_product(&products, &admin, "FAULT-1", "Sturdy lamp", 1500, INITIAL).await;

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
    let orders: Vec<(Uuid, i64)> = accepted.iter().map(|a| (a.id, a.quantity)).collect();
    assert_every_order_paid_once(&databases, &bus, &orders, "FAULT-1", INITIAL).await;

    for p in procs.iter_mut() {
        p.kill().await;
    }
    bus.delete().await;
}
