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
    assert_no_internals(&res);
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

/// Nothing of the inside reaches a client: no addresses, no SQL, no library.
fn assert_no_internals(res: &serde_json::Value) {
    let text = res.to_string();
    for leak in [
        "127.0.0.1",
        "http://",
        "localhost",
        "sqlx",
        "SELECT",
        "postgres",
        "tokio",
        "hyper",
        "reqwest",
        "panicked",
        "Data `",
    ] {
        assert!(!text.contains(leak), "{leak:?} leaked: {text}");
    }
    for error in res["errors"].as_array().into_iter().flatten() {
        let extensions = error["extensions"].as_object().cloned().unwrap_or_default();
        for key in extensions.keys() {
            assert!(
                ["code", "field", "lines", "rule"].contains(&key.as_str()),
                "extension {key:?} leaked: {error}"
            );
        }
    }
}

/// One wrong input: what it is, the request, the caller's token, and the
/// expected code, field and words of the message.
type Case<'a> = (
    &'a str,
    serde_json::Value,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    &'a str,
);

/// Posts `body` to the router; returns the HTTP status and the JSON answer.
async fn post(
    shop: &Shop,
    body: serde_json::Value,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().post(&shop.gql.url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let res = request.send().await.expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

#[tokio::test]
async fn every_wrong_input_gets_a_code_a_message_a_client_can_show_and_its_field() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "ERR-1", "Error lamp", 1000, 1)
        .await;
    let ada = shop.customer("corpus-ada@example.com").await;
    let eve = shop.customer("corpus-eve@example.com").await;
    let placed = shop
        .place_order(&ada, &lamp, 1, "tok_timeout", "corpus-order-1")
        .await;
    let adas_order = placed["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    const REGISTER: &str = "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }";
    const ADD: &str =
        "mutation($p: ID!, $q: Int!) { addToCart(productId: $p, quantity: $q) { itemCount } }";
    const PLACE: &str = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i, idempotencyKey: \"corpus-2\") { id } }";
    let address = |country: &str| json!({"name": "Ada", "line1": "1 Loop St", "city": "London", "postalCode": "N1", "country": country});
    // (what, body, token, code, field, words the message must contain)
    let cases: Vec<Case> = vec![
        (
            "an invalid email",
            json!({"query": REGISTER, "variables": {"i": {"email": "bad", "password": "correct horse 1", "name": "A"}}}),
            None,
            "BAD_USER_INPUT",
            Some("input.email"),
            "email",
        ),
        (
            "a short password",
            json!({"query": REGISTER, "variables": {"i": {"email": "short@example.com", "password": "x", "name": "A"}}}),
            None,
            "BAD_USER_INPUT",
            Some("input.password"),
            "password",
        ),
        (
            "a misspelled input field",
            json!({"query": REGISTER, "variables": {"i": {"emial": "a@example.com", "password": "correct horse 1", "name": "A"}}}),
            None,
            "BAD_USER_INPUT",
            Some("input.email"),
            "email",
        ),
        (
            "an Int out of range",
            json!({"query": ADD, "variables": {"p": lamp, "q": 99999999999i64}}),
            Some(&ada),
            "BAD_USER_INPUT",
            None,
            "Int",
        ),
        (
            "a quantity of 0",
            json!({"query": ADD, "variables": {"p": lamp, "q": 0}}),
            Some(&ada),
            "BAD_USER_INPUT",
            Some("quantity"),
            "quantity",
        ),
        (
            "an id that is no UUID",
            json!({"query": "{ product(id: \"nope\") { name } }"}),
            None,
            "BAD_USER_INPUT",
            Some("id"),
            "UUID",
        ),
        (
            "a page too large",
            json!({"query": "{ products(first: 1000) { edges { node { name } } } }"}),
            None,
            "BAD_USER_INPUT",
            Some("first"),
            "first",
        ),
        (
            "a country that is no code",
            json!({"query": PLACE, "variables": {"i": {"shippingAddress": address("France"), "paymentToken": "tok_visa", "items": [{"productId": lamp, "quantity": 1}]}}}),
            Some(&ada),
            "BAD_USER_INPUT",
            Some("input.shippingAddress.country"),
            "country",
        ),
        (
            "a card token of the wrong shape",
            json!({"query": PLACE, "variables": {"i": {"shippingAddress": address("GB"), "paymentToken": "4242 4242", "items": [{"productId": lamp, "quantity": 1}]}}}),
            Some(&ada),
            "BAD_USER_INPUT",
            Some("input.paymentToken"),
            "tok_",
        ),
        (
            "more than the stock",
            json!({"query": PLACE, "variables": {"i": {"shippingAddress": address("GB"), "paymentToken": "tok_visa", "items": [{"productId": lamp, "quantity": 5}]}}}),
            Some(&eve),
            "CONFLICT",
            None,
            "left",
        ),
        (
            "someone else's order (answered as an unknown one)",
            json!({"query": "mutation($id: ID!) { cancelOrder(id: $id) { id } }", "variables": {"id": adas_order}}),
            Some(&eve),
            "NOT_FOUND",
            None,
            "",
        ),
        (
            "an order that does not exist",
            json!({"query": "{ order(id: \"00000000-0000-7000-8000-000000000000\") { id } }"}),
            Some(&ada),
            "NOT_FOUND",
            None,
            "not found",
        ),
        (
            "no token where one is needed",
            json!({"query": "{ me { id } }"}),
            None,
            "UNAUTHENTICATED",
            None,
            "",
        ),
        (
            "a field that does not exist",
            json!({"query": "{ products(first: 1) { edges { node { nme } } } }"}),
            None,
            "GRAPHQL_VALIDATION_FAILED",
            None,
            "nme",
        ),
        (
            "a variable of the wrong type",
            json!({"query": "query($n: String) { products(first: $n) { edges { node { name } } } }", "variables": {"n": "x"}}),
            None,
            "GRAPHQL_VALIDATION_FAILED",
            None,
            "$n",
        ),
        (
            "a syntax error",
            json!({"query": "{ products(first: 1) { edges "}),
            None,
            "GRAPHQL_PARSE_FAILED",
            None,
            "",
        ),
    ];
    for (what, body, token, code, field, words) in cases {
        let (_, res) = post(&shop, body, token).await;
        let error = &res["errors"][0];
        assert_eq!(error["extensions"]["code"], code, "{what}: {res}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && !message.contains("Unexpected error") && message.contains(words),
            "{what}: a message a client can show, mentioning {words:?}: {res}"
        );
        if let Some(field) = field {
            assert_eq!(error["extensions"]["field"], field, "{what}: {res}");
        }
        assert_no_internals(&res);
    }

    // A stock conflict names its lines, machine-readably.
    let (_, res) = post(
        &shop,
        json!({"query": PLACE, "variables": {"i": {"shippingAddress": address("GB"), "paymentToken": "tok_visa", "items": [{"productId": lamp, "quantity": 5}]}}}),
        Some(&eve),
    )
    .await;
    assert_eq!(
        res["errors"][0]["extensions"]["lines"],
        json!([{"productId": lamp, "requested": 5, "available": 0}]),
        "{res}"
    );

    // A batch says batching is not supported.
    let (status, res) = post(
        &shop,
        json!([{"query": "{ __typename }"}, {"query": "{ __typename }"}]),
        None,
    )
    .await;
    assert_eq!(status, 400, "{res}");
    assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not supported"),
        "{res}"
    );
    shop.stop().await;
}
