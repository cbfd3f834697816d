//! Least privilege, as deployed: the four services run as their own processes,
//! each connected to PostgreSQL as its own role (made by the deployment's own
//! `deploy/postgres/provision.sh`) and to RabbitMQ as its own user (made by
//! `events::permissions`, as `events-dlq provision` does). The saga still runs
//! end to end through the router, and each role and user is confined: no
//! role is a superuser or reaches another service's database, no broker user
//! but payments' can announce a payment.

use std::collections::HashMap;
use std::time::Duration;

use e2e::processes::{env, free_port, ServiceProcess};
use e2e::{repo_root, spawn_router};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use testkit::bus::TestBus;
use testkit::{test_keys, GraphqlClient};

const SERVICES: [&str; 4] = ["users", "products", "orders", "payments"];

/// Runs the deployment's provisioning script for roles and databases named
/// `<prefix><service>`.
async fn provision_roles(prefix: &str) {
    let status = tokio::process::Command::new("sh")
        .arg(repo_root().join("deploy/postgres/provision.sh"))
        .arg(prefix)
        .env("PGHOST", "127.0.0.1")
        .env("PGUSER", "postgres")
        .status()
        .await
        .expect("sh runs");
    assert!(status.success(), "deploy/postgres/provision.sh failed");
}

fn database_url(prefix: &str, role: &str, service: &str) -> String {
    format!("postgres://{prefix}{role}@127.0.0.1:5432/{prefix}{service}")
}

async fn announce_payment(url: &str, exchange: &str) -> Result<(), lapin::Error> {
    testkit::bus::publish_as(url, exchange, "payment.succeeded").await
}

#[tokio::test]
async fn the_saga_runs_with_a_confined_database_role_and_broker_user_per_service() {
    let keys = test_keys();
    let bus = TestBus::new().await;
    let broker_users = bus.provision_users().await;
    let prefix = format!(
        "t_lp{}_",
        Alphanumeric
            .sample_string(&mut rand::thread_rng(), 8)
            .to_lowercase()
    );
    provision_roles(&prefix).await;

    let ports: HashMap<&str, u16> = SERVICES.iter().map(|n| (*n, free_port())).collect();
    let mut processes = Vec::new();
    for name in SERVICES {
        let mut vars = vec![
            ("HOST", "127.0.0.1".to_string()),
            ("PORT", ports[name].to_string()),
            ("DATABASE_URL", database_url(&prefix, name, name)),
            ("DB_MAX_CONNECTIONS", "4".to_string()),
            ("JWT_PUBLIC_KEY_PEM", keys.public_pem.clone()),
            ("AMQP_URL", broker_users.url(name)),
            ("EVENTS_PREFIX", bus.prefix()),
        ];
        match name {
            "users" => vars.push(("JWT_PRIVATE_KEY_PEM", keys.private_pem.clone())),
            "orders" => vars.push((
                "PRODUCTS_URL",
                format!("http://127.0.0.1:{}", ports["products"]),
            )),
            _ => {}
        }
        let mut process = ServiceProcess::new(name, ports[name], env(&name.to_uppercase(), &vars));
        process.start().await;
        processes.push(process);
    }
    for process in &processes {
        let mut ready = (0, String::new());
        for _ in 0..100 {
            ready = process.ready().await;
            if ready.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(ready.0, 200, "{} is ready: {}", process.name, ready.1);
    }
    let subgraphs: Vec<String> = SERVICES
        .iter()
        .map(|n| format!("http://127.0.0.1:{}/graphql", ports[n]))
        .collect();
    let jwks = format!("http://127.0.0.1:{}/.well-known/jwks.json", ports["users"]);
    let (_router, router_port) = spawn_router(&subgraphs, &jwks).await;
    let gql = GraphqlClient::local(router_port);

    // A customer signs up and buys through the router; the saga pays the order.
    let admin = e2e::token(uuid::Uuid::now_v7(), platform::auth::Role::Admin);
    let product = e2e::create_product(&gql, &admin, "LP-1", "Least lamp", 1200, 5).await;
    let res = gql
        .query(
            "mutation { register(input: {email: \"lp@example.com\", password: \"correct horse 1\", name: \"Lp\"}) { accessToken } }",
            json!({}),
            None,
        )
        .await;
    let customer = res["data"]["register"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("signed up: {res}"))
        .to_string();
    let key = uuid::Uuid::now_v7().to_string();
    let placed = e2e::place_order(&gql, &customer, &product, 2, "tok_visa", &key).await;
    let order = placed["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("placed: {placed}"))
        .to_string();
    e2e::wait_for_status(&gql, &customer, &order, "PAID").await;

    // Each role owns its database only, and reaches no other.
    for role in SERVICES {
        let mut own = PgConnection::connect(&database_url(&prefix, role, role))
            .await
            .expect("a role reaches its own database");
        let (superuser, create_db, create_role): (bool, bool, bool) = sqlx::query_as(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&mut own)
        .await
        .expect("role");
        assert!(
            !superuser && !create_db && !create_role,
            "{role} is privileged"
        );
        for other in SERVICES.iter().filter(|o| **o != role) {
            let refused = PgConnection::connect(&database_url(&prefix, role, other)).await;
            let Err(sqlx::Error::Database(e)) = refused else {
                panic!("{role} connected to {other}'s database");
            };
            assert_eq!(e.code().as_deref(), Some("42501"), "{role} → {other}: {e}");
        }
    }

    // Only payments' broker user may announce a payment.
    for service in SERVICES {
        let outcome = announce_payment(&broker_users.url(service), &bus.topology.exchange()).await;
        if service == "payments" {
            outcome.expect("payments announces a payment");
        } else {
            assert!(
                outcome
                    .as_ref()
                    .is_err_and(events::topology::is_access_refused),
                "{service} announced a payment: {outcome:?}"
            );
        }
    }
    for process in processes.iter_mut() {
        process.kill().await;
    }
    broker_users.remove().await;
    bus.delete().await;
}
