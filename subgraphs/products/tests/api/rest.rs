//! The REST fallback: listing, reading, categories, and the internal price quote
//! the orders service relies on.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{product_input, spawn_app, TestApp};

async fn shop() -> (TestApp, String, Vec<String>) {
    let app = spawn_app().await;
    let lamps = app.create_category("lamps").await;
    let mut ids = Vec::new();
    for (i, (amount, stock)) in [(1999, 10), (2999, 0), (3999, 4)].into_iter().enumerate() {
        let sku = format!("LAMP-000{}", i + 1);
        ids.push(
            app.create_product(product_input(
                &sku,
                &format!("Lamp {i}"),
                amount,
                &lamps,
                stock,
            ))
            .await,
        );
    }
    (app, lamps, ids)
}

async fn json_of(res: reqwest::Response) -> (StatusCode, String, Value) {
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, res.json().await.unwrap())
}

#[tokio::test]
async fn the_rest_api_lists_products_page_by_page() {
    let (app, lamps, _) = shop().await;
    let (status, _, body) = json_of(
        app.get(&format!(
            "/api/v1/products?category_id={lamps}&sort=price_desc&first=2"
        ))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["sku"], "LAMP-0003");
    assert_eq!(
        items[0]["price"],
        json!({"amount": 3999, "currency": "EUR"})
    );
    assert_eq!(items[0]["available_quantity"], 4);
    assert_eq!(items[0]["category_id"], lamps.as_str());
    let cursor = body["next_cursor"].as_str().unwrap();

    let (_, _, next) = json_of(
        app.get(&format!(
            "/api/v1/products?sort=price_desc&first=2&after={cursor}"
        ))
        .await,
    )
    .await;
    assert_eq!(next["items"][0]["sku"], "LAMP-0001");
    assert_eq!(next["next_cursor"], json!(null));

    let (_, _, filtered) = json_of(
        app.get("/api/v1/products?in_stock=true&min_price=2000&search=lamp")
            .await,
    )
    .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1, "{filtered}");

    for bad in [
        "/api/v1/products?sort=cheapest",
        "/api/v1/products?first=0",
        "/api/v1/products?min_price=abc",
        "/api/v1/products?category_id=lamps",
        "/api/v1/products?after=garbage",
    ] {
        let (status, content_type, body) = json_of(app.get(bad).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], "BAD_USER_INPUT");
    }
}

