//! The REST fallback and its problem details.

use platform::auth::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{charge_request, spawn_app, user};

async fn get(
    app: &crate::helpers::TestApp,
    path: &str,
    token: Option<&str>,
) -> (u16, String, Value) {
    let mut req = reqwest::Client::new().get(format!("{}{path}", app.base_url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_customer_reads_their_payment_by_id_and_by_order() {
    let app = spawn_app().await;
    let ada = user(Role::Customer);
    let p = app
        .payments
        .charge(&charge_request(ada.id, 1234, "tok_visa"), None)
        .await
        .unwrap();
    let (status, _, body) = get(
        &app,
        &format!("/api/v1/payments/{}", p.id),
        Some(&ada.token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "SUCCEEDED");
    assert_eq!(body["amount"]["amount"], 1234);
    assert_eq!(body["card_last4"], "4242");
    let (status, _, body) = get(
        &app,
        &format!("/api/v1/payments?order_id={}", p.order_id),
        Some(&ada.token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["id"], p.id.to_string());
}

#[tokio::test]
async fn bad_requests_get_problem_details() {
    let app = spawn_app().await;
    let ada = user(Role::Customer);
    let p = app
        .payments
        .charge(&charge_request(ada.id, 1234, "tok_visa"), None)
        .await
        .unwrap();
    let cases = [
        (
            format!("/api/v1/payments/{}", Uuid::now_v7()),
            Some(ada.token.as_str()),
            404,
        ),
        (
            "/api/v1/payments/not-a-uuid".to_string(),
            Some(ada.token.as_str()),
            400,
        ),
        (
            "/api/v1/payments".to_string(),
            Some(ada.token.as_str()),
            400,
        ),
        (format!("/api/v1/payments/{}", p.id), None, 401),
    ];
    for (path, token, expected) in cases {
        let (status, ct, body) = get(&app, &path, token).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(ct, "application/problem+json", "{path}");
        assert_eq!(body["status"], expected, "{path}");
    }
    let eve = user(Role::Customer);
    let (status, _, _) = get(
        &app,
        &format!("/api/v1/payments/{}", p.id),
        Some(&eve.token),
    )
    .await;
    // Another customer's payment answers like an unknown one.
    assert_eq!(status, 404);
}
