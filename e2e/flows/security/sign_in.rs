//! Password guessing through the router: slowed, then locked, per account and
//! per client address (the edge's `X-Forwarded-For`); one request carries one
//! sign-in; a bad token never gets past the router.

use std::time::{Duration, Instant};

use e2e::{Shop, ShopOptions};
use platform::auth::{Role, TokenSigner};
use serde_json::{json, Value};
use testkit::{first_error_code, new_test_keys, test_keys};
use uuid::Uuid;

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

/// The slowing step the shop runs with here: long enough to measure, short
/// enough for 200 guesses.
const STEP: Duration = Duration::from_millis(10);

async fn login_from(shop: &Shop, address: &str, email: &str, password: &str) -> (Value, Duration) {
    let started = Instant::now();
    let res = reqwest::Client::new()
        .post(format!("{}/graphql", shop.router_url))
        .header("x-forwarded-for", address)
        .json(&json!({"query": LOGIN, "variables": {"e": email, "p": password}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    (res, started.elapsed())
}

fn refused_like_a_wrong_password(res: &Value) {
    assert_eq!(
        first_error_code(res).as_deref(),
        Some("UNAUTHENTICATED"),
        "{res}"
    );
    assert!(
        res["data"].is_null() || res["data"]["login"].is_null(),
        "{res}"
    );
}

#[tokio::test]
async fn a_hundred_guesses_at_one_account_or_from_one_address_are_slowed_then_locked() {
    let shop = Shop::start_with(ShopOptions {
        throttle_step_ms: STEP.as_millis() as u64,
        ..Default::default()
    })
    .await;
    shop.customer("victim@example.com").await;
    shop.customer("real@example.com").await;

    // One account, guessed at from ever new addresses.
    let mut slowest = Duration::ZERO;
    for i in 0..100 {
        let address = format!("198.51.100.{}", i + 1);
        let (res, took) =
            login_from(&shop, &address, "victim@example.com", &format!("guess {i}")).await;
        refused_like_a_wrong_password(&res);
        if i >= 90 {
            slowest = slowest.max(took);
        }
    }
    // Past the free attempts every answer waits up to eight steps.
    assert!(slowest >= STEP * 8, "guesses were not slowed: {slowest:?}");
    // Locked: the right password gets the wrong password's answer.
    let (res, _) = login_from(&shop, "192.0.2.1", "victim@example.com", "correct horse 1").await;
    refused_like_a_wrong_password(&res);

    // One address, spreading its guesses over many accounts.
    for i in 0..100 {
        let (res, _) = login_from(
            &shop,
            "192.0.2.66",
            &format!("user{i}@example.com"),
            "nope 12345",
        )
        .await;
        refused_like_a_wrong_password(&res);
    }
    let (res, _) = login_from(&shop, "192.0.2.66", "real@example.com", "correct horse 1").await;
    refused_like_a_wrong_password(&res);
    // The same account from another address is not affected.
    let (res, _) = login_from(&shop, "192.0.2.67", "real@example.com", "correct horse 1").await;
    assert!(res["data"]["login"]["accessToken"].is_string(), "{res}");
    shop.stop().await;
}

#[tokio::test]
async fn a_request_with_two_sign_ins_is_refused() {
    let shop = Shop::start().await;
    shop.customer("ada@example.com").await;
    let res = shop
        .query(
            "mutation { a: login(email: \"ada@example.com\", password: \"guess 1\") { accessToken }
                        b: login(email: \"ada@example.com\", password: \"guess 2\") { accessToken } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("BAD_USER_INPUT"),
        "{res}"
    );
    assert!(res["data"].is_null(), "{res}");
    shop.stop().await;
}

fn signed_by(keys: &testkit::TestKeys, ttl: Duration) -> String {
    TokenSigner::from_pem(&keys.private_pem, &keys.public_pem, ttl)
        .expect("signer")
        .sign(Uuid::now_v7(), Role::Admin)
        .expect("token")
        .0
}

#[tokio::test]
async fn a_forged_or_expired_token_is_refused_at_the_router_before_any_subgraph() {
    let shop = Shop::start().await;
    let forged = signed_by(&new_test_keys(), Duration::from_secs(900));
    // A token of the right key that expired a minute ago (past any leeway).
    let expired = {
        let keys = test_keys();
        let now = chrono::Utc::now().timestamp();
        let claims = platform::auth::Claims {
            sub: Uuid::now_v7(),
            role: Role::Admin,
            iss: platform::auth::ISSUER.into(),
            aud: platform::auth::AUDIENCE.into(),
            iat: now - 1000,
            exp: now - 120,
            jti: Uuid::now_v7(),
        };
        let good = signed_by(keys, Duration::from_secs(900));
        let header = jsonwebtoken::decode_header(&good).expect("header");
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).expect("key"),
        )
        .expect("token")
    };
    for s in [&shop.users, &shop.products, &shop.orders, &shop.payments] {
        s.traffic.reset();
    }
    for (what, token) in [("forged", &forged), ("expired", &expired)] {
        let res = reqwest::Client::new()
            .post(format!("{}/graphql", shop.router_url))
            .bearer_auth(token)
            .json(&json!({"query": "{ products(first: 1) { edges { node { id } } } }"}))
            .send()
            .await
            .expect("send");
        let status = res.status().as_u16();
        let body: Value = res.json().await.expect("json");
        assert_eq!(status, 401, "a {what} token: {body}");
        assert_eq!(
            first_error_code(&body).as_deref(),
            Some("UNAUTHENTICATED"),
            "a {what} token: {body}"
        );
        assert!(body["data"].is_null(), "a {what} token: {body}");
    }
    for s in [&shop.users, &shop.products, &shop.orders, &shop.payments] {
        assert_eq!(s.traffic.counts(), (0, 0), "no subgraph saw a bad token");
    }
    // A good token and no token both pass.
    let res = shop
        .query(
            "{ products(first: 1) { edges { node { id } } } }",
            json!({}),
            Some(&shop.admin_token()),
        )
        .await;
    assert!(res["errors"].is_null(), "{res}");
    let res = shop
        .query(
            "{ products(first: 1) { edges { node { id } } } }",
            json!({}),
            None,
        )
        .await;
    assert!(res["errors"].is_null(), "{res}");
    shop.stop().await;
}
