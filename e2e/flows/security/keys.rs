//! Signing keys rotate without logging anyone out: the users service signs
//! with its new key and keeps publishing the previous one in its JWKS; the
//! other services follow that key set, fetching a key the first time a token
//! names it. A token signed by a key nobody published opens nothing.

use std::time::Duration;

use platform::auth::{Role, TokenSigner};
use serde_json::json;
use testkit::{new_test_keys, service_config, test_keys, GraphqlClient, TestKeys};
use uuid::Uuid;

fn admin_token(keys: &TestKeys) -> String {
    TokenSigner::from_pem(
        &keys.private_pem,
        &keys.public_pem,
        Duration::from_secs(900),
    )
    .expect("signer")
    .sign(Uuid::now_v7(), Role::Admin)
    .expect("token")
    .0
}

#[tokio::test]
async fn a_rotated_key_invalidates_no_valid_token_and_an_unknown_key_opens_nothing() {
    let (old, new, stranger) = (test_keys().clone(), new_test_keys(), new_test_keys());
    // Users after the rotation: signs with the new key, still publishes the old one.
    let users = users::startup::build(users::config::Config {
        service: platform::config::ServiceConfig {
            jwt_public_key_pem: Some(new.public_pem.clone()),
            ..service_config("keys_users")
        },
        jwt_private_key_pem: Some(new.private_pem.clone().into()),
        jwt_previous_public_keys_pem: Some(old.public_pem.clone()),
        ..Default::default()
    })
    .await
    .expect("users");
    let users_port = users.port();
    tokio::spawn(users.run(std::future::pending()));
    let jwks: serde_json::Value = reqwest::get(format!(
        "http://127.0.0.1:{users_port}/.well-known/jwks.json"
    ))
    .await
    .expect("jwks")
    .json()
    .await
    .expect("json");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2), "{jwks}");

    // Products as deployed before the rotation: only the old key in hand.
    let products = products::startup::build(products::config::Config {
        service: platform::config::ServiceConfig {
            jwt_public_key_pem: Some(old.public_pem.clone()),
            jwks_url: Some(format!(
                "http://127.0.0.1:{users_port}/.well-known/jwks.json"
            )),
            ..service_config("keys_products")
        },
        ..Default::default()
    })
    .await
    .expect("products");
    let gql = GraphqlClient::local(products.port());
    tokio::spawn(products.run(std::future::pending()));

    let create = |token: String, slug: &'static str| {
        let gql = gql.clone();
        async move {
            gql.query(
                "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { id } }",
                json!({"i": {"name": slug, "slug": slug}}),
                Some(&token),
            )
            .await
        }
    };
    let res = create(admin_token(&old), "before").await;
    assert!(
        res["data"]["createCategory"]["id"].is_string(),
        "an old token still works: {res}"
    );
    let res = create(admin_token(&new), "after").await;
    assert!(
        res["data"]["createCategory"]["id"].is_string(),
        "a new token works at once: {res}"
    );
    let res = create(admin_token(&stranger), "never").await;
    assert_eq!(
        testkit::first_error_code(&res).as_deref(),
        Some("UNAUTHENTICATED"),
        "{res}"
    );

    // The router verifies against the same key set: both keys pass, a
    // stranger's is refused at the edge.
    let unused = format!("http://127.0.0.1:{}/graphql", e2e::processes::free_port());
    let subgraphs = [
        format!("http://127.0.0.1:{users_port}/graphql"),
        gql.url.clone(),
        unused.clone(),
        unused,
    ];
    let jwks = format!("http://127.0.0.1:{users_port}/.well-known/jwks.json");
    let (_router, router_port) = e2e::spawn_router(&subgraphs, &jwks).await;
    let router = GraphqlClient::local(router_port);
    for (keys, slug) in [(&old, "router-old"), (&new, "router-new")] {
        let res = router
            .query(
                "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { id } }",
                json!({"i": {"name": slug, "slug": slug}}),
                Some(&admin_token(keys)),
            )
            .await;
        assert!(
            res["data"]["createCategory"]["id"].is_string(),
            "{slug}: {res}"
        );
    }
    let res = router
        .query(
            "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { id } }",
            json!({"i": {"name": "never", "slug": "router-never"}}),
            Some(&admin_token(&stranger)),
        )
        .await;
    assert_eq!(
        testkit::first_error_code(&res).as_deref(),
        Some("UNAUTHENTICATED"),
        "a stranger's key at the router: {res}"
    );
}
