//! Signing up, signing in, profiles and addresses.

use serde_json::json;
use testkit::first_error_code;

use crate::helpers::{spawn_app, LOGIN, REGISTER};

#[tokio::test]
async fn a_customer_registers_logs_in_and_sees_themself() {
    let app = spawn_app().await;
    let (id, _, _) = app.register("Ada@Example.com").await;
    let res = app
        .gql
        .query(
            LOGIN,
            json!({"email": "ada@example.COM", "password": "correct horse 1"}),
            None,
        )
        .await;
    let token = res["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_string();
    let me = app
        .gql
        .query(
            "{ me { id email name role addresses { id } createdAt } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(me["data"]["me"]["id"], id.as_str(), "{me}");
    assert_eq!(me["data"]["me"]["email"], "ada@example.com");
    assert_eq!(me["data"]["me"]["role"], "CUSTOMER");
    let anonymous = app.gql.query("{ me { id } }", json!({}), None).await;
    assert_eq!(
        first_error_code(&anonymous).as_deref(),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );
    let forged = app
        .gql
        .query("{ me { id } }", json!({}), Some("not.a.token"))
        .await;
    assert_eq!(
        first_error_code(&forged).as_deref(),
        Some("UNAUTHENTICATED"),
        "{forged}"
    );
}

#[tokio::test]
async fn an_email_can_register_once_whatever_its_case() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let res = app
        .gql
        .query(
            REGISTER,
            json!({"email": "ADA@example.com", "password": "correct horse 1", "name": "Ada"}),
            None,
        )
        .await;
    assert_eq!(first_error_code(&res).as_deref(), Some("CONFLICT"), "{res}");
}

#[tokio::test]
async fn weak_passwords_bad_emails_and_empty_names_are_refused() {
    let app = spawn_app().await;
    for (email, password, name) in [
        ("ada@example.com", "short1", "Ada"),
        ("ada@example.com", "nodigitsatall", "Ada"),
        ("not-an-email", "correct horse 1", "Ada"),
        ("ada@example.com", "correct horse 1", "   "),
    ] {
        let res = app
            .gql
            .query(
                REGISTER,
                json!({"email": email, "password": password, "name": name}),
                None,
            )
            .await;
        assert_eq!(
            first_error_code(&res).as_deref(),
            Some("BAD_USER_INPUT"),
            "{email} {password}: {res}"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_look_the_same() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let wrong = app
        .gql
        .query(
            LOGIN,
            json!({"email": "ada@example.com", "password": "wrong horse 1"}),
            None,
        )
        .await;
    let unknown = app
        .gql
        .query(
            LOGIN,
            json!({"email": "bob@example.com", "password": "correct horse 1"}),
            None,
        )
        .await;
    assert_eq!(first_error_code(&wrong).as_deref(), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
}

#[tokio::test]
async fn a_customer_keeps_a_profile_and_addresses_others_cannot_touch() {
    let app = spawn_app().await;
    let (_, ada, _) = app.register("ada@example.com").await;
    let (_, bob, _) = app.register("bob@example.com").await;
    let res = app
        .gql
        .query(
            "mutation { updateProfile(input: {name: \"Ada L.\"}) { name } }",
            json!({}),
            Some(&ada),
        )
        .await;
    assert_eq!(res["data"]["updateProfile"]["name"], "Ada L.", "{res}");
    let add = "mutation($c: String!) { addAddress(input: {line1: \"1 Loop St\", city: \"London\", postalCode: \"N1\", country: $c}) { id country } }";
    let res = app.gql.query(add, json!({"c": "gb"}), Some(&ada)).await;
    assert_eq!(res["data"]["addAddress"]["country"], "GB", "{res}");
    let address = res["data"]["addAddress"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = app
        .gql
        .query(add, json!({"c": "United Kingdom"}), Some(&ada))
        .await;
    assert_eq!(
        first_error_code(&bad).as_deref(),
        Some("BAD_USER_INPUT"),
        "{bad}"
    );

    let remove = "mutation($id: ID!) { removeAddress(id: $id) }";
    let res = app
        .gql
        .query(remove, json!({"id": address}), Some(&bob))
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("NOT_FOUND"),
        "bob cannot remove ada's address: {res}"
    );
    let res = app
        .gql
        .query("{ me { addresses { id } } }", json!({}), Some(&ada))
        .await;
    assert_eq!(
        res["data"]["me"]["addresses"].as_array().map(Vec::len),
        Some(1),
        "{res}"
    );
    let res = app
        .gql
        .query(remove, json!({"id": address}), Some(&ada))
        .await;
    assert_eq!(res["data"]["removeAddress"], true, "{res}");
}

#[tokio::test]
async fn registering_announces_user_registered_through_the_outbox() {
    let bus = testkit::bus::TestBus::new().await;
    let mut config = crate::helpers::test_config();
    config.service.event_workers = true;
    config.service.events_prefix = bus.prefix();
    let app = crate::helpers::spawn_app_with(config).await;
    let (id, _, _) = app.register("ada@example.com").await;
    let pool = app.accounts.store().pool();
    let envelope: serde_json::Value =
        sqlx::query_scalar("SELECT envelope FROM outbox WHERE routing_key = 'user.registered'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(envelope["payload"]["user_id"], id.as_str());
    let outbox = events::outbox::PgOutbox::new(pool.clone());
    for _ in 0..100 {
        if outbox.pending().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the relay never published user.registered");
}

#[tokio::test]
async fn the_address_cap_holds_under_concurrent_requests() {
    let app = spawn_app().await;
    let (_, token, _) = app.register("many@example.com").await;
    let add = "mutation { addAddress(input: {line1: \"1 Loop St\", city: \"London\", postalCode: \"N1\", country: \"GB\"}) { id } }";
    let results = futures::future::join_all(
        (0..40).map(|_| app.gql.query(add, serde_json::json!({}), Some(&token))),
    )
    .await;
    let added = results
        .iter()
        .filter(|r| r["data"]["addAddress"]["id"].is_string())
        .count();
    assert_eq!(added, 20, "exactly the cap, whatever the interleaving");
    let me = app
        .gql
        .query(
            "{ me { addresses { id } } }",
            serde_json::json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        me["data"]["me"]["addresses"].as_array().map(Vec::len),
        Some(20)
    );
}

#[tokio::test]
async fn sign_in_payloads_may_select_the_private_fields_of_the_signed_in_user() {
    let app = spawn_app().await;
    let res = app
        .gql
        .query(
            "mutation { register(input: {email: \"own@example.com\", password: \"correct horse 1\", name: \"Own\"}) {
               user { email addresses { city } } } }",
            json!({}),
            None,
        )
        .await;
    assert!(res["errors"].is_null(), "{res}");
    assert_eq!(res["data"]["register"]["user"]["email"], "own@example.com");
    let res = app
        .gql
        .query(
            "mutation { login(email: \"own@example.com\", password: \"correct horse 1\") { user { email } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        res["data"]["login"]["user"]["email"], "own@example.com",
        "{res}"
    );
    // Anyone else's private fields stay private.
    let (bob, _, _) = app.register("bob@example.com").await;
    let admin = app.admin_token().await;
    let res = app
        .gql
        .query(
            "query($id: ID!) { user(id: $id) { email } }",
            json!({"id": bob}),
            None,
        )
        .await;
    assert!(
        res["data"]["user"].is_null() || res["errors"].is_array(),
        "{res}"
    );
    let res = app
        .gql
        .query(
            "query($id: ID!) { user(id: $id) { email } }",
            json!({"id": bob}),
            Some(&admin),
        )
        .await;
    assert_eq!(res["data"]["user"]["email"], "bob@example.com", "{res}");
}
