//! Resolving N products costs the same number of SQL statements for N = 1, 10
//! and 100: products and their categories load through DataLoaders.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Request, Variables};
use products::app::Catalog;
use products::graphql::{build_schema, ProductsSchema};
use products::seed::{demo_catalogue, seed_demo};
use products::store::postgres::PgCatalogStore;
use serde_json::{json, Value};
use testkit::{fresh_database_url, QueryCounter};

const ENTITIES: &str = "query($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Product { sku category { name } } }
}";
const LIST: &str =
    "query($first: Int) { products(first: $first) { edges { node { sku category { name } } } } }";

async fn run(schema: &ProductsSchema, query: &str, variables: Value) -> Value {
    let res = schema
        .execute(Request::new(query).variables(Variables::from_json(variables)))
        .await;
    assert!(res.errors.is_empty(), "{:?}", res.errors);
    res.data.into_json().unwrap()
}

#[tokio::test]
async fn resolving_more_products_costs_no_more_queries() {
    let store = PgCatalogStore::connect(&fresh_database_url("products"), 2)
        .await
        .unwrap();
    seed_demo(&store).await.unwrap();
    // A generous batching window: on a loaded machine a debug build can take
    // milliseconds to enqueue 100 representations, and a batch cut short by the
    // clock would show up here as an extra statement. What is under test is that
    // one batch is one statement, whatever its size.
    let schema = build_schema(
        Catalog::new(Arc::new(store)),
        platform::config::Profile::Development,
        Duration::from_millis(50),
    );
    let ids: Vec<String> = demo_catalogue()
        .1
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    let representations = |n: usize| {
        json!({"representations": ids[..n]
            .iter()
            .map(|id| json!({"__typename": "Product", "id": id}))
            .collect::<Vec<_>>()})
    };

    // `QueryCounter` is a thread-local dispatcher. While it is the only one in the
    // process, tracing decides whether a callsite first hit on *another* thread
    // (another test's query) is interesting from that thread's (absent)
    // subscriber and caches "never", which would hide our statements too. A
    // second live dispatcher makes tracing ask all of them instead.
    let _second_dispatcher = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let (counter, _guard) = QueryCounter::install();
    // Warm the pool so opening connections is not counted.
    run(&schema, ENTITIES, representations(2)).await;
    run(&schema, LIST, json!({"first": 2})).await;

    let mut entity_counts = Vec::new();
    let mut list_counts = Vec::new();
    for n in [1, 10, 100] {
        counter.reset();
        let data = run(&schema, ENTITIES, representations(n)).await;
        let entities = data["_entities"].as_array().unwrap();
        assert_eq!(entities.len(), n);
        assert!(entities.iter().all(|e| e["category"]["name"].is_string()));
        entity_counts.push(counter.get());

        counter.reset();
        let data = run(&schema, LIST, json!({"first": n})).await;
        let edges = data["products"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), n);
        assert!(edges
            .iter()
            .all(|e| e["node"]["category"]["name"].is_string()));
        list_counts.push(counter.get());
    }
    assert_eq!(
        entity_counts,
        [2, 2, 2],
        "products + categories, whatever N"
    );
    assert_eq!(list_counts, [2, 2, 2], "page + categories, whatever N");
}
