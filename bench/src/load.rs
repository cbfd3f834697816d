//! The closed-loop load driver: a fixed number of clients, each sending its
//! next request as soon as the previous one is answered, for a fixed time
//! after a warm-up; latencies in an HDR histogram (microseconds).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// One request to send.
pub struct Req {
    /// The GraphQL endpoint.
    pub url: Arc<str>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// A bearer token.
    pub token: Option<Arc<str>>,
}

/// Makes each client's next request (varied, from the client's own random source).
pub type Gen = Arc<dyn Fn(&mut StdRng) -> Req + Send + Sync>;

/// What one scenario measured against one target.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The scenario (`listing`, `customer`, ...).
    pub scenario: String,
    /// Who answered (`products (direct)`, `router`, `hive-gateway`, ...).
    pub target: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Measured seconds (after the warm-up).
    pub seconds: f64,
    /// Requests answered in the measured window.
    pub requests: u64,
    /// Of which failures: transport errors, non-200 statuses, GraphQL `errors`, null `data`.
    pub errors: u64,
    /// Successful requests per second.
    pub rps: f64,
    /// Latency percentiles in milliseconds (every answered request).
    pub p50_ms: f64,
    /// See above.
    pub p95_ms: f64,
    /// See above.
    pub p99_ms: f64,
    /// The slowest.
    pub max_ms: f64,
    /// A few failures, as examples.
    pub error_samples: Vec<String>,
    /// Cores each process used on average over the warm-up and the measure
    /// (the services, the router, a gateway, PostgreSQL, RabbitMQ, the load tool).
    pub cores: Vec<(String, f64)>,
    /// CPU milliseconds per successful request, the run's processes together
    /// (not counting `other processes`: whatever else the machine was doing).
    pub cpu_ms_per_request: f64,
}

#[derive(Deserialize)]
struct Envelope {
    data: Option<IgnoredAny>,
    errors: Option<IgnoredAny>,
}

/// Sends one request; `Ok(())` on a 200 with `data` and no `errors`.
pub async fn send(http: &reqwest::Client, req: &Req) -> Result<(), String> {
    let mut builder = http
        .post(&*req.url)
        .header("content-type", "application/json")
        .body(req.body.clone());
    if let Some(token) = &req.token {
        builder = builder.bearer_auth(token);
    }
    let res = builder
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = res.status();
    let bytes = res.bytes().await.map_err(|e| format!("body: {e}"))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", snippet(&bytes)));
    }
    match serde_json::from_slice::<Envelope>(&bytes) {
        Ok(Envelope {
            data: Some(_),
            errors: None,
        }) => Ok(()),
        Ok(_) => Err(format!("GraphQL errors: {}", snippet(&bytes))),
        Err(e) => Err(format!("not JSON ({e}): {}", snippet(&bytes))),
    }
}

fn snippet(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned()
}

/// A latency histogram in microseconds, 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

/// Milliseconds at `q` of a microsecond histogram.
pub fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    h.value_at_quantile(q) as f64 / 1000.0
}

struct ClientResult {
    hist: Histogram<u64>,
    requests: u64,
    errors: u64,
    samples: Vec<String>,
}

/// Runs `gen` from `clients` clients: `warmup` unmeasured, then `measure`.
pub async fn run(
    http: &reqwest::Client,
    scenario: &str,
    target: &str,
    gen: Gen,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + measure;
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let http = http.clone();
        let gen = gen.clone();
        let mut hist = histogram()?;
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(0x5eed ^ (client as u64).wrapping_mul(7919));
            let (mut requests, mut errors, mut samples) = (0u64, 0u64, Vec::new());
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let req = gen(&mut rng);
                let result = send(&http, &req).await;
                let done = Instant::now();
                if sent < measure_from || done > end {
                    continue;
                }
                requests += 1;
                let micros = done.duration_since(sent).as_micros() as u64;
                let _ = hist.record(micros.max(1));
                if let Err(e) = result {
                    errors += 1;
                    if samples.len() < 2 {
                        samples.push(e);
                    }
                }
            }
            ClientResult {
                hist,
                requests,
                errors,
                samples,
            }
        }));
    }
    let mut hist = histogram()?;
    let (mut requests, mut errors, mut samples) = (0u64, 0u64, Vec::new());
    for task in tasks {
        let r = task.await?;
        hist.add(&r.hist)?;
        requests += r.requests;
        errors += r.errors;
        for s in r.samples {
            if samples.len() < 3 {
                samples.push(s);
            }
        }
    }
    let seconds = measure.as_secs_f64();
    Ok(Outcome {
        scenario: scenario.into(),
        target: target.into(),
        clients,
        seconds,
        requests,
        errors,
        rps: (requests - errors) as f64 / seconds,
        p50_ms: ms(&hist, 0.50),
        p95_ms: ms(&hist, 0.95),
        p99_ms: ms(&hist, 0.99),
        max_ms: hist.max() as f64 / 1000.0,
        error_samples: samples,
        cores: Vec::new(),
        cpu_ms_per_request: 0.0,
    })
}
