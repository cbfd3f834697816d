//! In the production profile a service logs one JSON object per line, and the
//! lines of a request carry its correlation id and its W3C trace id, so an
//! operator can follow one order through every service's logs.

use std::process::Stdio;
use std::time::Duration;

use e2e::processes::{binary, free_port};
use testkit::{fresh_database_url, test_keys};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn production_logs_are_json_lines_with_the_correlation_and_trace_ids() {
    let keys = test_keys();
    let port = free_port();
    let mut child = tokio::process::Command::new(binary("users"))
        .env("USERS_HOST", "127.0.0.1")
        .env("USERS_PORT", port.to_string())
        .env("USERS_DATABASE_URL", fresh_database_url("logs_users"))
        .env("USERS_JWT_PRIVATE_KEY_PEM", &keys.private_pem)
        .env("USERS_JWT_PUBLIC_KEY_PEM", &keys.public_pem)
        .env("USERS_EVENT_WORKERS", "false")
        .env("SHOP_ENV", "production")
        .env("RUST_LOG", "info")
        .env_remove("LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("users starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/users/me");
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            // Until the service is up, each attempt fails; once it answers,
            // its access-log line names this request.
            let _ = http
                .get(&url)
                .header("x-correlation-id", "logs-corr-1")
                .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
                .send()
                .await;
            while let Ok(Ok(Some(line))) =
                tokio::time::timeout(Duration::from_millis(200), lines.next_line()).await
            {
                let json: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("a production log line is JSON ({e}): {line}"));
                if line.contains("logs-corr-1") {
                    return json;
                }
            }
        }
    })
    .await
    .expect("the request was logged");
    let spans = found["spans"].as_array().cloned().unwrap_or_default();
    let request = spans
        .iter()
        .find(|s| s["name"] == "request")
        .unwrap_or_else(|| panic!("the request span: {found}"));
    assert_eq!(request["correlation_id"], "logs-corr-1", "{found}");
    assert_eq!(request["trace_id"], trace, "{found}");
    let _ = child.kill().await;
}
