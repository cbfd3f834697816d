//! A counting proxy in front of a subgraph, so a test can see how many
//! requests (and `_entities` requests) the router sent to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

/// Requests one subgraph received through its proxy.
#[derive(Default, Debug)]
pub struct Traffic {
    /// All GraphQL requests.
    pub requests: AtomicUsize,
    /// Requests that resolved entities (`_entities`).
    pub entity_requests: AtomicUsize,
    /// The `X-Correlation-ID` and `traceparent` of the last request.
    pub last_ids: std::sync::Mutex<(Option<String>, Option<String>)>,
}

impl Traffic {
    /// (requests, entity requests) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.requests.load(Ordering::SeqCst),
            self.entity_requests.load(Ordering::SeqCst),
        )
    }

    /// Starts counting again.
    pub fn reset(&self) {
        self.requests.store(0, Ordering::SeqCst);
        self.entity_requests.store(0, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    traffic: Arc<Traffic>,
    http: reqwest::Client,
}

async fn forward(State(proxy): State<Proxy>, headers: HeaderMap, body: Bytes) -> Response {
    proxy.traffic.requests.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if let Ok(mut ids) = proxy.traffic.last_ids.lock() {
        *ids = (header("x-correlation-id"), header("traceparent"));
    }
    if body.windows(9).any(|w| w == b"_entities") {
        proxy.traffic.entity_requests.fetch_add(1, Ordering::SeqCst);
    }
    let mut req = proxy.http.post(&proxy.upstream).body(body);
    for (name, value) in headers.iter() {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            req = req.header(name.as_str(), value.as_bytes());
        }
    }
    match req.send().await {
        Ok(res) => {
            let status =
                StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = res.headers().get("content-type").cloned();
            // Streamed, not buffered: a subscription's events pass as they come.
            let body = axum::body::Body::from_stream(res.bytes_stream());
            let mut response = (status, body).into_response();
            if let Some(ct) =
                content_type.and_then(|c| c.to_str().ok().and_then(|s| s.parse().ok()))
            {
                response.headers_mut().insert("content-type", ct);
            }
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

pub(crate) async fn start_proxy(upstream_port: u16, traffic: Arc<Traffic>) -> u16 {
    let proxy = Proxy {
        upstream: format!("http://127.0.0.1:{upstream_port}/graphql"),
        traffic,
        http: reqwest::Client::new(),
    };
    let app = Router::new()
        .route("/graphql", post(forward))
        .with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}
