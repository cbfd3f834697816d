//! Trusted documents: the production profile runs only the operations of the
//! storefront's manifest (built by GraphQL Code Generator at build time);
//! development runs those and any other.

use e2e::{repo_root, spawn_router_with, Shop};
use serde_json::{json, Value};
use testkit::first_error_code;

/// The storefront's manifest (`npm run codegen` in storefront/; scripts/test
/// runs it): `{ "<sha256>": "<document>" }`.
fn manifest() -> (std::path::PathBuf, serde_json::Map<String, Value>) {
    let path = repo_root().join("storefront/src/gql/persisted-documents.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `npm ci && npm run codegen` in storefront/, as scripts/test does)",
            path.display()
        )
    });
    let Ok(Value::Object(map)) = serde_json::from_str(&text) else {
        panic!("{} is not a JSON object", path.display());
    };
    (path, map)
}

async fn post(router: u16, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{router}/graphql"))
        .json(&body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn production_runs_only_the_storefronts_operations_and_development_runs_any() {
    let (path, documents) = manifest();
    let (categories_id, _) = documents
        .iter()
        .find(|(_, doc)| doc.as_str().is_some_and(|d| d.contains("query Categories")))
        .expect("the storefront lists categories");
    let shop = Shop::start().await;
    let subgraphs: Vec<String> = [&shop.users, &shop.products, &shop.orders, &shop.payments]
        .iter()
        .map(|s| format!("http://127.0.0.1:{}/graphql", s.port))
        .collect();
    let jwks = format!("http://127.0.0.1:{}/.well-known/jwks.json", shop.users.port);
    let router = |profile: &'static str| {
        let env = vec![
            ("SHOP_ENV", profile.to_string()),
            ("ROUTER_TRUSTED_DOCUMENTS", "true".to_string()),
            ("ROUTER_TRUSTED_DOCUMENTS_FILE", path.display().to_string()),
        ];
        let (subgraphs, jwks) = (subgraphs.clone(), jwks.clone());
        async move { spawn_router_with(&subgraphs, &jwks, &env).await }
    };
    let (_production, production) = router("production").await;
    let (_development, development) = router("development").await;
    let ad_hoc = json!({"query": "{ categories { id name slug } }"});

    for port in [production, development] {
        let res = post(port, json!({"documentId": categories_id})).await;
        assert!(res["data"]["categories"].is_array(), "{res}");
    }
    let res = post(production, ad_hoc.clone()).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("PERSISTED_DOCUMENT_ID_REQUIRED"),
        "{res}"
    );
    assert!(res["data"].is_null(), "{res}");
    let res = post(production, json!({"documentId": "0".repeat(64)})).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("PERSISTED_DOCUMENT_NOT_FOUND"),
        "{res}"
    );
    let res = post(development, ad_hoc).await;
    assert!(res["data"]["categories"].is_array(), "{res}");
    shop.stop().await;
}
