//! The admin listing and the `User` entity.

use std::collections::HashSet;

use serde_json::{json, Value};
use testkit::first_error_code;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_admin_pages_through_users_without_gaps_or_repeats() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.register(&format!("user{i}@example.com")).await;
    }
    let admin = app.admin_token().await;
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let res = app
            .gql
            .query(
                "query($after: String) { users(first: 3, after: $after) { edges { node { email } } pageInfo { hasNextPage endCursor } } }",
                json!({"after": after}),
                Some(&admin),
            )
            .await;
        let conn = &res["data"]["users"];
        for e in conn["edges"].as_array().unwrap_or_else(|| panic!("{res}")) {
            seen.push(e["node"]["email"].as_str().unwrap().to_string());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 8, "7 customers and the admin: {seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 8);
    let bad = app
        .gql
        .query(
            "{ users(first: 0) { edges { node { id } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        first_error_code(&bad).as_deref(),
        Some("BAD_USER_INPUT"),
        "{bad}"
    );
}

#[tokio::test]
async fn a_customer_cannot_list_users() {
    let app = spawn_app().await;
    let (_, token, _) = app.register("ada@example.com").await;
    let res = app
        .gql
        .query(
            "{ users { edges { node { id } } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("FORBIDDEN"),
        "{res}"
    );
}

#[tokio::test]
async fn users_resolve_as_entities_only_for_themselves_and_admins() {
    let app = spawn_app().await;
    let (ada, ada_token, _) = app.register("ada@example.com").await;
    let (_, bob_token, _) = app.register("bob@example.com").await;
    let q = "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id name email } } }";
    let reps = json!({"reps": [{"__typename": "User", "id": ada}]});
    let res = app.gql.query(q, reps.clone(), Some(&ada_token)).await;
    assert_eq!(
        res["data"]["_entities"][0]["email"], "ada@example.com",
        "{res}"
    );
    let res = app.gql.query(q, reps, Some(&bob_token)).await;
    assert!(
        res["data"]["_entities"][0].is_null() && res["errors"].is_null(),
        "another customer learns nothing, not even that the account exists: {res}"
    );
    let res = app
        .gql
        .query(
            "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { name } } }",
            json!({"reps": [{"__typename": "User", "id": ada}]}),
            None,
        )
        .await;
    assert!(
        res["data"]["_entities"][0].is_null(),
        "nor does an anonymous caller: {res}"
    );
}

#[tokio::test]
async fn the_bootstrap_admin_never_promotes_an_existing_account() {
    let app = spawn_app().await;
    app.register("ops@example.com").await;
    let mut config = crate::helpers::test_config();
    config.service.database_url = app.database_url.clone().into();
    config.bootstrap_admin_email = Some("ops@example.com".into());
    config.bootstrap_admin_password = Some("operator password 1".into());
    let refused = users::startup::build(config).await;
    let why = refused.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(
        why.contains("not promoted"),
        "the start-up is refused: {why}"
    );
    // The squatter is still a customer, and the configured password does not open it.
    let res = app
        .gql
        .query(
            crate::helpers::LOGIN,
            json!({"email": "ops@example.com", "password": "correct horse 1"}),
            None,
        )
        .await;
    assert_eq!(res["data"]["login"]["user"]["role"], "CUSTOMER", "{res}");
}
