//! The reference storefront in a real browser: its own browser tests
//! (`storefront/e2e/run.mjs`: playwright-core driving Debian's Chromium, axe-core
//! on every page) against this test's own stack, behind a router that runs the
//! storefront's trusted documents. The storefront is built with
//! `VITE_TRUSTED_DOCUMENTS=true`, so it sends document ids only; the run fails if
//! any request carries query text. Screenshots go to
//! `$CARGO_TARGET_DIR/storefront-screenshots` (or SHOP_ARTIFACTS_DIR).

use e2e::{repo_root, spawn_router_with, Shop, ShopOptions, ADMIN_EMAIL, ADMIN_PASSWORD};

#[tokio::test]
async fn a_shopper_browses_buys_and_watches_orders_in_a_real_browser() {
    let shop = Shop::start_with(ShopOptions {
        admin_account: true,
        ..Default::default()
    })
    .await;
    let root = repo_root();
    let manifest = root.join("storefront/src/gql/persisted-documents.json");
    let subgraphs: Vec<String> = [&shop.users, &shop.products, &shop.orders, &shop.payments]
        .iter()
        .map(|s| format!("http://127.0.0.1:{}/graphql", s.port))
        .collect();
    let jwks = format!("http://127.0.0.1:{}/.well-known/jwks.json", shop.users.port);
    // Development profile: the test's own admin set-up sends query text; the
    // storefront itself sends only ids (production refusing text is
    // security::trusted_documents).
    let (_router, router_port) = spawn_router_with(
        &subgraphs,
        &jwks,
        &[
            ("ROUTER_TRUSTED_DOCUMENTS", "true".to_string()),
            (
                "ROUTER_TRUSTED_DOCUMENTS_FILE",
                manifest.display().to_string(),
            ),
        ],
    )
    .await;
    let artifacts = std::env::var("SHOP_ARTIFACTS_DIR").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        target.join("storefront-screenshots").display().to_string()
    });
    let run = tokio::process::Command::new("bash")
        .arg(root.join("storefront/scripts/browser-test.sh"))
        .env("SHOP_ROUTER_URL", format!("http://127.0.0.1:{router_port}"))
        .env("SHOP_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("SHOP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("SHOP_ARTIFACTS_DIR", &artifacts)
        .env("VITE_TRUSTED_DOCUMENTS", "true")
        .kill_on_drop(true)
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "the browser tests failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("PASS"), "no scenario ran:\n{stdout}");
    shop.stop().await;
}
