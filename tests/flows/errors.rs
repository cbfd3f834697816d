//! Errors through the router: codes and paths from subgraphs, and a subgraph
//! that is down.

use e2e::Shop;
use serde_json::json;

#[tokio::test]
async fn subgraph_errors_reach_the_client_with_their_code_and_path() {
    let shop = Shop::start().await;
    let res = shop.query("{ me { id } }", json!({}), None).await;
    assert_eq!(
        res["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{res}"
    );
    assert_eq!(res["errors"][0]["path"], json!(["me"]));
    let token = shop.customer("eve@example.com").await;
    let res = shop
        .query(
            "{ users { edges { node { id } } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    let res = shop
        .query(
            "{ products(first: 1000) { edges { node { id } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{res}"
    );
    shop.stop().await;
}

#[tokio::test]
async fn with_a_subgraph_down_the_others_still_answer() {
    let mut shop = Shop::start().await;
    let admin = shop.admin_token();
    shop.create_product(&admin, "LAMP-9", "Desk lamp", 2500, 5)
        .await;
    let token = shop.customer("fay@example.com").await;
    shop.orders.stop().await;
    let res = shop
        .query("{ me { name orders { edges { node { id } } } } products(first: 1) { edges { node { name } } } }", json!({}), Some(&token))
        .await;
    assert_eq!(
        res["data"]["products"]["edges"][0]["node"]["name"], "Desk lamp",
        "{res}"
    );
    assert_eq!(res["data"]["me"]["name"], "Shopper", "{res}");
    assert!(
        res["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "an error names the missing part: {res}"
    );
    // The router itself is fine.
    let res = shop
        .query(
            "{ products(first: 1) { edges { node { name } } } }",
            json!({}),
            None,
        )
        .await;
    assert!(res["errors"].is_null(), "{res}");
    shop.stop().await;
}

#[tokio::test]
async fn the_router_forwards_the_token_and_the_correlation_id_to_subgraphs() {
    let shop = Shop::start().await;
    let token = shop.customer("ids@example.com").await;
    let res = reqwest::Client::new()
        .post(&shop.gql.url)
        .bearer_auth(&token)
        .header("x-correlation-id", "corr-router-1")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .json(&json!({"query": "{ me { name } }"}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["data"]["me"]["name"], "Shopper",
        "the token reached users: {body}"
    );
    let ids = shop.users.traffic.last_ids.lock().unwrap().clone();
    assert_eq!(ids.0.as_deref(), Some("corr-router-1"));
    assert_eq!(
        ids.1.as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
    shop.stop().await;
}

#[tokio::test]
async fn the_router_refuses_abusive_queries() {
    let shop = Shop::start().await;
    let deep = format!(
        "{{ {}__typename{} }}",
        "me { orders { edges { node { customer { ".repeat(4),
        " } } } } }".repeat(4)
    );
    let res = shop.query(&deep, json!({}), None).await;
    assert!(
        res["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "depth limit: {res}"
    );
    let aliases: String = (0..40).map(|i| format!("a{i}: __typename ")).collect();
    let res = shop
        .query(&format!("{{ {aliases} }}"), json!({}), None)
        .await;
    assert!(
        res["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "alias limit: {res}"
    );
    // A simple form post (CSRF) is refused.
    let res = reqwest::Client::new()
        .post(&shop.gql.url)
        .header("content-type", "text/plain")
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_client_error(),
        "CSRF prevention: {}",
        res.status()
    );
    shop.stop().await;
}
