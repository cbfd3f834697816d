//! Prometheus metrics at `/metrics`: every HTTP request is counted and timed by
//! method, matched route and status; every GraphQL operation is timed by name
//! and outcome (a histogram); a database pool's use is sampled; other modules
//! add their own with the `metrics` macros.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::workers::{WorkerContext, Workers};

/// The buckets (seconds) of the latency histograms: from a cached read to a
/// slow saga.
const LATENCY_BUCKETS: [f64; 17] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// The metrics recorded as histograms (with [`LATENCY_BUCKETS`]); the rest of
/// the `histogram!`s render as summaries.
const HISTOGRAMS: [&str; 2] = [
    "graphql_operation_duration_seconds",
    "order_saga_duration_seconds",
];

/// The process's recorder (installed once; several services in one test
/// process share it).
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            match HISTOGRAMS
                .iter()
                .try_fold(PrometheusBuilder::new(), |builder, name| {
                    builder.set_buckets_for_metric(Matcher::Full((*name).into()), &LATENCY_BUCKETS)
                })
                .and_then(PrometheusBuilder::install_recorder)
            {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// `GET /metrics` in the Prometheus text format.
pub fn metrics_router() -> Router {
    let _ = handle();
    Router::new().route(
        "/metrics",
        get(|| async {
            let body = handle().map(PrometheusHandle::render).unwrap_or_default();
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4",
                )],
                body,
            )
                .into_response()
        }),
    )
}

/// Counts and times a request (`http_requests_total`,
/// `http_request_duration_seconds`), labelled by its route template, not its
/// raw path, so ids do not explode the label space.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// How many distinct operation names are labelled; later ones are `other`
/// (names come from clients: the label space stays bounded).
const MAX_OPERATION_NAMES: usize = 200;

/// The label for an operation name: the name if it is a plain GraphQL name of
/// at most 64 characters and among the first [`MAX_OPERATION_NAMES`] seen,
/// `anonymous` without one, else `other`. The router forwards the client's
/// name with its fetch step (`PlaceOrder__2`): the step is cut off.
pub fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let name = name.map(|n| n.split("__").next().unwrap_or(n));
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous".into();
    };
    let plain = name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !plain {
        return "other".into();
    }
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_string());
        name.to_string()
    } else {
        "other".into()
    }
}

/// Times one GraphQL operation: `graphql_operation_duration_seconds`, a
/// histogram labelled by operation name and outcome (`ok`, or `error` when the
/// response carries errors).
pub fn graphql_operation(name: Option<&str>, started: Instant, failed: bool) {
    let labels = [
        ("operation", operation_label(name)),
        ("outcome", if failed { "error" } else { "ok" }.to_string()),
    ];
    metrics::histogram!("graphql_operation_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
}

/// How often a pool's use is sampled.
const POOL_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Samples `pool`'s use into `db_pool_connections{database,state}` (`in_use`,
/// `idle`) and `db_pool_max_connections{database}`, as a supervised worker.
pub fn spawn_pool_metrics(workers: &mut Workers, pool: &sqlx::PgPool) {
    let pool = pool.clone();
    workers.spawn("db-pool-metrics", move |ctx| sample_pool(pool.clone(), ctx));
}

async fn sample_pool(pool: sqlx::PgPool, ctx: WorkerContext) {
    let database = pool
        .connect_options()
        .get_database()
        .unwrap_or("unknown")
        .to_string();
    let max = f64::from(pool.options().get_max_connections());
    loop {
        let (size, idle) = (pool.size(), pool.num_idle());
        let in_use = f64::from(size) - idle as f64;
        let gauge = |state: &'static str| metrics::gauge!("db_pool_connections", "database" => database.clone(), "state" => state);
        gauge("in_use").set(in_use.max(0.0));
        gauge("idle").set(idle as f64);
        metrics::gauge!("db_pool_max_connections", "database" => database.clone()).set(max);
        tokio::select! {
            () = tokio::time::sleep(POOL_SAMPLE_EVERY) => {}
            () = ctx.token.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded_labels() {
        assert_eq!(operation_label(Some("PlaceOrder")), "PlaceOrder");
        assert_eq!(operation_label(Some("PlaceOrder__2")), "PlaceOrder");
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("")), "anonymous");
        assert_eq!(operation_label(Some("drop table; --")), "other");
        assert_eq!(operation_label(Some(&"A".repeat(65))), "other");
    }
}
