//! Placing orders: from the cart or explicit items, idempotency, bad input.

use platform::auth::Role;
use serde_json::json;
use testkit::first_error_code;
use uuid::Uuid;

use crate::helpers::{
    address, order_id, place, spawn_app, spawn_app_with, test_config, user, PLACE_ORDER,
};

#[tokio::test]
async fn an_order_from_the_cart_is_priced_pending_and_empties_the_cart() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let t = Some(app.ada.token.as_str());
    app.gql
        .query(
            "mutation($p: ID!) { addToCart(productId: $p, quantity: 2) { itemCount } }",
            json!({"p": lamp}),
            t,
        )
        .await;
    let res = app
        .gql
        .query(PLACE_ORDER, json!({"input": {"shippingAddress": address(), "paymentToken": "tok_visa"}, "key": "k-1"}), t)
        .await;
    let order = &res["data"]["placeOrder"];
    assert_eq!(order["status"], "PENDING", "{res}");
    assert_eq!(order["total"], json!({"amount": 5000, "currency": "EUR"}));
    assert_eq!(order["items"][0]["unitPrice"]["amount"], 2500);
    assert_eq!(order["items"][0]["product"]["id"], lamp.to_string());
    assert!(order["number"].as_str().unwrap().starts_with("SO-"));
    assert_eq!(order["statusHistory"][0]["status"], "PENDING");
    assert_eq!(order["customer"]["id"], app.ada.id.to_string());
    let res = app
        .gql
        .query("{ myCart { itemCount } }", json!({}), t)
        .await;
    assert_eq!(res["data"]["myCart"]["itemCount"], 0, "{res}");
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_order_and_a_different_request_conflicts() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let first = place(&app, &app.ada, &[(lamp, 1)], "same-key").await;
    let again = place(&app, &app.ada, &[(lamp, 1)], "same-key").await;
    assert_eq!(order_id(&first), order_id(&again));
    let other = place(&app, &app.ada, &[(lamp, 2)], "same-key").await;
    assert_eq!(
        first_error_code(&other).as_deref(),
        Some("CONFLICT"),
        "{other}"
    );
    // Keys belong to a user: someone else may use the same one.
    let bob = user(Role::Customer);
    let theirs = place(&app, &bob, &[(lamp, 1)], "same-key").await;
    assert_ne!(order_id(&theirs), order_id(&first));
}

#[tokio::test]
async fn unknown_and_out_of_stock_products_are_refused() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 1);
    let res = place(&app, &app.ada, &[(Uuid::now_v7(), 1)], "k1").await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("NOT_FOUND"),
        "{res}"
    );
    let res = place(&app, &app.ada, &[(lamp, 2)], "k2").await;
    assert_eq!(first_error_code(&res).as_deref(), Some("CONFLICT"), "{res}");
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("only 1"),
        "{res}"
    );
}

#[tokio::test]
async fn bad_checkout_input_gets_bad_user_input() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let t = Some(app.ada.token.as_str());
    let item = json!([{"productId": lamp, "quantity": 1}]);
    let mut bad_country = address();
    bad_country["country"] = json!("Narnia");
    let cases = [
        json!({"input": {"shippingAddress": bad_country, "paymentToken": "tok_visa", "items": item}, "key": "a"}),
        json!({"input": {"shippingAddress": address(), "paymentToken": "visa", "items": item}, "key": "b"}),
        json!({"input": {"shippingAddress": address(), "paymentToken": "tok_visa", "items": item}, "key": ""}),
        json!({"input": {"shippingAddress": address(), "paymentToken": "tok_visa", "items": []}, "key": "c"}),
        json!({"input": {"shippingAddress": address(), "paymentToken": "tok_visa"}, "key": "d"}),
        json!({"input": {"shippingAddress": address(), "paymentToken": "tok_visa", "items": [{"productId": lamp, "quantity": 0}]}, "key": "e"}),
    ];
    for vars in cases {
        let res = app.gql.query(PLACE_ORDER, vars.clone(), t).await;
        assert_eq!(
            first_error_code(&res).as_deref(),
            Some("BAD_USER_INPUT"),
            "{vars}: {res}"
        );
    }
    let res = app.gql.query(PLACE_ORDER, json!({"input": {"shippingAddress": address(), "paymentToken": "tok_visa", "items": item}, "key": "f"}), None).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("UNAUTHENTICATED"),
        "{res}"
    );
}

