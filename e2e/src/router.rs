//! The real router as a child process: where its binary is (never built
//! from a test) and how it starts on the committed supergraph and config.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use platform::auth::Role;
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::processes::free_port;
use crate::story::token;

/// The repository root.
pub fn repo_root() -> PathBuf {
    testkit::workspace_root()
}

/// The router binary: `SHOP_ROUTER_BIN` (scripts/test sets it), or the debug
/// build in the target directory. Never built from here: a test that compiled
/// ~770 crates would time out and starve the others. Build it first with
/// `cargo build --manifest-path supergraph/router/Cargo.toml`.
pub fn router_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(bin) = std::env::var("SHOP_ROUTER_BIN") {
            return PathBuf::from(bin);
        }
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join("supergraph/router/target"));
        let bin = target.join("debug/shop-router");
        assert!(
            bin.exists(),
            "no router at {}: build it first (`cargo build --manifest-path supergraph/router/Cargo.toml`, as scripts/test does) or set SHOP_ROUTER_BIN",
            bin.display()
        );
        bin
    })
    .clone()
}

/// Starts the router on the committed supergraph and config with the
/// subgraphs at `subgraphs` (users, products, orders, payments `/graphql`
/// URLs), verifying tokens against the users service's key set at `jwks_url`;
/// waits until it is ready. Returns the process and its port.
pub async fn spawn_router(subgraphs: &[String], jwks_url: &str) -> (Child, u16) {
    spawn_router_with(subgraphs, jwks_url, &[]).await
}

/// Like [`spawn_router`], with more environment variables (the profile, the
/// trusted-document manifest).
pub async fn spawn_router_with(
    subgraphs: &[String],
    jwks_url: &str,
    env: &[(&str, String)],
) -> (Child, u16) {
    let router_port = free_port();
    let root = repo_root();
    let mut command = Command::new(router_binary());
    command
        .env(
            "ROUTER_CONFIG_FILE_PATH",
            root.join("supergraph/router/router.config.yaml"),
        )
        .env(
            "SUPERGRAPH_FILE_PATH",
            root.join("schema/supergraph.graphql"),
        )
        .env("ROUTER_JWKS_URL", jwks_url)
        .env("HOST", "127.0.0.1")
        .env("PORT", router_port.to_string())
        .env("LOG_LEVEL", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    for (name, url) in ["USERS", "PRODUCTS", "ORDERS", "PAYMENTS"]
        .iter()
        .zip(subgraphs)
    {
        command.env(format!("SUBGRAPH_{name}_URL"), url);
    }
    let router = command
        .stdout(Stdio::null())
        .stderr(if std::env::var("TEST_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .expect("router starts");
    let router_url = format!("http://127.0.0.1:{router_port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(res) = http.get(format!("{router_url}/readiness")).send().await {
            if res.status().is_success() {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the router did not become ready");
    // Ready is not yet verifying: on a busy machine the first fetch of the key
    // set may fail, and the router fetches again on its next poll. Wait (a
    // while, not failing: some tests give it keys it must refuse) until it
    // accepts a token signed with the test key.
    let probe = serde_json::json!({"query": "{ __typename }"});
    let admin = token(Uuid::now_v7(), Role::Admin);
    for _ in 0..100 {
        let accepted = http
            .post(format!("{router_url}/graphql"))
            .bearer_auth(&admin)
            .json(&probe)
            .send()
            .await
            .is_ok_and(|res| res.status() != reqwest::StatusCode::UNAUTHORIZED);
        if accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (router, router_port)
}