#[tokio::test]
async fn the_rest_api_reads_one_product_and_the_categories() {
    let (app, _, ids) = shop().await;
    let (status, _, body) = json_of(app.get(&format!("/api/v1/products/{}", ids[0])).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sku"], "LAMP-0001");
    assert_eq!(
        body["attributes"],
        json!([{"name": "colour", "value": "green"}])
    );

    let unknown = uuid::Uuid::now_v7();
    let (status, content_type, body) =
        json_of(app.get(&format!("/api/v1/products/{unknown}")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], "NOT_FOUND");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains(&unknown.to_string()));
    let (status, _, _) = json_of(app.get("/api/v1/products/not-a-uuid").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _, body) = json_of(app.get("/api/v1/categories").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"][0]["slug"], "lamps");
}

#[tokio::test]
async fn the_price_quote_prices_every_item_in_order() {
    let (app, _, ids) = shop().await;
    let body = json!({"items": [
        {"product_id": ids[2], "quantity": 2},
        {"product_id": ids[0], "quantity": 1000},
        {"product_id": ids[2], "quantity": 1},
    ]});
    let (status, _, quote) = json_of(app.post_json("/api/v1/products/quote", &body).await).await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(
        quote["lines"][0],
        json!({
            "product_id": ids[2],
            "sku": "LAMP-0003",
            "name": "Lamp 2",
            "unit_price": {"amount": 3999, "currency": "EUR"},
            "quantity": 2,
            "available_quantity": 4,
        })
    );
    assert_eq!(quote["lines"][1]["sku"], "LAMP-0001");
    assert_eq!(quote["lines"][1]["quantity"], 1000);
    assert_eq!(quote["lines"][2]["quantity"], 1);
    assert_eq!(quote["lines"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_price_quote_refuses_unknown_archived_and_invalid_items() {
    let (app, _, ids) = shop().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let (status, content_type, body) = json_of(
        app.post_json(
            "/api/v1/products/quote",
            &json!({"items": [{"product_id": ids[0], "quantity": 1}, {"product_id": unknown, "quantity": 1}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    assert!(
        body["detail"].as_str().unwrap().contains(&unknown),
        "{body}"
    );

    let archived = app
        .as_admin(
            "mutation($id: ID!) { archiveProduct(id: $id) { id } }",
            json!({"id": ids[1]}),
        )
        .await;
    assert!(archived["errors"].is_null());
    let (status, _, body) = json_of(
        app.post_json(
            "/api/v1/products/quote",
            &json!({"items": [{"product_id": ids[1], "quantity": 1}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["detail"].as_str().unwrap().contains(&ids[1]));

    let too_many: Vec<Value> = (0..101)
        .map(|_| json!({"product_id": ids[0], "quantity": 1}))
        .collect();
    for bad in [
        json!({"items": []}),
        json!({"items": too_many}),
        json!({"items": [{"product_id": ids[0], "quantity": 0}]}),
        json!({"items": [{"product_id": ids[0], "quantity": 1001}]}),
        json!({"items": [{"product_id": "LAMP-0001", "quantity": 1}]}),
    ] {
        let (status, content_type, body) =
            json_of(app.post_json("/api/v1/products/quote", &bad).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], "BAD_USER_INPUT");
    }

    let res = app
        .http
        .post(format!("{}/api/v1/products/quote", app.base_url))
        .header("content-type", "application/json")
        .body("{\"items\": [")
        .send()
        .await
        .unwrap();
    let (status, content_type, body) = json_of(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(content_type, "application/problem+json");
}

#[tokio::test]
async fn wrong_types_and_oversize_bodies_get_problem_details() {
    let app = crate::helpers::spawn_app().await;
    let cases = [
        (
            serde_json::json!({"items": [{"product_id": 7, "quantity": "two"}]}).to_string(),
            422,
        ),
        ("x".repeat(300 * 1024), 413),
    ];
    for (body, expected) in cases {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/products/quote", app.base_url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), expected);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["status"], expected);
    }
    let (status, _, _) = json_of(app.get("/api/v1/products?first=abc").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn admins_change_stock_over_rest_with_a_precondition_or_a_delta() {
    let (app, _, ids) = shop().await;
    let url = |tail: &str| format!("{}/api/v1/products/{}/stock{tail}", app.base_url, ids[0]);
    // Stale expectation: 409 problem.
    let res = app
        .http
        .put(url(""))
        .bearer_auth(&app.admin_token)
        .json(&json!({"quantity": 20, "expected_stock_on_hand": 9}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app
        .http
        .put(url(""))
        .bearer_auth(&app.admin_token)
        .json(&json!({"quantity": 20, "expected_stock_on_hand": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let stock: Value = res.json().await.unwrap();
    assert_eq!(stock["stock_on_hand"], 20, "{stock}");
    let res = app
        .http
        .post(url("/adjustments"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"delta": -5}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let stock: Value = res.json().await.unwrap();
    assert_eq!(
        (
            stock["stock_on_hand"].as_i64(),
            stock["available_quantity"].as_i64()
        ),
        (Some(15), Some(15)),
        "{stock}"
    );
    for (delta, status) in [
        (-16, StatusCode::CONFLICT),
        (0, StatusCode::BAD_REQUEST),
        (i64::MAX, StatusCode::BAD_REQUEST),
    ] {
        let res = app
            .http
            .post(url("/adjustments"))
            .bearer_auth(&app.admin_token)
            .json(&json!({"delta": delta}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{delta}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    let res = app
        .http
        .post(url("/adjustments"))
        .json(&json!({"delta": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .http
        .post(url("/adjustments"))
        .bearer_auth(&app.customer_token)
        .json(&json!({"delta": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
