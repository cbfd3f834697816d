//! Federation: `Order.payment` and `Payment` resolved as entities, with ownership.

use platform::auth::Role;
use serde_json::json;
use testkit::first_error_code;
use uuid::Uuid;

use crate::helpers::{charge_request, spawn_app, user};

const ORDER_PAYMENT: &str = "query($reps: [_Any!]!) {
  _entities(representations: $reps) { ... on Order { id payment { status amount { amount currency } card { brand last4 } } } }
}";

#[tokio::test]
async fn an_order_shows_its_payment_to_its_customer_and_admins_only() {
    let app = spawn_app().await;
    let ada = user(Role::Customer);
    let p = app
        .payments
        .charge(&charge_request(ada.id, 2500, "tok_amex"), None)
        .await
        .unwrap();
    let reps = json!({"reps": [{"__typename": "Order", "id": p.order_id}]});

    let res = app
        .gql
        .query(ORDER_PAYMENT, reps.clone(), Some(&ada.token))
        .await;
    let payment = &res["data"]["_entities"][0]["payment"];
    assert_eq!(payment["status"], "SUCCEEDED", "{res}");
    assert_eq!(payment["card"]["brand"], "AMEX");
    assert_eq!(
        payment["amount"],
        json!({"amount": 2500, "currency": "EUR"})
    );

    let res = app
        .gql
        .query(ORDER_PAYMENT, reps.clone(), Some(&app.admin.token))
        .await;
    assert_eq!(
        res["data"]["_entities"][0]["payment"]["status"], "SUCCEEDED",
        "{res}"
    );

    let eve = user(Role::Customer);
    let res = app
        .gql
        .query(ORDER_PAYMENT, reps.clone(), Some(&eve.token))
        .await;
    // To another customer the order reads like one without a payment.
    assert!(res["errors"].is_null(), "{res}");
    assert!(res["data"]["_entities"][0]["payment"].is_null(), "{res}");
    let res = app.gql.query(ORDER_PAYMENT, reps, None).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("UNAUTHENTICATED"),
        "{res}"
    );
}

#[tokio::test]
async fn an_order_without_a_payment_has_none() {
    let app = spawn_app().await;
    let ada = user(Role::Customer);
    let reps = json!({"reps": [{"__typename": "Order", "id": Uuid::now_v7()}]});
    let res = app.gql.query(ORDER_PAYMENT, reps, Some(&ada.token)).await;
    assert!(res["errors"].is_null(), "{res}");
    assert!(res["data"]["_entities"][0]["payment"].is_null());
}

#[tokio::test]
async fn a_payment_resolves_by_id_as_an_entity_and_by_query() {
    let app = spawn_app().await;
    let ada = user(Role::Customer);
    let p = app
        .payments
        .charge(&charge_request(ada.id, 700, "tok_insufficientFunds"), None)
        .await
        .unwrap();
    let res = app
        .gql
        .query(
            "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Payment { id status failureReason } } }",
            json!({"reps": [{"__typename": "Payment", "id": p.id}]}),
            Some(&ada.token),
        )
        .await;
    assert_eq!(
        res["data"]["_entities"][0]["failureReason"], "insufficient_funds",
        "{res}"
    );
    let res = app
        .gql
        .query(
            "query($id: ID!) { payment(id: $id) { status } }",
            json!({"id": p.id}),
            Some(&ada.token),
        )
        .await;
    assert_eq!(res["data"]["payment"]["status"], "FAILED", "{res}");
    let res = app
        .gql
        .query(
            "query($id: ID!) { payment(id: $id) { status } }",
            json!({"id": "nope"}),
            Some(&ada.token),
        )
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("BAD_USER_INPUT"),
        "{res}"
    );
}
