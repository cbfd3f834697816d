//! Password guessing is throttled in the service itself, in PostgreSQL (so the
//! limits hold across replicas): per account and per client address (the last
//! `X-Forwarded-For` hop, set by the edge), failures slow down and then lock
//! for a window; sign-ups per address are bounded; one request carries at
//! most one sign-in.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, test_config, TestApp, LOGIN, REGISTER};

async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .header("x-forwarded-for", format!("203.0.113.9, {address}"))
        .json(&json!({"query": LOGIN, "variables": {"email": email, "password": password}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn code(res: &Value) -> Option<String> {
    testkit::first_error_code(res)
}

#[tokio::test]
async fn a_hundred_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused_too() {
    let app = spawn_app_with(test_config()).await;
    app.register("victim@example.com").await;
    app.register("bystander@example.com").await;
    for i in 0..100 {
        // Each guess from another address: only the account's own limit applies.
        let address = format!("198.51.{}.{}", i / 200, i % 200 + 1);
        let res = login_from(&app, &address, "victim@example.com", &format!("guess {i}")).await;
        assert_eq!(code(&res).as_deref(), Some("UNAUTHENTICATED"), "{res}");
        assert_eq!(res["errors"][0]["message"], "invalid email or password");
    }
    // Locked: the right password gets the same answer as a wrong one.
    let res = login_from(&app, "192.0.2.1", "victim@example.com", "correct horse 1").await;
    assert_eq!(code(&res).as_deref(), Some("UNAUTHENTICATED"), "{res}");
    assert_eq!(res["errors"][0]["message"], "invalid email or password");
    // Another account is not affected.
    let res = login_from(
        &app,
        "192.0.2.1",
        "bystander@example.com",
        "correct horse 1",
    )
    .await;
    assert!(res["data"]["login"]["accessToken"].is_string(), "{res}");
}

#[tokio::test]
async fn sign_ins_spread_over_many_accounts_from_one_address_lock_that_address() {
    let app = spawn_app_with(test_config()).await;
    app.register("real@example.com").await;
    for i in 0..100 {
        let res = login_from(
            &app,
            "192.0.2.66",
            &format!("user{i}@example.com"),
            "nope 12345",
        )
        .await;
        assert_eq!(code(&res).as_deref(), Some("UNAUTHENTICATED"), "{res}");
    }
    let res = login_from(&app, "192.0.2.66", "real@example.com", "correct horse 1").await;
    assert_eq!(
        code(&res).as_deref(),
        Some("UNAUTHENTICATED"),
        "the address is locked: {res}"
    );
    let res = login_from(&app, "192.0.2.67", "real@example.com", "correct horse 1").await;
    assert!(res["data"]["login"]["accessToken"].is_string(), "{res}");
}

#[tokio::test]
async fn sign_ups_from_one_address_are_bounded() {
    let mut config = test_config();
    config.signups_per_address = 5;
    let app = spawn_app_with(config).await;
    let sign_up = |address: &'static str, i: usize| {
        let url = format!("{}/graphql", app.base_url);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("x-forwarded-for", address)
                .json(&json!({"query": REGISTER, "variables": {
                    "email": format!("new{i}-{address}@example.com"),
                    "password": "correct horse 1", "name": "New"}}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    for i in 0..5 {
        let res = sign_up("192.0.2.10", i).await;
        assert!(res["data"]["register"]["accessToken"].is_string(), "{res}");
    }
    let res = sign_up("192.0.2.10", 5).await;
    assert_eq!(code(&res).as_deref(), Some("RATE_LIMITED"), "{res}");
    let res = sign_up("192.0.2.11", 6).await;
    assert!(res["data"]["register"]["accessToken"].is_string(), "{res}");
    // REST answers 429 with the same code.
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/users", app.base_url))
        .header("x-forwarded-for", "192.0.2.10")
        .json(&json!({"email": "rest@example.com", "password": "correct horse 1", "name": "R"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn one_request_carries_at_most_one_sign_in() {
    let app = spawn_app_with(test_config()).await;
    app.register("ada@example.com").await;
    let guesses: Vec<String> = (0..31)
        .map(|i| format!("g{i}: login(email: \"ada@example.com\", password: \"guess {i}\") {{ accessToken }}"))
        .collect();
    for query in [
        format!("mutation {{ {} }}", guesses.join(" ")),
        "mutation { login(email: \"a@b.co\", password: \"x\") { accessToken } register(input: {email: \"c@d.co\", password: \"correct horse 1\", name: \"C\"}) { accessToken } }".to_string(),
        "mutation { ...F ...F } fragment F on Mutation { login(email: \"a@b.co\", password: \"x\") { accessToken } }".to_string(),
        // However deep the inline fragments go.
        format!(
            "mutation {{ {} a: login(email: \"a@b.co\", password: \"x\") {{ accessToken }} b: login(email: \"a@b.co\", password: \"y\") {{ accessToken }} {} }}",
            "... on Mutation { ".repeat(10),
            "}".repeat(10)
        ),
    ] {
        let res = app.gql.query(&query, json!({}), None).await;
        assert_eq!(code(&res).as_deref(), Some("BAD_USER_INPUT"), "{res}");
        assert!(res["data"].is_null(), "{res}");
    }
    // One is fine.
    let res = login_from(&app, "192.0.2.3", "ada@example.com", "correct horse 1").await;
    assert!(res["data"]["login"]["accessToken"].is_string(), "{res}");
}

#[tokio::test]
async fn attempts_that_count_for_nothing_any_more_are_pruned_and_live_locks_kept() {
    let app = spawn_app_with(test_config()).await;
    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    sqlx::query(
        "INSERT INTO auth_throttle (scope, key, failures, window_started_at, locked_until) VALUES
           ('login-account', 'old@example.com', 9, now() - interval '3 hours', NULL),
           ('login-account', 'lock-over@example.com', 12, now() - interval '3 hours', now() - interval '1 hour'),
           ('login-address', '192.0.2.9', 60, now() - interval '3 hours', now() + interval '10 minutes'),
           ('login-account', 'recent@example.com', 2, now() - interval '5 minutes', NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let memory = users::domain::throttle::Scope::longest_memory();
    assert_eq!(memory, std::time::Duration::from_secs(60 * 60));
    let pruned = users::store::prune_attempts(&pool, memory).await.unwrap();
    assert_eq!(pruned, 2, "the old row and the one whose lock ran out");
    let left: Vec<String> = sqlx::query_scalar("SELECT key FROM auth_throttle ORDER BY key")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, ["192.0.2.9", "recent@example.com"]);
}
