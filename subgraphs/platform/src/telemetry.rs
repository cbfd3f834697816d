//! Structured logging and distributed traces with `tracing`.
//!
//! **Logs.** `RUST_LOG` filters (default `info`). The production profile
//! (`SHOP_ENV=production`) logs one JSON object per line for log shippers, each
//! with the fields of the spans it is in (the request's or the event's
//! `correlation_id` and `trace_id`); locally the lines are readable text.
//! `LOG_FORMAT=json` or `text` chooses either way.
//!
//! **Traces.** Off unless configured by the standard OpenTelemetry variables:
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns
//! the OTLP exporter (HTTP, protobuf) on; `OTEL_SDK_DISABLED=true` or
//! `OTEL_TRACES_EXPORTER=none` keeps it off; `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*` and
//! `OTEL_EXPORTER_OTLP_HEADERS` / `_TIMEOUT` work as the specification says.
//! Every `tracing` span becomes an OpenTelemetry span. A request continues the
//! caller's W3C trace context ([`continue_trace`], in `http::with_common_layers`);
//! calls to other services carry it ([`outgoing_headers`]); an event written to
//! the outbox records the span that wrote it ([`current_traceparent`]) and its
//! consumers continue from there, so one trace runs from the edge through every
//! service the saga touches.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Flushes the traces still buffered when dropped: keep it for the life of
/// `main` (`let _telemetry = telemetry::init(config::NAME, profile);`).
#[must_use = "traces still buffered are lost when this is dropped early"]
#[derive(Debug)]
pub struct Telemetry {
    exporting: bool,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let (true, Some(provider)) = (self.exporting, PROVIDER.get()) {
            if let Err(e) = provider.shutdown() {
                eprintln!("flushing traces at exit failed: {e}");
            }
        }
    }
}

/// Installs the global subscriber once; later calls only return a guard that
/// does nothing (tests call it often).
pub fn init(service: &str, profile: crate::config::Profile) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = match std::env::var("LOG_FORMAT") {
        Ok(format) => format.eq_ignore_ascii_case("json"),
        Err(_) => profile.is_production(),
    };
    let (traces, exporter_error) = match otlp_configured().then(|| tracer_provider(service)) {
        Some(Ok(provider)) => (Some(provider), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    // Spans go to OpenTelemetry at `info` whatever RUST_LOG says (a quiet log
    // must not cut the trace); RUST_LOG filters only the log lines.
    let otel = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service.to_string()))
            .with_tracked_inactivity(false)
            .with_filter(
                Targets::new()
                    .with_default(Level::INFO)
                    .with_target("sqlx", Level::WARN),
            )
    });
    let registry = tracing_subscriber::registry().with(otel);
    let result = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(true)
                    .with_filter(filter),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_filter(filter))
            .try_init()
    };
    let mut exporting = false;
    if result.is_ok() {
        if let Some(provider) = traces {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            exporting = PROVIDER.set(provider).is_ok();
        }
        tracing::info!(service, traces = exporting, "telemetry initialised");
        if let Some(e) = exporter_error {
            tracing::error!(error = %e, "the OTLP trace exporter could not be set up; no traces");
        }
    }
    Telemetry { exporting }
}

/// The standard OpenTelemetry variables a service reads (see the module docs).
pub const OTEL_VARIABLES: &[&str] = &[
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
];

/// Whether the OpenTelemetry variables ask for OTLP trace export.
fn otlp_configured() -> bool {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let exporter = var("OTEL_TRACES_EXPORTER");
    if disabled
        || exporter
            .as_deref()
            .is_some_and(|e| !e.eq_ignore_ascii_case("otlp"))
    {
        return false;
    }
    exporter.is_some()
        || var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
}

fn tracer_provider(service: &str) -> anyhow::Result<SdkTracerProvider> {
    // The exporter reads the endpoint, headers and timeout from OTEL_EXPORTER_OTLP_*;
    // its blocking client runs on the batch processor's own thread.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    let resource = if std::env::var_os("OTEL_SERVICE_NAME").is_some() {
        Resource::builder().build()
    } else {
        Resource::builder()
            .with_service_name(service.to_string())
            .build()
    };
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Makes `span` (declared with an empty `trace_id` field) continue the caller's
/// W3C trace context (`traceparent`, `tracestate`: from a request's headers or
/// an event, already checked) when traces are exported, and records in its
/// `trace_id` field the trace its log lines belong to: the span's own trace
/// when exported, else the caller's, else `-`.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let exported = PROVIDER.get().and_then(|_| {
        let carrier: std::collections::HashMap<String, String> =
            [("traceparent", traceparent), ("tracestate", tracestate)]
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
                .collect();
        let parent = TraceContextPropagator::new().extract(&carrier);
        if parent.span().span_context().is_valid() {
            // Only fails when the span is disabled (filtered out).
            let _ = span.set_parent(parent);
        }
        let context = span.context();
        let own = context.span().span_context().clone();
        own.is_valid().then(|| own.trace_id().to_string())
    });
    let trace = exported
        .as_deref()
        .or_else(|| traceparent.and_then(crate::http::trace_id))
        .unwrap_or("-");
    span.record("trace_id", trace);
}

/// The W3C `traceparent` of the current span when traces are exported, so
/// what it causes (an outbox event, a call) becomes its child; `None` otherwise.
pub fn current_traceparent() -> Option<String> {
    PROVIDER.get()?;
    let context = tracing::Span::current().context();
    let span = context.span();
    let context = span.span_context();
    context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            context.trace_id(),
            context.span_id(),
            context.trace_flags().to_u8()
        )
    })
}

/// Headers for a call to another service made on behalf of the current
/// request or event: its correlation id and trace context (the current span's
/// when traces are exported, else the caller's `traceparent`, passed on).
pub fn outgoing_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let context = crate::context::RequestContext::current();
    let mut put = |name: &'static str, value: Option<String>| {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put(crate::context::CORRELATION_ID, context.correlation_id);
    put("traceparent", current_traceparent().or(context.traceparent));
    headers
}
