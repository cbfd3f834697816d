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
