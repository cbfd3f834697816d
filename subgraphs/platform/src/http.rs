//! The HTTP side every service shares: `/graphql` (POST for queries, GET for
//! GraphiQL), `/health/live`, `/health/ready`, correlation ids, body limits,
//! request tracing, and serving with graceful shutdown on SIGTERM/Ctrl-C.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use async_graphql::Executor;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::auth::{Auth, JwtVerifier};
use crate::workers::WorkerHealth;

pub use crate::context::CORRELATION_ID;
/// Largest request body a service accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Clone)]
struct GraphqlState<E> {
    executor: E,
    verifier: Arc<JwtVerifier>,
}

/// `/graphql`: POST runs the request with the caller's [`Auth`] in its data,
/// GET serves GraphiQL (not in `production`).
pub fn graphql_router<E>(executor: E, verifier: Arc<JwtVerifier>, production: bool) -> Router
where
    E: Executor + Clone + 'static,
{
    // GraphiQL only in development (it shows the schema to anyone).
    let route = if production {
        axum::routing::post(graphql::<E>)
    } else {
        get(graphiql).post(graphql::<E>)
    };
    Router::new()
        .route("/graphql", route)
        // GraphQL's extractor reads the raw body: bound it here too.
        .route_layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .route_layer(axum::middleware::from_fn(json_only))
        .with_state(GraphqlState { executor, verifier })
}

async fn graphql<E: Executor>(
    State(state): State<GraphqlState<E>>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> axum::response::Response {
    let request = request.into_inner();
    if let Err(rejected) = check_graphql_text(&request) {
        let error = async_graphql::ServerError::new(rejected.message(), None);
        let mut error = error;
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", "BAD_USER_INPUT");
        extensions.set("field", rejected.field.clone());
        error.extensions = Some(extensions);
        return GraphQLResponse::from(async_graphql::Response::from_errors(vec![error]))
            .into_response();
    }
    let auth = Auth::from_headers_fresh(&headers, &state.verifier).await;
    let mut request = request.data(auth.clone());
    if let (Auth::User(_), Some(token)) = (&auth, crate::auth::BearerToken::from_headers(&headers))
    {
        // A verified caller's token, for calls made on their behalf.
        request = request.data(token);
    }
    if accepts_event_stream(&headers) {
        use futures::StreamExt;
        let responses = state.executor.execute_stream(request, None).map(|mut r| {
            classify(&mut r);
            r
        });
        return event_stream(responses).into_response();
    }
    let (operation, started) = (request.operation_name.clone(), std::time::Instant::now());
    let mut response = state.executor.execute(request).await;
    classify(&mut response);
    crate::metrics::graphql_operation(operation.as_deref(), started, !response.errors.is_empty());
    GraphQLResponse::from(response).into_response()
}

/// Every error leaves with a code. One without is the engine's own: a variable
/// or argument of the wrong shape (an unknown input field, an Int out of
/// range), which the router's validation does not see, is `BAD_USER_INPUT`
/// with the engine's reason and, where it names one, the argument in
/// `extensions.field`; anything else is internal: logged, and opaque.
pub fn classify(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        if error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some())
        {
            continue;
        }
        let mut extensions = error.extensions.take().unwrap_or_default();
        // The engine's own input errors: a value it could not coerce (an
        // argument's variable is coerced when the field resolves, so these
        // may carry a path too).
        let coercion = ["Invalid value for argument", "Failed to parse \""]
            .iter()
            .any(|prefix| error.message.starts_with(prefix));
        if error.path.is_empty() || coercion {
            extensions.set("code", "BAD_USER_INPUT");
            if let Some(field) = input_path(&error.message) {
                extensions.set("field", field);
            }
        } else {
            tracing::error!(message = %error.message, path = ?error.path, "internal GraphQL error");
            error.message = "internal error".into();
            extensions.set("code", "INTERNAL_SERVER_ERROR");
        }
        error.extensions = Some(extensions);
    }
}

/// The input path an engine message names: `argument "input"` and, inside it,
/// `field "emial"` give `input.emial`.
fn input_path(message: &str) -> Option<String> {
    let quoted_after = |marker: &str| {
        let rest = &message[message.find(marker)? + marker.len()..];
        let rest = rest.strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_string())
    };
    let argument = quoted_after("argument ").or_else(|| quoted_after("variable "))?;
    let argument = argument.trim_start_matches('$').to_string();
    Some(match quoted_after("field ") {
        Some(field) => format!("{argument}.{field}"),
        None => argument,
    })
}

