//! Resolving N users with their addresses costs the same number of SQL
//! statements for N = 1, 10 and 100.

use async_graphql::Request;
use platform::auth::{Auth, Role, Viewer};
use serde_json::{json, Value};
use testkit::QueryCounter;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn users_with_addresses_cost_a_constant_number_of_queries() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..100 {
        let tokens = app
            .accounts
            .register(&format!("u{i}@example.com"), "correct horse 1", "U")
            .await
            .unwrap();
        ids.push(tokens.user.id);
    }
    let schema = users::graphql::build_schema_with(
        app.accounts.clone(),
        platform::config::Profile::Development,
        // Long enough that a busy machine (a load test beside) never splits a batch.
        std::time::Duration::from_millis(250),
    );
    let admin = Viewer {
        user_id: Uuid::now_v7(),
        role: Role::Admin,
    };
    let mut counts = Vec::new();
    for n in [1usize, 10, 100] {
        let reps: Vec<Value> = ids[..n]
            .iter()
            .map(|id| json!({"__typename": "User", "id": id}))
            .collect();
        let request = Request::new("query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id name email addresses { city } } } }")
            .variables(async_graphql::Variables::from_json(json!({ "reps": reps })))
            .data(Auth::User(admin));
        let (counter, _guard) = QueryCounter::install();
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        counts.push(counter.get());
    }
    assert!(
        counts.iter().all(|c| *c == counts[0]),
        "N = 1, 10, 100: {counts:?}"
    );
    assert!(counts[0] <= 2, "{counts:?}");
}
