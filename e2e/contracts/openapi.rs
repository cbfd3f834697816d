//! Each service's OpenAPI document tells the truth: schemathesis generates
//! requests from it (valid ones, and ones that break exactly one documented
//! constraint) and runs them against the running service. No request may
//! answer a server error, a status, content type or body the document does not
//! state, a refusal of a request the document allows, or an acceptance of one
//! it forbids. So a client generated from the document validates as the
//! service does.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use e2e::Shop;

/// schemathesis from the virtualenv scripts/lib.sh installs it into
/// (`ensure_test_tools`), else from PATH.
fn schemathesis() -> PathBuf {
    let venv = std::env::var_os("SHOP_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/shop/venv")));
    if let Some(bin) = venv.map(|v| v.join("bin/schemathesis")) {
        if bin.is_file() {
            return bin;
        }
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("schemathesis"))
                .find(|p| p.is_file())
        })
        .expect("schemathesis (scripts/test installs it into $SHOP_VENV)")
}

/// The checks every operation passes.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_schema_conformance,negative_data_rejection,positive_data_acceptance";

/// Test cases per operation and phase: enough to reach every documented
/// constraint's boundaries (the coverage phase derives those from the document
/// itself), few enough that a service takes seconds.
const MAX_EXAMPLES: &str = "40";

/// The longest one service's run may take before the test fails.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// Runs schemathesis against one service's document with `token` as the
/// Bearer token of every request, `config` (TOML) as its configuration and
/// [`HOOKS`]; panics with its output unless it found nothing.
async fn fuzz(service: &str, port: u16, token: &str, config: &str) {
    let dir = std::env::temp_dir().join(format!(
        "shop-schemathesis-{service}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config_file = dir.join("schemathesis.toml");
    std::fs::write(&config_file, config).unwrap();
    let hooks_file = dir.join("hooks.py");
    std::fs::write(&hooks_file, HOOKS).unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/openapi.json");
    let started = std::time::Instant::now();
    let child = tokio::process::Command::new(schemathesis())
        .arg("--config-file")
        .arg(&config_file)
        .args(["--no-color", "run", &url])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "20260101"])
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "10"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Its reports and caches stay out of the repository.
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", &hooks_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run schemathesis: {e}"));
    let out = tokio::time::timeout(TIME_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis on {service} ran longer than {TIME_LIMIT:?}"))
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found problems in the {service} service's OpenAPI document or handlers \
         ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    eprintln!(
        "{service}: schemathesis found nothing in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_does_what_its_openapi_document_says() {
    let shop = Shop::start().await;
    let customer = shop
        .customer(&format!("fuzz-{}@example.com", uuid::Uuid::now_v7()))
        .await;
    let admin = shop.admin_token();

    // Users: sign-up, sign-in, refresh and the signed-in user (the customer's token).
    fuzz("users", shop.users.port, &customer, USERS).await;
    // Products: the catalogue, quotes, and the administrators' stock routes.
    fuzz("products", shop.products.port, &admin, PRODUCTS).await;
    // Orders: the customer's own orders.
    fuzz("orders", shop.orders.port, &customer, ORDERS).await;
    // Payments: the customer's payments.
    fuzz("payments", shop.payments.port, &customer, PAYMENTS).await;
    shop.stop().await;
}

/// What no document can state, as schemathesis hooks (Python).
///
/// - A page cursor (`after`) is valid only as a `next_cursor` the API issued
///   (for the same `sort`): any other string is rightly `400`, and the fuzzer
///   cannot make one up. Cases meant to be valid go without one; cases meant
///   to be invalid keep theirs, so a bad cursor is still seen refused.
/// - `POST /api/v1/orders` without `items` orders the customer's cart, and an
///   empty cart is rightly refused: the fuzzer's customer has none, so cases
///   meant to be valid name their items (one line of a product that does not
///   exist: `404`, which the checks allow for data the fuzzer cannot create).
const HOOKS: &str = r#"
import schemathesis
from schemathesis.generation import GenerationMode


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return case
    if isinstance(case.query, dict) and "after" in case.query:
        case.query = {k: v for k, v in case.query.items() if k != "after"}
    if (
        case.method.upper() == "POST"
        and case.path == "/api/v1/orders"
        and isinstance(case.body, dict)
        and case.body.get("items") is None
    ):
        line = {"product_id": "00000000-0000-7000-8000-000000000000", "quantity": 1}
        case.body = {**case.body, "items": [line]}
    return case
"#;

const USERS: &str = "";
const PRODUCTS: &str = "";
const ORDERS: &str = "";
const PAYMENTS: &str = "";
