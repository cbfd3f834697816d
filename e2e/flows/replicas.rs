//! Two replicas of every service, as in a deployment past one machine: each
//! replica is its own process with its own relay, consumer and workers, on
//! the same database and queues (competing consumers), behind a balancer that
//! spreads the router's (and orders' quote) connections over both. One
//! replica of each service is killed with SIGKILL in the middle of a burst of
//! orders; every order still settles exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::processes::{
    assert_every_order_paid_once, env, free_port, place_order_retrying, ServiceProcess,
};
use e2e::{spawn_router, token};
use platform::auth::Role;
use serde_json::json;
use testkit::bus::TestBus;
use testkit::{fresh_database_url, test_keys, GraphqlClient, TcpProxy};
use uuid::Uuid;

#[tokio::test]
async fn with_two_replicas_of_each_service_a_killed_replica_loses_no_order_and_doubles_none() {
    let keys = test_keys();
    let bus = TestBus::new().await;
    let prefix = bus.prefix();
    let names = ["users", "products", "orders", "payments"];
    let databases: HashMap<&str, String> = names
        .iter()
        .map(|n| (*n, fresh_database_url(&format!("replicas_{n}"))))
        .collect();
    // Two ports per service, and a balancer in front of them.
    let ports: HashMap<&str, [u16; 2]> = names
        .iter()
        .map(|n| (*n, [free_port(), free_port()]))
        .collect();
    let mut balancers = HashMap::new();
    for name in names {
        let upstreams: Vec<String> = ports[name]
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        balancers.insert(name, TcpProxy::balance(&upstreams).await.expect("balancer"));
    }
    let amqp = testkit::bus::amqp_url();
    let mut replicas: Vec<[ServiceProcess; 2]> = Vec::new();
    for name in names {
        let prefix_var = name.to_uppercase();
        let make = |port: u16| {
            let mut vars = vec![
                ("HOST", "127.0.0.1".to_string()),
                ("PORT", port.to_string()),
                ("DATABASE_URL", databases[name].clone()),
                ("DB_MAX_CONNECTIONS", "5".to_string()),
                ("JWT_PUBLIC_KEY_PEM", keys.public_pem.clone()),
                ("AMQP_URL", amqp.clone()),
                ("EVENTS_PREFIX", prefix.clone()),
            ];
            match name {
                "users" => vars.push(("JWT_PRIVATE_KEY_PEM", keys.private_pem.clone())),
                "orders" => {
                    vars.push(("MAX_OPEN_ORDERS", "1000".to_string()));
                    vars.push((
                        "PRODUCTS_URL",
                        format!("http://127.0.0.1:{}", balancers["products"].port()),
                    ));
                }
                _ => {}
            }
            ServiceProcess::new(name, port, env(&prefix_var, &vars))
        };
        replicas.push([make(ports[name][0]), make(ports[name][1])]);
    }
    // One replica first (it creates and migrates the database), then the other.
    for pair in replicas.iter_mut() {
        pair[0].start().await;
        pair[1].start().await;
    }
    let subgraphs: Vec<String> = names
        .iter()
        .map(|n| format!("http://127.0.0.1:{}/graphql", balancers[n].port()))
        .collect();
    let jwks = format!(
        "http://127.0.0.1:{}/.well-known/jwks.json",
        balancers["users"].port()
    );
    let (mut router, router_port) = spawn_router(&subgraphs, &jwks).await;
    let router_url = format!("http://127.0.0.1:{router_port}/graphql");

    // One product with plenty of stock, through the router.
    const INITIAL: i64 = 5_000;
    let admin = token(Uuid::now_v7(), Role::Admin);
    let gql = GraphqlClient::local(router_port);
    let product = e2e::create_product(&gql, &admin, "TWIN-1", "Twin lamp", 2000, INITIAL).await;

    // A burst of orders through the router, from many customers at once.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let accepted: Arc<Mutex<Vec<(Uuid, i64)>>> = Arc::default();
    let burst = |round: i64| {
        let mut tasks = Vec::new();
        for c in 0..20i64 {
            let (http, url, product, accepted) = (
                http.clone(),
                router_url.clone(),
                product.clone(),
                accepted.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let customer = token(Uuid::now_v7(), Role::Customer);
                for n in 0..3i64 {
                    let quantity = 1 + (c + n + round) % 3;
                    let Some(id) =
                        place_order_retrying(&http, &url, &customer, &product, quantity).await
                    else {
                        continue;
                    };
                    accepted.lock().expect("lock").push((id, quantity));
                    // A read across users, orders, products and payments.
                    let _ = http
                        .post(&url)
                        .bearer_auth(&customer)
                        .json(&json!({
                            "query": "query($id: ID!) { me { id } order(id: $id) { status
                                items { product { name } } payment { status } } }",
                            "variables": {"id": id},
                        }))
                        .send()
                        .await;
                }
            }));
        }
        tasks
    };
    let first = burst(0);
    // Both replicas of every service take part before one of each dies.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = burst(1);
    for task in first {
        task.await.expect("burst");
    }
    // The router's connections are spread over both replicas of each service
    // (the balancer alternates connections; reads keep coming until both have
    // served, or 20 s pass).
    let mut idle: Vec<String> = Vec::new();
    for _ in 0..40 {
        idle.clear();
        for (pair, name) in replicas.iter().zip(names) {
            for replica in pair.iter() {
                let served = replica
                    .metric("http_requests_total", &["route=\"/graphql\""])
                    .await;
                if served == 0.0 {
                    idle.push(format!("{name} on :{}", replica.port));
                }
            }
        }
        if idle.is_empty() {
            break;
        }
        let reads = (0..20).map(|_| {
            http.post(&router_url)
                .bearer_auth(&admin)
                .json(
                    &json!({"query": "{ me { id } orders(first: 5) { edges { node { id
                    items { product { name } } payment { status } } } } }"}),
                )
                .send()
        });
        let _ = futures::future::join_all(reads).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(idle.is_empty(), "replicas that served nothing: {idle:?}");
    for replica in replicas[2].iter() {
        let handled = replica.metric("events_handled_total", &[]).await;
        assert!(
            handled > 0.0,
            "orders on :{} consumed nothing",
            replica.port
        );
    }
    for pair in replicas.iter_mut() {
        pair[0].kill().await;
    }
    let third = burst(2);
    for task in second.into_iter().chain(third) {
        task.await.expect("burst");
    }
    let accepted = accepted.lock().expect("lock").clone();
    assert_eq!(accepted.len(), 20 * 3 * 3, "every order was accepted");

    assert_every_order_paid_once(&databases, &bus, &accepted, "TWIN-1", INITIAL).await;

    let _ = router.kill().await;
    for pair in replicas.iter_mut() {
        for replica in pair.iter_mut() {
            replica.kill().await;
        }
    }
    bus.delete().await;
}
