//! Federation: `Order` as an entity and `User.orders` with pagination.

use serde_json::json;
use testkit::first_error_code;
use uuid::Uuid;

use crate::helpers::{order_id, place, spawn_app};

#[tokio::test]
async fn a_users_orders_page_newest_first_through_entities() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 100);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(order_id(
            &place(&app, &app.ada, &[(lamp, 1)], &format!("k{i}")).await,
        ));
    }
    ids.reverse();
    let q = "query($reps: [_Any!]!, $after: String) { _entities(representations: $reps) {
        ... on User { orders(first: 2, after: $after) { edges { node { id items { quantity } } } pageInfo { hasNextPage endCursor } } } } }";
    let reps = json!([{"__typename": "User", "id": app.ada.id}]);
    let mut seen = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let res = app
            .gql
            .query(
                q,
                json!({"reps": reps, "after": after}),
                Some(&app.ada.token),
            )
            .await;
        let conn = &res["data"]["_entities"][0]["orders"];
        for e in conn["edges"].as_array().unwrap_or_else(|| panic!("{res}")) {
            seen.push(e["node"]["id"].as_str().unwrap().parse::<Uuid>().unwrap());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ids);
    let res = app
        .gql
        .query(
            q,
            json!({"reps": reps}),
            Some(&crate::helpers::user(platform::auth::Role::Customer).token),
        )
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("FORBIDDEN"),
        "{res}"
    );
}

#[tokio::test]
async fn an_order_resolves_as_an_entity_for_its_customer() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 100);
    let id = order_id(&place(&app, &app.ada, &[(lamp, 3)], "k").await);
    let q = "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Order { id status total { amount } items { product { id } } } } }";
    let res = app
        .gql
        .query(
            q,
            json!({"reps": [{"__typename": "Order", "id": id}]}),
            Some(&app.ada.token),
        )
        .await;
    assert_eq!(
        res["data"]["_entities"][0]["total"]["amount"], 7500,
        "{res}"
    );
    assert_eq!(
        res["data"]["_entities"][0]["items"][0]["product"]["id"],
        lamp.to_string()
    );
}