/// Whether the caller asked for Server-Sent Events (the router does for a
/// subscription, offering `multipart/mixed` first and `text/event-stream`).
fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// A subscription (or any operation) as Server-Sent Events in the GraphQL over
/// SSE "distinct connections" format: one `next` event per response, then
/// `complete`. Comments keep idle connections open through proxies.
fn event_stream(
    responses: impl futures::Stream<Item = async_graphql::Response> + Send + 'static,
) -> impl IntoResponse {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures::StreamExt;
    let events = responses
        .map(|response| {
            let event = Event::default().event("next");
            Ok::<_, std::convert::Infallible>(match event.json_data(&response) {
                Ok(event) => event,
                Err(e) => {
                    tracing::error!(error = %e, "a response could not be serialized");
                    Event::default()
                        .event("next")
                        .data(r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#)
                }
            })
        })
        .chain(futures::stream::once(async {
            Ok(Event::default().event("complete").data(""))
        }));
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Every text value of a GraphQL request (variables, and string literals in
/// the document) passes [`crate::input::check_text`] before anything runs.
/// A document that does not parse is left to the executor's own error.
fn check_graphql_text(request: &async_graphql::Request) -> Result<(), crate::input::TextRejection> {
    use crate::input::check_graphql;
    let variables = async_graphql::Value::Object(
        request
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    check_graphql("variables", &variables)?;
    if let Some(name) = &request.operation_name {
        crate::input::check_text("operationName", name)?;
    }
    match async_graphql::parser::parse_query(&request.query) {
        Ok(document) => check_graphql("query", &document),
        Err(_) => Ok(()),
    }
}

/// `/graphql` takes JSON only: no multipart uploads, which would be read into
/// memory (415 otherwise), and no body over [`MAX_BODY_BYTES`] (413).
async fn json_only(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return body_problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        );
    }
    let multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });
    if multipart {
        return body_problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "GraphQL requests are JSON (application/json); multipart is not supported",
        );
    }
    next.run(request).await
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

/// Checks a service's dependencies (store, broker) for `/health/ready`.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// `/health/live` (the process answers) and `/health/ready` (its dependencies do).
pub fn health_router(ready: ReadinessCheck) -> Router {
    Router::new()
        .route(
            "/health/live",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/health/ready",
            get(move |workers: Option<axum::Extension<WorkerHealth>>| {
                let ready = ready.clone();
                async move { readiness(ready, workers.map(|w| w.0)).await }
            }),
        )
}

async fn readiness(ready: ReadinessCheck, workers: Option<WorkerHealth>) -> Response {
    let checked = async {
        ready().await?;
        match &workers {
            Some(workers) => workers.check(),
            None => Ok(()),
        }
    };
    match tokio::time::timeout(Duration::from_secs(3), checked).await {
        Ok(Ok(())) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Ok(Err(why)) => {
            tracing::warn!(%why, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "reason": why})),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": "check timed out"})),
        )
            .into_response(),
    }
}

/// A readiness check that pings a PostgreSQL pool.
pub fn postgres_ready(pool: sqlx::PgPool) -> ReadinessCheck {
    Arc::new(move || {
        let pool = pool.clone();
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&pool)
                .await
                .map(|_| ())
                .map_err(|e| format!("database: {e}"))
        })
    })
}

/// Wraps a service's routes with the layers every service has: correlation ids
/// (kept from the caller or generated), request tracing and a body size limit.
pub fn with_common_layers(router: Router) -> Router {
    let correlation = HeaderName::from_static(CORRELATION_ID);
    router
        .merge(crate::metrics::metrics_router())
        // An unknown route is a problem too (404, problem+json), not a bare status.
        .fallback(|| async { crate::Error::NotFound("no such route".into()).into_response() })
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(axum::middleware::from_fn(in_request_context))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
                    let id = header(CORRELATION_ID).unwrap_or("-");
                    let span = tracing::info_span!(
                        "request",
                        method = %req.method(),
                        uri = %req.uri(),
                        correlation_id = %id,
                        trace_id = tracing::field::Empty,
                    );
                    // The caller's trace continues here (headers checked by
                    // sanitize_trace_headers before this span is made).
                    crate::telemetry::continue_trace(
                        &span,
                        header("traceparent"),
                        header("tracestate"),
                    );
                    span
                })
                // One access-log line per request (status, latency), in the request's span.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(correlation.clone()))
        .layer(SetRequestIdLayer::new(correlation, MakeRequestUuid))
        .layer(axum::middleware::from_fn(check_request_line))
        .layer(axum::middleware::from_fn(sanitize_trace_headers))
}

