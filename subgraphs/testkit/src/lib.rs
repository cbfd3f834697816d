//! The test kit: helpers for tests only, never a dependency of a service
//! (every crate takes it as a dev-dependency). A fresh PostgreSQL database per
//! test, a development RSA key pair generated once per test process, a GraphQL
//! client (also over Server-Sent Events), a SQL statement counter, schema
//! assertions, TCP proxies to cut a connection, (`bus`) a private corner of
//! the real broker, and (`otlp`) a trace receiver.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod bus;
pub mod otlp;

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
    KEYS.get_or_init(new_test_keys)
}

/// A new 2048-bit RSA key pair (key rotation tests).
pub fn new_test_keys() -> TestKeys {
    {
        let mut rng = rand::thread_rng();
        #[allow(clippy::expect_used)] // test fixture: a failure here is a broken test setup
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
        #[allow(clippy::expect_used)]
        let private_pem = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .expect("PKCS#8 encoding")
            .to_string();
        #[allow(clippy::expect_used)]
        let public_pem = platform::auth::public_pem_of(&key).expect("SPKI encoding");
        TestKeys {
            private_pem,
            public_pem,
        }
    }
}

/// The server tests create their databases on: `TEST_DATABASE_URL` or the local
/// PostgreSQL.
pub fn test_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// What every service's test configuration has: listening on a free port of
/// 127.0.0.1, a fresh database ([`fresh_database_url`]), the test keys, a small
/// pool, and no event workers (a test that wants them turns them on with its
/// own prefix).
pub fn service_config(service: &str) -> platform::config::ServiceConfig {
    platform::config::ServiceConfig {
        host: "127.0.0.1".into(),
        port: 0,
        database_url: fresh_database_url(service).into(),
        jwt_public_key_pem: Some(test_keys().public_pem.clone()),
        db_max_connections: 5,
        event_workers: false,
        ..platform::config::ServiceConfig::local(0, service)
    }
}

/// A URL to a database no other test uses (created on first connect by
/// [`platform::db::connect`]). Names start with `t_` so `scripts/test` can drop
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

/// The workspace root: the nearest directory, from the package under test
/// upwards, that holds `Cargo.lock`.
#[allow(clippy::panic)] // a test run outside any checkout cannot go on
pub fn workspace_root() -> std::path::PathBuf {
    // The package under test, as cargo and nextest tell the running test: not
    // this crate's path at compile time, which a build shared by two checkouts
    // (one target directory) may have taken from the other one.
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    package
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| panic!("no Cargo.lock at or above {}", package.display()))
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

/// A TCP proxy a test controls, to cut one service's way to a dependency
/// (its database, the broker) without touching anything else that runs in
/// parallel: while cut, open connections are dropped and new ones are closed
/// at once (like a server that is down).
pub struct TcpProxy {
    port: u16,
    cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Starts a proxy on a free local port forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<TcpProxy> {
        TcpProxy::balance(&[upstream.to_string()]).await
    }

    /// Starts a proxy spreading connections over `upstreams` in turn (a load
    /// balancer in front of replicas); an upstream that refuses a connection
    /// is skipped for that connection.
    pub async fn balance(upstreams: &[String]) -> std::io::Result<TcpProxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (cut, _) = tokio::sync::watch::channel(false);
        let cut = std::sync::Arc::new(cut);
        let upstreams = std::sync::Arc::new(upstreams.to_vec());
        let state = cut.clone();
        let task = tokio::spawn(async move {
            let mut next = 0usize;
            while let Ok((mut client, _)) = listener.accept().await {
                if *state.borrow() {
                    drop(client);
                    continue;
                }
                let upstreams = upstreams.clone();
                let first = next;
                next = next.wrapping_add(1);
                let mut cut = state.subscribe();
                tokio::spawn(async move {
                    let mut connected = None;
                    for i in 0..upstreams.len() {
                        let upstream = &upstreams[(first + i) % upstreams.len()];
                        if let Ok(s) = tokio::net::TcpStream::connect(upstream).await {
                            connected = Some(s);
                            break;
                        }
                    }
                    let Some(mut server) = connected else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Ok(TcpProxy { port, cut, task })
    }

    /// The local port to connect to instead of the upstream.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.task.abort();
    }
}

/// `url` (a `postgres://` or `amqp://` URL on 127.0.0.1) with its port
/// replaced by `port`, e.g. to go through a [`TcpProxy`].
pub fn with_port(url: &str, port: u16) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_port(Some(port));
            parsed.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// A GraphQL subscription over Server-Sent Events (POST with
/// `Accept: text/event-stream`, the "distinct connections" mode), read as a
/// frontend would.
pub struct SseSubscription {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buffer: String,
    /// Whether the server sent `complete`.
    pub completed: bool,
}

impl SseSubscription {
    /// Subscribes at `url` (a `/graphql` endpoint). A refusal before the stream
    /// (an error response) comes back as the stream's only response.
    #[allow(clippy::expect_used)] // test fixture
    pub async fn start(
        url: &str,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> Self {
        let mut request = reqwest::Client::new()
            .post(url)
            .header("accept", "text/event-stream")
            .json(&serde_json::json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("subscribe");
        let is_stream = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_stream {
            let body = response.text().await.unwrap_or_default();
            let framed = format!("event: next\ndata: {body}\n\nevent: complete\ndata:\n\n");
            return SseSubscription {
                body: Box::pin(futures::stream::once(
                    async move { Ok(framed.into_bytes()) },
                )),
                buffer: String::new(),
                completed: false,
            };
        }
        SseSubscription {
            body: Box::pin(futures::StreamExt::map(response.bytes_stream(), |chunk| {
                chunk.map(|b| b.to_vec())
            })),
            buffer: String::new(),
            completed: false,
        }
    }

    /// The next response, or `None` when the stream ended (or `wait` passed).
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let mut kind = "";
                let mut data = String::new();
                for line in event.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        kind = if v.trim() == "next" {
                            "next"
                        } else {
                            "complete"
                        };
                        if v.trim() != "next" && v.trim() != "complete" {
                            kind = "";
                        }
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                match kind {
                    "next" if !data.is_empty() => return serde_json::from_str(&data).ok(),
                    "complete" => {
                        self.completed = true;
                        return None;
                    }
                    _ => continue,
                }
            }
            let chunk =
                tokio::time::timeout_at(deadline, futures::StreamExt::next(&mut self.body)).await;
            match chunk {
                Ok(Some(Ok(bytes))) => self
                    .buffer
                    .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n")),
                _ => return None,
            }
        }
    }
}