#[tokio::test]
async fn the_rest_api_places_and_lists_orders_with_an_idempotency_key() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let http = reqwest::Client::new();
    let body = json!({
        "shipping_address": {"name": "Ada", "line1": "1 Loop", "city": "London", "postal_code": "N1", "country": "GB"},
        "payment_token": "tok_visa",
        "items": [{"product_id": lamp, "quantity": 2}],
    });
    let post = |key: Option<&'static str>, body: serde_json::Value| {
        let mut req = http
            .post(format!("{}/api/v1/orders", app.base_url))
            .bearer_auth(&app.ada.token)
            .json(&body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send()
    };
    let res = post(Some("rest-1"), body.clone()).await.unwrap();
    assert_eq!(res.status(), 201);
    let created: serde_json::Value = res.json().await.unwrap();
    let res = post(Some("rest-1"), body.clone()).await.unwrap();
    let again: serde_json::Value = res.json().await.unwrap();
    assert_eq!(created["id"], again["id"]);
    let res = post(None, body.clone()).await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = http
        .post(format!("{}/api/v1/orders", app.base_url))
        .bearer_auth(&app.ada.token)
        .header("Idempotency-Key", "x")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let list: serde_json::Value = http
        .get(format!("{}/api/v1/orders", app.base_url))
        .bearer_auth(&app.ada.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["id"], created["id"], "{list}");
    let res = http
        .get(format!("{}/api/v1/orders/{}", app.base_url, Uuid::now_v7()))
        .bearer_auth(&app.ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = http
        .get(format!("{}/api/v1/orders", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn rest_wrong_types_unknown_fields_and_oversize_bodies_get_problem_details() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let cases = [
        (json!({"shipping_address": "nowhere", "payment_token": 5}).to_string(), 422),
        (json!({"shipping_address": {"name": "A", "line1": "1", "city": "L", "postal_code": "N", "country": "GB"},
                "payment_token": "tok_visa", "discount": 100}).to_string(), 422),
        ("x".repeat(300 * 1024), 413),
    ];
    for (body, expected) in cases {
        let res = http
            .post(format!("{}/api/v1/orders", app.base_url))
            .bearer_auth(&app.ada.token)
            .header("Idempotency-Key", "k")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), expected);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    let res = http
        .post(format!(
            "{}/api/v1/orders/{}/cancel",
            app.base_url,
            Uuid::now_v7()
        ))
        .bearer_auth(&app.ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn a_retried_checkout_of_the_cart_returns_the_first_order() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let rug = app.catalog.add("rug", 9900, 10);
    let t = Some(app.ada.token.as_str());
    let add = "mutation($p: ID!) { addToCart(productId: $p, quantity: 2) { itemCount } }";
    app.gql.query(add, json!({"p": lamp}), t).await;
    let vars = json!({"input": {"shippingAddress": address(), "paymentToken": "tok_visa"}, "key": "cart-1"});
    let first = app.gql.query(PLACE_ORDER, vars.clone(), t).await;
    // The response was lost; the client retries with the same key and an
    // empty cart.
    let again = app.gql.query(PLACE_ORDER, vars.clone(), t).await;
    assert_eq!(order_id(&first), order_id(&again), "{again}");
    // ... or after putting something else in the cart meanwhile.
    app.gql.query(add, json!({"p": rug}), t).await;
    let third = app.gql.query(PLACE_ORDER, vars, t).await;
    assert_eq!(order_id(&first), order_id(&third), "{third}");
    let res = app
        .gql
        .query("{ myCart { itemCount } }", json!({}), t)
        .await;
    assert_eq!(
        res["data"]["myCart"]["itemCount"], 2,
        "the rug stays: {res}"
    );

    // The same over REST.
    let http = reqwest::Client::new();
    let body = json!({
        "shipping_address": {"name": "Ada", "line1": "1 Loop", "city": "London", "postal_code": "N1", "country": "GB"},
        "payment_token": "tok_visa",
    });
    let post = || {
        http.post(format!("{}/api/v1/orders", app.base_url))
            .bearer_auth(&app.ada.token)
            .header("Idempotency-Key", "rest-cart-1")
            .json(&body)
            .send()
    };
    let res = post().await.unwrap();
    assert_eq!(res.status(), 201);
    let created: serde_json::Value = res.json().await.unwrap();
    assert_eq!(created["items"][0]["product_id"], rug.to_string());
    let res = post().await.unwrap();
    assert_eq!(res.status(), 201);
    let again: serde_json::Value = res.json().await.unwrap();
    assert_eq!(created["id"], again["id"], "{again}");
}

#[tokio::test]
async fn rest_quantities_that_would_overflow_are_refused_as_problems() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let http = reqwest::Client::new();
    for items in [
        json!([{"product_id": lamp, "quantity": 1}, {"product_id": lamp, "quantity": i64::MAX}]),
        json!([{"product_id": lamp, "quantity": i64::MAX}, {"product_id": lamp, "quantity": i64::MAX}]),
        json!([{"product_id": lamp, "quantity": 50}, {"product_id": lamp, "quantity": i64::MIN}]),
        json!([{"product_id": lamp, "quantity": 4_294_967_297_i64}]),
    ] {
        let res = http
            .post(format!("{}/api/v1/orders", app.base_url))
            .bearer_auth(&app.ada.token)
            .header("Idempotency-Key", Uuid::now_v7().to_string())
            .json(&json!({
                "shipping_address": {"name": "Ada", "line1": "1 Loop", "city": "London", "postal_code": "N1", "country": "GB"},
                "payment_token": "tok_visa",
                "items": items,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{items}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "BAD_USER_INPUT", "{problem}");
    }
}

#[tokio::test]
async fn a_line_that_cannot_be_bought_is_named() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let gone = app.catalog.add("gone", 100, 10);
    let t = Some(app.ada.token.as_str());
    for p in [lamp, gone] {
        app.gql
            .query(
                "mutation($p: ID!) { addToCart(productId: $p, quantity: 1) { itemCount } }",
                json!({"p": p}),
                t,
            )
            .await;
    }
    // Archived after it went into the cart.
    app.catalog.archive(gone);
    let res = app
        .gql
        .query(PLACE_ORDER, json!({"input": {"shippingAddress": address(), "paymentToken": "tok_visa"}, "key": "k"}), t)
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("NOT_FOUND"),
        "{res}"
    );
    let message = res["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("line 2 (product {gone})")),
        "{message}"
    );
}

#[tokio::test]
async fn a_customer_with_too_many_open_unpaid_orders_cannot_place_another() {
    let mut config = test_config();
    config.max_open_orders = 2;
    let app = spawn_app_with(config).await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let first = order_id(&place(&app, &app.ada, &[(lamp, 1)], "o1").await);
    place(&app, &app.ada, &[(lamp, 1)], "o2").await;
    let res = place(&app, &app.ada, &[(lamp, 1)], "o3").await;
    assert_eq!(first_error_code(&res).as_deref(), Some("CONFLICT"), "{res}");
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too many open orders"),
        "{res}"
    );
    // A retry of an order already placed is not a new order.
    let again = place(&app, &app.ada, &[(lamp, 1)], "o1").await;
    assert_eq!(order_id(&again), first);
    // REST says the same, as a problem.
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/orders", app.base_url))
        .bearer_auth(&app.ada.token)
        .header("Idempotency-Key", "o3-rest")
        .json(&json!({
            "shipping_address": {"name": "Ada", "line1": "1 Loop", "city": "London", "postal_code": "N1", "country": "GB"},
            "payment_token": "tok_visa",
            "items": [{"product_id": lamp, "quantity": 1}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // Other customers are not affected; cancelling one frees a place.
    let bob = user(Role::Customer);
    order_id(&place(&app, &bob, &[(lamp, 1)], "o1").await);
    app.orders
        .cancel_order(&app.ada.viewer, &first.to_string(), None)
        .await
        .unwrap();
    order_id(&place(&app, &app.ada, &[(lamp, 1)], "o4").await);
}