/// The longest correlation id kept from a caller.
pub const MAX_CORRELATION_ID: usize = 128;

/// Whether a caller's correlation id is kept: 1 to [`MAX_CORRELATION_ID`]
/// bytes of letters, digits and `._+/=:-` (what Kong, the router and UUIDs
/// produce). Anything else is replaced by a fresh id, so no client value of
/// any length or content reaches logs, events or AMQP properties.
pub fn is_valid_correlation_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CORRELATION_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+/=:-".contains(&b))
}

/// The trace id of a W3C `traceparent` (its second field), which every log
/// line of a request and of the events it causes carries as `trace_id`.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    traceparent.split('-').nth(1).filter(|id| id.len() == 32)
}

/// Whether `value` is a W3C `traceparent` (version 00 shape, non-zero ids).
pub fn is_valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    parts.len() == 4
        && hex(parts[0], 2)
        && parts[0] != "ff"
        && hex(parts[1], 32)
        && parts[1].bytes().any(|b| b != b'0')
        && hex(parts[2], 16)
        && parts[2].bytes().any(|b| b != b'0')
        && hex(parts[3], 2)
}

/// Whether the header `name` is there once, as text that passes `check`
/// (`None`: absent).
fn header_passes(headers: &HeaderMap, name: &str, check: fn(&str) -> bool) -> Option<bool> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    Some(values.next().is_none() && first.to_str().is_ok_and(check))
}

/// Replaces an invalid `X-Correlation-ID` with a fresh one and drops an
/// invalid `traceparent` (and its `tracestate`), before anything reads them.
async fn sanitize_trace_headers(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers_mut();
    if header_passes(headers, CORRELATION_ID, is_valid_correlation_id) == Some(false) {
        headers.remove(CORRELATION_ID);
        let fresh = uuid::Uuid::new_v4().to_string();
        if let Ok(value) = axum::http::HeaderValue::from_str(&fresh) {
            headers.insert(CORRELATION_ID, value);
        }
    }
    if header_passes(headers, "traceparent", is_valid_traceparent) == Some(false) {
        headers.remove("traceparent");
        headers.remove("tracestate");
    }
    next.run(request).await
}

/// Refuses a request whose path or query string carries text that
/// [`crate::input::check_text`] refuses (once decoded): problem+json 400.
async fn check_request_line(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let uri = request.uri();
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    let mut checked = crate::input::check_text("path", &path);
    if let (Ok(()), Some(query)) = (&checked, uri.query()) {
        checked = match serde_urlencoded::from_str::<Vec<(String, String)>>(query) {
            Ok(pairs) => pairs.iter().try_for_each(|(k, v)| {
                crate::input::check_text("query", k)?;
                crate::input::check_text(&format!("query.{k}"), v)
            }),
            Err(_) => Err(crate::input::TextRejection {
                field: "query".into(),
                reason: "is not a valid query string".into(),
            }),
        };
    }
    match checked {
        Ok(()) => next.run(request).await,
        Err(rejected) => rejected.into_error().into_response(),
    }
}

/// Runs the rest of the request inside its [`RequestContext`](crate::context::RequestContext).
async fn in_request_context(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut context = crate::context::RequestContext::from_headers(request.headers());
    if context.client_address.is_none() {
        context.client_address = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string());
    }
    context.scope(next.run(request)).await
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}

/// A JSON body extractor whose rejections are problem details (400/413/415)
/// instead of axum's plain-text ones.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        // Read as JSON, check every text value, then take the shape wanted.
        let value = match Json::<serde_json::Value>::from_request(req, state).await {
            Ok(Json(v)) => v,
            Err(rejection) => return Err(body_problem(rejection.status(), &rejection.body_text())),
        };
        if let Err(rejected) = crate::input::check_json("body", &value) {
            return Err(rejected.into_error().into_response());
        }
        let mut value = value;
        whole_numbers_as_integers(&mut value);
        match serde_json::from_value::<T>(value) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => Err(body_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Failed to deserialize the JSON body into the target type: {e}"),
            )),
        }
    }
}

