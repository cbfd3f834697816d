//! The REST fallback and its problem details.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn sign_up_sign_in_refresh_and_me_over_rest() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", app.base_url);
    let res = http
        .post(url("/api/v1/users"))
        .json(&json!({"email": "ada@example.com", "password": "correct horse 1", "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .post(url("/api/v1/auth/token"))
        .json(&json!({"email": "ada@example.com", "password": "correct horse 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let res = http
        .post(url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": tokens["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = http
        .get(url("/api/v1/users/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ada@example.com");
}

#[tokio::test]
async fn bad_requests_get_problem_details() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", app.base_url);
    let cases = [
        (http.post(url("/api/v1/users")).header("content-type", "application/json").body("{oops"), 400),
        (http.post(url("/api/v1/users")).json(&json!({"email": 5, "password": "x", "name": "y"})), 422),
        (http.post(url("/api/v1/users")).json(&json!({"email": "bad", "password": "correct horse 1", "name": "y"})), 400),
        (http.post(url("/api/v1/auth/token")).json(&json!({"email": "nobody@example.com", "password": "whatever 1"})), 401),
        (http.post(url("/api/v1/auth/refresh")).json(&json!({"refresh_token": "nope"})), 401),
        (http.get(url("/api/v1/users/me")), 401),
        (http.post(url("/api/v1/users")).json(&json!({"email": "a@example.com", "password": "correct horse 1", "name": "y", "admin": true})), 422),
    ];
    for (req, status) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], status, "{body}");
    }
    let oversize = "x".repeat(300 * 1024);
    let res = http
        .post(url("/api/v1/users"))
        .header("content-type", "application/json")
        .body(oversize)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
}

#[tokio::test]
async fn requests_are_counted_in_prometheus_metrics() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    http.get(format!("{}/.well-known/jwks.json", app.base_url))
        .send()
        .await
        .unwrap();
    let res = http
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains(r#"route="/.well-known/jwks.json""#)),
        "{body}"
    );
}
