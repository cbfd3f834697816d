//! The service binaries start from environment variables alone, become ready,
//! and stop cleanly on SIGTERM (exit status 0, connections drained).

use std::path::PathBuf;
use std::time::Duration;

use e2e::repo_root;
use testkit::{fresh_database_url, test_keys};

fn binary(name: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    let bin = target.join("debug").join(name);
    assert!(
        bin.exists(),
        "{} is missing: scripts/test builds the binaries first",
        bin.display()
    );
    bin
}

#[tokio::test]
async fn a_service_binary_serves_until_sigterm_then_exits_cleanly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key_file = std::env::temp_dir().join(format!("shop-key-{port}.pem"));
    std::fs::write(&key_file, &test_keys().public_pem).unwrap();
    let mut child = tokio::process::Command::new(binary("payments"))
        .env("PAYMENTS_HOST", "127.0.0.1")
        .env("PAYMENTS_PORT", port.to_string())
        .env("PAYMENTS_DATABASE_URL", fresh_database_url("e2e_bin"))
        .env("PAYMENTS_JWT_PUBLIC_KEY_PATH", &key_file)
        .env("PAYMENTS_EVENTS_PREFIX", format!("t_bin{port}."))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let mut ready = false;
    for _ in 0..200 {
        if http
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the binary became ready from its environment");
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("stops in time")
        .unwrap();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    assert!(http.get(&url).send().await.is_err(), "no longer listening");
    let _ = std::fs::remove_file(key_file);
}
