//! The cart: adding, changing, removing, limits, and prices.

use std::sync::atomic::Ordering;

use serde_json::json;
use testkit::first_error_code;
use uuid::Uuid;

use crate::helpers::spawn_app;

const CART: &str = "{ myCart { itemCount subtotal { amount currency } items { product { id } quantity unitPrice { amount } lineTotal { amount } } } }";
const ADD: &str =
    "mutation($p: ID!, $q: Int!) { addToCart(productId: $p, quantity: $q) { itemCount } }";

#[tokio::test]
async fn a_customer_fills_and_empties_a_cart_at_todays_prices() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let rug = app.catalog.add("rug", 9900, 3);
    let t = Some(app.ada.token.as_str());
    app.gql.query(ADD, json!({"p": lamp, "q": 2}), t).await;
    app.gql.query(ADD, json!({"p": lamp, "q": 1}), t).await;
    let res = app.gql.query(ADD, json!({"p": rug, "q": 1}), t).await;
    assert_eq!(res["data"]["addToCart"]["itemCount"], 4, "{res}");

    let res = app.gql.query(CART, json!({}), t).await;
    let cart = &res["data"]["myCart"];
    assert_eq!(
        cart["subtotal"],
        json!({"amount": 3 * 2500 + 9900, "currency": "EUR"}),
        "{res}"
    );
    assert_eq!(cart["items"][0]["quantity"], 3);
    assert_eq!(cart["items"][0]["lineTotal"]["amount"], 7500);

    let res = app
        .gql
        .query(
            "mutation($p: ID!) { updateCartItem(productId: $p, quantity: 1) { itemCount } }",
            json!({"p": lamp}),
            t,
        )
        .await;
    assert_eq!(res["data"]["updateCartItem"]["itemCount"], 2, "{res}");
    let res = app
        .gql
        .query(
            "mutation($p: ID!) { updateCartItem(productId: $p, quantity: 0) { itemCount } }",
            json!({"p": lamp}),
            t,
        )
        .await;
    assert_eq!(res["data"]["updateCartItem"]["itemCount"], 1, "{res}");
    let res = app
        .gql
        .query(
            "mutation($p: ID!) { removeFromCart(productId: $p) { itemCount subtotal { amount } } }",
            json!({"p": rug}),
            t,
        )
        .await;
    assert_eq!(
        res["data"]["removeFromCart"],
        json!({"itemCount": 0, "subtotal": null}),
        "{res}"
    );
}

#[tokio::test]
async fn cart_limits_and_bad_input_are_refused() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let t = Some(app.ada.token.as_str());
    for (p, q) in [
        (json!(lamp), 0),
        (json!(lamp), 101),
        (json!("not-a-uuid"), 1),
    ] {
        let res = app.gql.query(ADD, json!({"p": p, "q": q}), t).await;
        assert_eq!(
            first_error_code(&res).as_deref(),
            Some("BAD_USER_INPUT"),
            "{res}"
        );
    }
    app.gql.query(ADD, json!({"p": lamp, "q": 60}), t).await;
    let res = app.gql.query(ADD, json!({"p": lamp, "q": 60}), t).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("BAD_USER_INPUT"),
        "more than 100 of one product: {res}"
    );
    for i in 0..49 {
        let p = app.catalog.add(&format!("p{i}"), 100, 10);
        let res = app.gql.query(ADD, json!({"p": p, "q": 1}), t).await;
        assert!(res["errors"].is_null(), "{res}");
    }
    let p = app.catalog.add("one too many", 100, 10);
    let res = app.gql.query(ADD, json!({"p": p, "q": 1}), t).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("BAD_USER_INPUT"),
        "51st product: {res}"
    );
    let res = app
        .gql
        .query(
            "mutation($p: ID!) { removeFromCart(productId: $p) { itemCount } }",
            json!({"p": Uuid::now_v7()}),
            t,
        )
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("NOT_FOUND"),
        "{res}"
    );
    let res = app.gql.query(CART, json!({}), None).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("UNAUTHENTICATED"),
        "{res}"
    );
}

#[tokio::test]
async fn with_the_catalogue_down_the_cart_still_lists_its_items() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let t = Some(app.ada.token.as_str());
    app.gql.query(ADD, json!({"p": lamp, "q": 2}), t).await;
    app.catalog.down.store(true, Ordering::SeqCst);
    let res = app.gql.query(CART, json!({}), t).await;
    assert_eq!(res["data"]["myCart"]["items"][0]["quantity"], 2, "{res}");
    assert!(res["data"]["myCart"]["items"][0]["unitPrice"].is_null());
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("SERVICE_UNAVAILABLE"),
        "{res}"
    );
    assert_eq!(res["errors"][0]["path"], json!(["myCart", "subtotal"]));
}

#[tokio::test]
async fn unknown_or_archived_products_cannot_be_added_to_the_cart() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let gone = app.catalog.add("gone", 100, 10);
    app.catalog.archive(gone);
    let t = Some(app.ada.token.as_str());
    for p in [Uuid::now_v7(), gone] {
        let res = app.gql.query(ADD, json!({"p": p, "q": 1}), t).await;
        assert_eq!(
            first_error_code(&res).as_deref(),
            Some("NOT_FOUND"),
            "{res}"
        );
        let message = res["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(&p.to_string()), "{message}");
    }
    let res = app.gql.query(ADD, json!({"p": lamp, "q": 1}), t).await;
    assert_eq!(res["data"]["addToCart"]["itemCount"], 1, "{res}");
    let res = app.gql.query(CART, json!({}), t).await;
    assert_eq!(
        res["data"]["myCart"]["items"].as_array().map(Vec::len),
        Some(1),
        "only the lamp is in the cart: {res}"
    );
    // With the catalogue unreachable nothing unchecked gets in.
    app.catalog.down.store(true, Ordering::SeqCst);
    let res = app.gql.query(ADD, json!({"p": lamp, "q": 1}), t).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("SERVICE_UNAVAILABLE"),
        "{res}"
    );
}
