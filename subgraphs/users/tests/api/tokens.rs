//! Access tokens (RS256, JWKS) and rotating refresh tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use platform::auth::{Jwks, JwtVerifier};
use serde_json::json;
use testkit::first_error_code;

use crate::helpers::spawn_app;

const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";

#[tokio::test]
async fn the_jwks_verifies_issued_tokens() {
    let app = spawn_app().await;
    let (id, access, _) = app.register("ada@example.com").await;
    let jwks: Jwks = reqwest::get(format!("{}/.well-known/jwks.json", app.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks.keys.len(), 1);
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], jwks.keys[0].kid.as_str());
    let verifier = JwtVerifier::from_public_pem(&testkit::test_keys().public_pem).unwrap();
    assert_eq!(verifier.verify(&access).unwrap().user_id.to_string(), id);
    assert_eq!(
        platform::auth::key_id(&testkit::test_keys().public_pem).unwrap(),
        jwks.keys[0].kid
    );
}

#[tokio::test]
async fn a_refresh_token_works_once_and_its_reuse_ends_the_login() {
    let app = spawn_app().await;
    let (_, _, first) = app.register("ada@example.com").await;
    let res = app.gql.query(REFRESH, json!({"t": first}), None).await;
    let second = res["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_string();
    assert_ne!(first, second);
    // The first token again: reuse. It fails, and so does the one it was traded for.
    let reuse = app.gql.query(REFRESH, json!({"t": first}), None).await;
    assert_eq!(
        first_error_code(&reuse).as_deref(),
        Some("UNAUTHENTICATED"),
        "{reuse}"
    );
    let after = app.gql.query(REFRESH, json!({"t": second}), None).await;
    assert_eq!(
        first_error_code(&after).as_deref(),
        Some("UNAUTHENTICATED"),
        "{after}"
    );
    let garbage = app.gql.query(REFRESH, json!({"t": "garbage"}), None).await;
    assert_eq!(
        first_error_code(&garbage).as_deref(),
        Some("UNAUTHENTICATED"),
        "{garbage}"
    );
}

#[tokio::test]
async fn logging_out_revokes_the_refresh_token() {
    let app = spawn_app().await;
    let (_, _, refresh) = app.register("ada@example.com").await;
    let res = app
        .gql
        .query(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({"t": refresh}),
            None,
        )
        .await;
    assert_eq!(res["data"]["logout"], true, "{res}");
    let res = app.gql.query(REFRESH, json!({"t": refresh}), None).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("UNAUTHENTICATED"),
        "{res}"
    );
}

#[tokio::test]
async fn a_sign_in_ends_at_its_absolute_lifetime_however_often_it_is_refreshed() {
    let mut config = crate::helpers::test_config();
    config.refresh_family_max_secs = 3;
    let app = crate::helpers::spawn_app_with(config).await;
    let (_, _, mut refresh) = app.register("short@example.com").await;
    // Rotating within the lifetime works...
    for _ in 0..2 {
        let res = app.gql.query(REFRESH, json!({"t": refresh}), None).await;
        refresh = res["data"]["refreshToken"]["refreshToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{res}"))
            .to_string();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // ...but not past it, whatever the last token's own expiry.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let res = app.gql.query(REFRESH, json!({"t": refresh}), None).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("UNAUTHENTICATED"),
        "{res}"
    );
}
