//! Resolving N orders' payments with their refunds costs the same number of SQL
//! statements for N = 1, 10 and 100: the DataLoaders batch them.

use async_graphql::Request;
use platform::auth::{Auth, Role, Viewer};
use serde_json::json;
use testkit::QueryCounter;
use uuid::Uuid;

use crate::helpers::{charge_request, spawn_app};

#[tokio::test]
async fn payments_of_n_orders_cost_a_constant_number_of_queries() {
    let app = spawn_app().await;
    let mut orders = Vec::new();
    for _ in 0..100 {
        let p = app
            .payments
            .charge(&charge_request(Uuid::now_v7(), 1000, "tok_visa"), None)
            .await
            .unwrap();
        orders.push(p.order_id);
    }
    let admin = Viewer {
        user_id: Uuid::now_v7(),
        role: Role::Admin,
    };
    for p in app
        .payments
        .store()
        .payments_by_order_ids(&orders[..5])
        .await
        .unwrap()
    {
        app.payments
            .refund(&admin, &p.id.to_string(), Some(100), "partial")
            .await
            .unwrap();
    }
    let schema = payments::graphql::build_schema_with(
        app.payments.clone(),
        platform::config::Profile::Development,
        // Long enough that a busy machine (a load test beside) never splits a batch.
        std::time::Duration::from_millis(250),
    );
    let query = "query($reps: [_Any!]!) { _entities(representations: $reps) {
        ... on Order { id payment { status refunds { amount { amount } } } } } }";

    let mut counts = Vec::new();
    for n in [1usize, 10, 100] {
        let reps: Vec<_> = orders[..n]
            .iter()
            .map(|id| json!({"__typename": "Order", "id": id}))
            .collect();
        let request = Request::new(query)
            .variables(async_graphql::Variables::from_json(json!({ "reps": reps })))
            .data(Auth::User(admin));
        let (counter, _guard) = QueryCounter::install();
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().unwrap();
        assert_eq!(data["_entities"].as_array().unwrap().len(), n);
        counts.push(counter.get());
    }
    assert!(
        counts.iter().all(|c| *c == counts[0]),
        "statements per N = 1, 10, 100: {counts:?}"
    );
    assert!(
        counts[0] <= 2,
        "one query for payments, one for refunds: {counts:?}"
    );
}
