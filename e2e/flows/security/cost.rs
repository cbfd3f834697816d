//! Query cost: an expensive legal query is refused by the router before any
//! subgraph is called (naming the limit), and by the subgraph itself.

use e2e::Shop;
use serde_json::{json, Value};

/// 100 products, each with its category's 100 products, each with its
/// category's 100 products: 1,000,000 nodes asked for in a few lines.
const EXPENSIVE: &str = "{ products(first: 100) { edges { node { category { products(first: 100) {
  edges { node { category { products(first: 100) { edges { node { id name description } } } } } } } } } } } }";

/// The same three times over under aliases (the depth limit stops a fourth
/// level): 3,000,000 nodes.
fn more_expensive() -> String {
    let nested = EXPENSIVE.trim_start_matches('{').trim_end_matches('}');
    format!("{{ a: {nested} b: {nested} c: {nested} }}")
}

#[tokio::test]
async fn an_expensive_query_is_refused_by_the_router_before_any_subgraph_and_by_the_subgraph() {
    let shop = Shop::start().await;
    shop.products.traffic.reset();
    let res = reqwest::Client::new()
        .post(format!("{}/graphql", shop.router_url))
        .json(&json!({"query": more_expensive()}))
        .send()
        .await
        .expect("send");
    let limit = res
        .headers()
        .get("x-cost-max")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        testkit::first_error_code(&body).as_deref(),
        Some("COST_ESTIMATED_TOO_EXPENSIVE"),
        "{body}"
    );
    assert_eq!(limit.as_deref(), Some("100000"), "the limit is named");
    assert_eq!(
        shop.products.traffic.counts(),
        (0, 0),
        "no subgraph was called"
    );

    // The subgraph bounds cost with the real page sizes: what the router's
    // estimate lets through, and callers inside the network, stop there.
    let direct = testkit::GraphqlClient::local(shop.products.port)
        .query(EXPENSIVE, json!({}), None)
        .await;
    let message = direct["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("too complex"), "{direct}");

    // An ordinary storefront page still passes.
    let page = shop
        .query(
            "{ products(first: 100) { edges { node { name sku price { amount currency }
               availableQuantity category { name } } } pageInfo { hasNextPage endCursor } } }",
            json!({}),
            None,
        )
        .await;
    assert!(page["errors"].is_null(), "{page}");
    shop.stop().await;
}

/// The router's estimate of `query` (the `X-Cost-Estimated` header).
async fn estimate(shop: &Shop, query: &str) -> u64 {
    let res = reqwest::Client::new()
        .post(format!("{}/graphql", shop.router_url))
        .json(&json!({"query": query}))
        .send()
        .await
        .expect("send");
    res.headers()
        .get("x-cost-estimated")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no estimate for {query}"))
}

#[tokio::test]
async fn the_estimate_counts_the_page_size_a_query_asks_for() {
    let shop = Shop::start().await;
    let page = |first: u32| {
        format!(
            "{{ products(first: {first}) {{ edges {{ node {{ name category {{ name }} }} }} }} }}"
        )
    };
    let (five, fifty) = (
        estimate(&shop, &page(5)).await,
        estimate(&shop, &page(50)).await,
    );
    assert!(
        fifty >= 9 * five,
        "50 items cost about ten times 5: {five} vs {fifty}"
    );
    let default = estimate(
        &shop,
        "{ products { edges { node { name category { name } } } } }",
    )
    .await;
    assert_eq!(
        default,
        estimate(&shop, &page(20)).await,
        "no `first` counts the default page"
    );
    shop.stop().await;
}
