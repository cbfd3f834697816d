//! A local OTLP/HTTP trace receiver: the services and the router export their
//! spans to it (`OTEL_EXPORTER_OTLP_ENDPOINT` = [`Collector::endpoint`]) and a
//! test asks which services took part in one trace.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

/// One received span.
#[derive(Debug, Clone)]
pub struct Span {
    /// The `service.name` of the process that exported it.
    pub service: String,
    /// The span's name.
    pub name: String,
    /// Hex trace id.
    pub trace_id: String,
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id ("" for a root).
    pub parent_span_id: String,
}

/// The receiver; stops when dropped.
#[derive(Debug)]
pub struct Collector {
    endpoint: String,
    spans: Arc<Mutex<Vec<Span>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Collector {
    /// Listens on a free local port.
    pub async fn start() -> Collector {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/v1/traces", post(receive))
            .with_state(spans.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the OTLP receiver");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Collector {
            endpoint,
            spans,
            task,
        }
    }

    /// The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (exporters add `/v1/traces`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("spans").clone()
    }

    /// The services that exported spans of trace `trace_id`.
    pub fn services_in(&self, trace_id: &str) -> BTreeSet<String> {
        self.spans()
            .into_iter()
            .filter(|s| s.trace_id == trace_id)
            .map(|s| s.service)
            .collect()
    }

    /// Waits (up to `within`) until one trace has spans of every service in
    /// `services`, and returns its id; on time-out, panics with what arrived.
    pub async fn trace_spanning(&self, services: &[&str], within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let mut by_trace: HashMap<String, BTreeSet<String>> = HashMap::new();
            for span in self.spans() {
                by_trace
                    .entry(span.trace_id)
                    .or_default()
                    .insert(span.service);
            }
            if let Some((id, _)) = by_trace
                .iter()
                .find(|(_, seen)| services.iter().all(|s| seen.contains(*s)))
            {
                return id.clone();
            }
            if tokio::time::Instant::now() > deadline {
                let mut traces: Vec<_> = by_trace.into_iter().collect();
                traces.sort_by_key(|(_, seen)| std::cmp::Reverse(seen.len()));
                traces.truncate(5);
                panic!(
                    "no trace spans all of {services:?} within {within:?}; the widest: {traces:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn receive(State(spans): State<Arc<Mutex<Vec<Span>>>>, body: Bytes) -> Vec<u8> {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return Vec::new();
    };
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            .map(|v| match v {
                Value::StringValue(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.push(Span {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                });
            }
        }
    }
    spans.lock().expect("spans").extend(received);
    ExportTraceServiceResponse::default().encode_to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
