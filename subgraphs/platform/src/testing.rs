//! Helpers for integration tests: a fresh PostgreSQL database per test and a
//! development RSA key pair generated once per test process.

use std::sync::OnceLock;

use rand::distributions::{Alphanumeric, DistString};
use rsa::pkcs8::EncodePrivateKey;

/// A PEM key pair.
#[derive(Debug, Clone)]
pub struct TestKeys {
    /// PKCS#8 private key.
    pub private_pem: String,
    /// SPKI public key.
    pub public_pem: String,
}

/// A 2048-bit RSA key pair, generated on first use and shared by the process.
pub fn test_keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::thread_rng();
        #[allow(clippy::expect_used)] // test fixture: a failure here is a broken test setup
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
        #[allow(clippy::expect_used)]
        let private_pem = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .expect("PKCS#8 encoding")
            .to_string();
        #[allow(clippy::expect_used)]
        let public_pem = crate::auth::public_pem_of(&key).expect("SPKI encoding");
        TestKeys {
            private_pem,
            public_pem,
        }
    })
}

/// The server tests create their databases on: `TEST_DATABASE_URL` or the local
/// PostgreSQL.
pub fn test_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A URL to a database no other test uses (created on first connect by
/// [`crate::db::connect`]). Names start with `t_` so `scripts/test` can drop
/// leftovers of earlier runs.
pub fn fresh_database_url(service: &str) -> String {
    let suffix = Alphanumeric
        .sample_string(&mut rand::thread_rng(), 12)
        .to_lowercase();
    format!(
        "{}/t_{service}_{suffix}",
        test_server_url().trim_end_matches('/')
    )
}

/// Compares a subgraph's SDL with the committed `schema/{name}.graphql` (the file
/// composition reads) and with its insta snapshot. Run with `UPDATE_SCHEMA=1` to
/// rewrite the file after an intended change (and `cargo insta accept`, or
/// `INSTA_UPDATE=always`, for the snapshot).
#[allow(clippy::expect_used, clippy::panic)] // test assertion helper
pub fn assert_schema(name: &str, sdl: &str) {
    let schema_dir = workspace_root().join("schema");
    let path = schema_dir.join(format!("{name}.graphql"));
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != sdl {
        if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
            std::fs::write(&path, sdl).expect("write schema file");
        } else {
            panic!(
                "{} is stale: the {name} subgraph's schema changed. Review the change and run \
                 `UPDATE_SCHEMA=1 INSTA_UPDATE=always cargo test -p {name} schema` to update it.",
                path.display()
            );
        }
    }
    insta::with_settings!({
        snapshot_path => schema_dir.join("snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, sdl);
    });
}

/// The workspace root (two levels above a service crate's manifest).
pub fn workspace_root() -> std::path::PathBuf {
    let mut dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // platform lives at <root>/subgraphs/platform
    dir.pop();
    dir.pop();
    dir
}

/// A GraphQL client for tests against a running service (or the router).
#[derive(Debug, Clone)]
pub struct GraphqlClient {
    /// The `/graphql` URL.
    pub url: String,
    http: reqwest::Client,
}

impl GraphqlClient {
    /// A client for `http://127.0.0.1:{port}/graphql`.
    pub fn local(port: u16) -> Self {
        GraphqlClient {
            url: format!("http://127.0.0.1:{port}/graphql"),
            http: reqwest::Client::new(),
        }
    }

    /// Posts a query; returns the whole response body (`data` and `errors`).
    #[allow(clippy::expect_used)] // test helper: a transport failure fails the test
    pub async fn query(
        &self,
        query: &str,
        variables: serde_json::Value,
        token: Option<&str>,
    ) -> serde_json::Value {
        let mut req = self
            .http
            .post(&self.url)
            .json(&serde_json::json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
            .await
            .expect("send GraphQL request")
            .json()
            .await
            .expect("JSON response")
    }
}

/// The `extensions.code` of the first GraphQL error in a response, if any.
pub fn first_error_code(response: &serde_json::Value) -> Option<String> {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_string)
}

/// Counts the SQL statements sqlx executes on this thread while installed.
///
/// sqlx reports every statement as a `tracing` event with target `sqlx::query`;
/// this subscriber counts those events, so a test can show that resolving N
/// entities costs a constant number of queries. Use it on a current-thread
/// runtime (`#[tokio::test]`), where every task runs on the installing thread.
#[derive(Clone, Default)]
pub struct QueryCounter {
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl QueryCounter {
    /// Installs a counter as this thread's default subscriber until the guard drops.
    pub fn install() -> (QueryCounter, tracing::subscriber::DefaultGuard) {
        use tracing_subscriber::layer::SubscriberExt;
        let counter = QueryCounter::default();
        let subscriber = tracing_subscriber::registry().with(counter.clone());
        let guard = tracing::subscriber::set_default(subscriber);
        // Callsites first hit while no dispatcher wanted them cache "never";
        // re-evaluate them now that this one does.
        tracing::callsite::rebuild_interest_cache();
        (counter, guard)
    }

    /// Statements counted so far.
    pub fn get(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resets the count to zero.
    pub fn reset(&self) {
        self.count.store(0, std::sync::atomic::Ordering::SeqCst);
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for QueryCounter {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() == "sqlx::query" {
            self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