/// JSON does not tell `2` from `2.0`, and JSON Schema counts both as an
/// `integer`: a whole number written with a fraction reads as an integer
/// (a field that wants a float still takes it).
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                // Within ±2^63, where an f64 that is whole converts exactly.
                if f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
                {
                    *value = serde_json::Value::from(f as i64);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

fn body_problem(status: StatusCode, detail: &str) -> Response {
    crate::error::Problem::new(status, "BAD_USER_INPUT", detail).into_response()
}

/// `GET /api/v1/openapi.json`: the service's OpenAPI document.
pub fn openapi_router(doc: utoipa::openapi::OpenApi) -> Router {
    let doc = Arc::new(doc);
    Router::new().route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json(doc.as_ref().clone()) }
        }),
    )
}

/// A bound HTTP server: tests bind port 0 and read [`Server::port`].
pub struct Server {
    listener: TcpListener,
    router: Router,
}

impl Server {
    /// Binds `host:port` (port 0 picks a free one) for `router`.
    pub async fn bind(host: &str, port: u16, router: Router) -> std::io::Result<Server> {
        let listener = TcpListener::bind((host, port)).await?;
        Ok(Server { listener, router })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(port = self.port(), "listening");
        serve(self.listener, self.router, shutdown).await
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run(shutdown_signal()).await
    }

    /// Serves until `shutdown` resolves, then stops `workers` (after the HTTP
    /// requests in flight are answered).
    pub async fn run_with_workers(
        mut self,
        workers: crate::workers::Workers,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // `/health/ready` reports the workers too.
        self.router = self.router.layer(axum::Extension(workers.health()));
        let served = self.run(shutdown).await;
        workers.stop(std::time::Duration::from_secs(10)).await;
        served
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_trace_id_is_the_second_field_of_a_traceparent() {
        assert_eq!(
            trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_id("garbage"), None);
    }

    #[test]
    fn the_engines_input_errors_name_the_argument_and_field() {
        assert_eq!(
            input_path(r#"Invalid value for argument "input", field "email" of type "String!" is required but not provided"#).as_deref(),
            Some("input.email")
        );
        assert_eq!(
            input_path(r#"Invalid value for argument "first", expected type "Int""#).as_deref(),
            Some("first")
        );
        assert_eq!(input_path("internal error"), None);
    }

    #[test]
    fn an_error_without_a_code_is_a_client_error_before_resolving_and_internal_inside() {
        let mut response = async_graphql::Response::from_errors(vec![
            async_graphql::ServerError::new(
                r#"Invalid value for argument "q", expected type "Int""#,
                None,
            ),
            {
                let mut e = async_graphql::ServerError::new("Data `Orders` does not exist.", None);
                e.path = vec![async_graphql::PathSegment::Field("order".into())];
                e
            },
            {
                let mut e =
                    async_graphql::ServerError::new(r#"Failed to parse "Int": out of range"#, None);
                e.path = vec![async_graphql::PathSegment::Field("addToCart".into())];
                e
            },
        ]);
        classify(&mut response);
        let codes: Vec<(String, String)> = response
            .errors
            .iter()
            .map(|e| {
                let code = e
                    .extensions
                    .as_ref()
                    .and_then(|x| x.get("code"))
                    .map(|c| c.to_string());
                (code.unwrap_or_default(), e.message.clone())
            })
            .collect();
        assert_eq!(codes[0].0, "\"BAD_USER_INPUT\"");
        assert_eq!(
            codes[1],
            (
                "\"INTERNAL_SERVER_ERROR\"".to_string(),
                "internal error".to_string()
            )
        );
        assert_eq!(codes[2].0, "\"BAD_USER_INPUT\"");
    }

    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn an_unknown_route_is_a_problem_document() {
        let app = with_common_layers(Router::new());
        let res = app
            .oneshot(
                axum::http::Request::get("/api/v1/nothing-here")
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            res.headers()
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
    }

    #[tokio::test]
    async fn graphiql_is_served_in_development_only() {
        let keys = testkit::test_keys();
        let verifier = Arc::new(JwtVerifier::from_public_pem(&keys.public_pem).expect("key"));
        struct Query;
        #[async_graphql::Object]
        impl Query {
            async fn ping(&self) -> bool {
                true
            }
        }
        let schema = async_graphql::Schema::new(
            Query,
            async_graphql::EmptyMutation,
            async_graphql::EmptySubscription,
        );
        for (production, status) in [
            (false, StatusCode::OK),
            (true, StatusCode::METHOD_NOT_ALLOWED),
        ] {
            let app = graphql_router(schema.clone(), verifier.clone(), production);
            let res = app
                .oneshot(
                    axum::http::Request::get("/graphql")
                        .body(axum::body::Body::empty())
                        .expect("request"),
                )
                .await
                .expect("response");
            assert_eq!(res.status(), status, "production: {production}");
        }
    }
}
