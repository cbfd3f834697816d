//! Resolving N orders with their items and history, or a user's N orders,
//! costs the same number of SQL statements for N = 1, 10 and 100.

use async_graphql::Request;
use platform::auth::Auth;
use serde_json::{json, Value};
use testkit::QueryCounter;
use uuid::Uuid;

use crate::helpers::{order_id, place, spawn_app_with, test_config};

#[tokio::test]
async fn orders_with_items_and_history_cost_a_constant_number_of_queries() {
    // A hundred unpaid orders of one customer: far above the usual cap.
    let mut config = test_config();
    config.max_open_orders = 1000;
    let app = spawn_app_with(config).await;
    let lamp = app.catalog.add("lamp", 2500, 1000);
    let rug = app.catalog.add("rug", 900, 1000);
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(order_id(
            &place(&app, &app.ada, &[(lamp, 1), (rug, 2)], &format!("k{i}")).await,
        ));
    }
    let schema = orders::graphql::build_schema_with(
        app.orders.clone(),
        platform::config::Profile::Development,
        // Long enough that a busy machine (a load test beside) never splits a batch.
        std::time::Duration::from_millis(250),
    );
    let entities = "query($reps: [_Any!]!) { _entities(representations: $reps) {
        ... on Order { id items { quantity product { id } } statusHistory { status } } } }";
    let users = "query($reps: [_Any!]!, $n: Int) { _entities(representations: $reps) {
        ... on User { orders(first: $n) { edges { node { items { quantity } } } } } } }";

    let run = |query: &'static str, vars: Value| {
        let schema = schema.clone();
        let viewer = app.ada.viewer;
        async move {
            let request = Request::new(query)
                .variables(async_graphql::Variables::from_json(vars))
                .data(Auth::User(viewer));
            let (counter, _guard) = QueryCounter::install();
            let response = schema.execute(request).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            counter.get()
        }
    };
    let mut by_entities = Vec::new();
    let mut by_user = Vec::new();
    for n in [1usize, 10, 100] {
        let reps: Vec<Value> = ids[..n]
            .iter()
            .map(|id: &Uuid| json!({"__typename": "Order", "id": id}))
            .collect();
        by_entities.push(run(entities, json!({ "reps": reps })).await);
        by_user.push(
            run(
                users,
                json!({"reps": [{"__typename": "User", "id": app.ada.id}], "n": n}),
            )
            .await,
        );
    }
    assert!(
        by_entities.iter().all(|c| *c == by_entities[0]),
        "entities, N = 1, 10, 100: {by_entities:?}"
    );
    assert!(
        by_user.iter().all(|c| *c == by_user[0]),
        "user orders, N = 1, 10, 100: {by_user:?}"
    );
    assert!(
        by_entities[0] <= 3 && by_user[0] <= 2,
        "{by_entities:?} {by_user:?}"
    );
}
