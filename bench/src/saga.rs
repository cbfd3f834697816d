//! Scenario 4, the saga: orders placed through the router at a rising offered
//! rate (open loop: one order every 1/rate seconds whatever the answers), each
//! followed to PAID in the orders database (the time of its PAID status-history
//! row, written by the saga's last step, against the moment the client sent
//! `placeOrder`); PostgreSQL commits per order from `pg_stat_database`; and
//! `pgbench` on the same server, in its own database, for the commit ceiling.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::load::{histogram, ms};

/// One step of the offered rate.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Orders offered per second.
    pub offered_per_sec: f64,
    /// Seconds the step sent for.
    pub seconds: f64,
    /// `placeOrder` calls answered with an order.
    pub placed: u64,
    /// `placeOrder` calls that failed (transport, status, GraphQL errors).
    pub place_errors: u64,
    /// Orders not sent because too many were already in flight.
    pub shed: u64,
    /// Orders that reached PAID during the step, per second.
    pub paid_per_sec: f64,
    /// Of the step's orders, how many reached PAID before the drain deadline.
    pub paid: u64,
    /// `placeOrder` sent to PAID, milliseconds.
    pub p50_to_paid_ms: f64,
    /// See above.
    pub p99_to_paid_ms: f64,
    /// `placeOrder`'s own answer, milliseconds.
    pub p50_place_ms: f64,
    /// See above.
    pub p99_place_ms: f64,
    /// A few failures, as examples.
    pub error_samples: Vec<String>,
}

/// `pgbench` on the same server.
#[derive(Debug, Clone, Serialize)]
pub struct Pgbench {
    /// Clients.
    pub clients: u32,
    /// Seconds.
    pub seconds: u64,
    /// Scale factor.
    pub scale: u32,
    /// Transactions (= commits) per second, tpcb-like.
    pub tps: f64,
}

/// The whole saga scenario.
#[derive(Debug, Clone, Serialize)]
pub struct SagaReport {
    /// The rising steps, until saturation.
    pub steps: Vec<Step>,
    /// The most orders per second that reached PAID in a step.
    pub saturation_paid_per_sec: f64,
    /// A step at half that rate (latency when not saturated).
    pub half_rate: Option<Step>,
    /// Commits in the four databases over the steps, per PAID order.
    pub commits_per_order: f64,
    /// The same less what the idle services commit anyway (polling workers).
    pub commits_per_order_net: f64,
    /// Commits per second of the idle services.
    pub idle_commits_per_sec: f64,
    /// Transactions that wrote (took a transaction id; the commits that wait
    /// for the WAL to reach disk) on the whole server over the steps, per PAID
    /// order: the figure the commit ceiling is about, since read-only
    /// transactions commit without a disk write.
    pub writes_per_order: f64,
    /// The database's ceiling.
    pub pgbench: Option<Pgbench>,
    /// pgbench's commits per second over the saga's writing commits per
    /// order: the orders per second the server could commit.
    pub commit_bound_orders_per_sec: f64,
    /// Cores each process used on average over the whole sweep (drains included).
    pub cores: Vec<(String, f64)>,
}

/// What the saga needs.
pub struct SagaSetup {
    /// The router's GraphQL URL.
    pub router: String,
    /// Customer tokens.
    pub tokens: Arc<Vec<Arc<str>>>,
    /// Product ids with plenty of stock.
    pub products: Arc<Vec<Uuid>>,
    /// The orders database.
    pub orders_db: PgPool,
    /// A connection to `postgres` for `pg_stat_database`.
    pub admin_db: PgPool,
    /// The four databases' names.
    pub databases: Vec<String>,
    /// Offered rates to try, rising.
    pub rates: Vec<f64>,
    /// Seconds per step.
    pub step_secs: f64,
    /// How long to wait for a step's orders to settle.
    pub drain: Duration,
    /// How long PostgreSQL may keep an idle backend's statistics before flushing them.
    pub stats_settle: Duration,
}

/// An order placed, and when the client sent it.
type Sent = (Uuid, DateTime<Utc>);

const PLACE_ORDER: &str = "mutation Checkout($items: [OrderLineInput!]!, $key: String!) {
  placeOrder(input: {
    shippingAddress: {name: \"Bench\", line1: \"1 Loop St\", city: \"London\", postalCode: \"N1\", country: \"GB\"},
    paymentToken: \"tok_visa\", items: $items
  }, idempotencyKey: $key) { id status }
}";

async fn commits(setup: &SagaSetup) -> anyhow::Result<i64> {
    let (n,): (Option<i64>,) = sqlx::query_as(
        "SELECT sum(xact_commit)::bigint FROM pg_stat_database WHERE datname = ANY($1)",
    )
    .bind(&setup.databases)
    .fetch_one(&setup.admin_db)
    .await?;
    Ok(n.unwrap_or(0))
}

/// The next transaction id the server will hand out (reading it takes none).
async fn next_xid(setup: &SagaSetup) -> anyhow::Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            .fetch_one(&setup.admin_db)
            .await?;
    Ok(n)
}

async fn db_now(db: &PgPool) -> anyhow::Result<DateTime<Utc>> {
    let (now,): (DateTime<Utc>,) = sqlx::query_as("SELECT clock_timestamp()")
        .fetch_one(db)
        .await?;
    Ok(now)
}

async fn paid_between(db: &PgPool, from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM order_status_history WHERE status = 'PAID' AND at >= $1 AND at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(db)
    .await?;
    Ok(n)
}

/// Runs one step at `rate` orders per second.
pub async fn step(
    http: &reqwest::Client,
    setup: &SagaSetup,
    rate: f64,
    seed: u64,
) -> anyhow::Result<Step> {
    let total = (rate * setup.step_secs).round().max(1.0) as usize;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let in_flight = Arc::new(Semaphore::new(1024));
    let placed: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let place_hist = Arc::new(Mutex::new(histogram()?));
    let errors: Arc<Mutex<(u64, Vec<String>)>> = Arc::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut shed = 0u64;
    let mut tasks = Vec::with_capacity(total);
    let started = Instant::now();
    let window_start = db_now(&setup.orders_db).await?;
    for _ in 0..total {
        ticker.tick().await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            shed += 1;
            continue;
        };
        let token = setup.tokens[rng.gen_range(0..setup.tokens.len())].clone();
        let lines = rng.gen_range(1..=2);
        let items: Vec<serde_json::Value> = (0..lines)
            .map(|k| {
                let p = setup.products
                    [(rng.gen_range(0..setup.products.len()) + k) % setup.products.len()];
                serde_json::json!({"productId": p, "quantity": rng.gen_range(1..=2)})
            })
            .collect();
        // Two lines of the same product are one line; keep them distinct.
        let mut seen = std::collections::HashSet::new();
        let items: Vec<serde_json::Value> = items
            .into_iter()
            .filter(|i| seen.insert(i["productId"].to_string()))
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({
            "query": PLACE_ORDER,
            "operationName": "Checkout",
            "variables": {"items": items, "key": Uuid::now_v7().to_string()},
        }))?;
        let (http, url) = (http.clone(), setup.router.clone());
        let (placed, place_hist, errors) = (placed.clone(), place_hist.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let sent_at = Utc::now();
            let sent = Instant::now();
            let result = place(&http, &url, &token, body).await;
            let micros = sent.elapsed().as_micros() as u64;
            if let Ok(mut h) = place_hist.lock() {
                let _ = h.record(micros.max(1));
            }
            match result {
                Ok(id) => {
                    if let Ok(mut p) = placed.lock() {
                        p.push((id, sent_at));
                    }
                }
                Err(e) => {
                    if let Ok(mut errs) = errors.lock() {
                        errs.0 += 1;
                        if errs.1.len() < 3 {
                            errs.1.push(e);
                        }
                    }
                }
            }
            drop(permit);
        }));
    }
    let seconds = started.elapsed().as_secs_f64();
    for task in tasks {
        let _ = task.await;
    }
    let window_end = db_now(&setup.orders_db).await?;
    let paid_in_window = paid_between(&setup.orders_db, window_start, window_end).await?;
    let window = (window_end - window_start).num_milliseconds().max(1) as f64 / 1000.0;

    let placed: Vec<Sent> = placed.lock().map(|p| p.clone()).unwrap_or_default();
    let ids: Vec<Uuid> = placed.iter().map(|(id, _)| *id).collect();
    // Let the step's orders settle before the next step (and to time them all).
    let deadline = Instant::now() + setup.drain;
    loop {
        let (open,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM orders WHERE id = ANY($1) AND status IN ('PENDING', 'AWAITING_PAYMENT')",
        )
        .bind(&ids)
        .fetch_one(&setup.orders_db)
        .await?;
        if open == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let paid_at: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT order_id, at FROM order_status_history WHERE status = 'PAID' AND order_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&setup.orders_db)
    .await?;
    let sent: std::collections::HashMap<Uuid, DateTime<Utc>> = placed.into_iter().collect();
    let mut to_paid = histogram()?;
    for (id, at) in &paid_at {
        if let Some(s) = sent.get(id) {
            let micros = (*at - *s).num_microseconds().unwrap_or(0).max(1) as u64;
            let _ = to_paid.record(micros);
        }
    }
    let place_hist = place_hist.lock().map(|h| h.clone()).unwrap_or(histogram()?);
    let (place_errors, error_samples) = errors.lock().map(|e| e.clone()).unwrap_or_default();
    Ok(Step {
        offered_per_sec: rate,
        seconds,
        placed: ids.len() as u64,
        place_errors,
        shed,
        paid_per_sec: paid_in_window as f64 / window,
        paid: paid_at.len() as u64,
        p50_to_paid_ms: ms(&to_paid, 0.50),
        p99_to_paid_ms: ms(&to_paid, 0.99),
        p50_place_ms: ms(&place_hist, 0.50),
        p99_place_ms: ms(&place_hist, 0.99),
        error_samples,
    })
}

async fn place(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<Uuid, String> {
    let res = http
        .post(url)
        .header("content-type", "application/json")
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = res.status();
    let value: serde_json::Value = res.json().await.map_err(|e| format!("body: {e}"))?;
    if !status.is_success() || value.get("errors").is_some() {
        return Err(format!("HTTP {status}: {value}"));
    }
    value["data"]["placeOrder"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| format!("no order id: {value}"))
}

/// Rising steps until saturation, then half that rate; commits per order.
pub async fn run(http: &reqwest::Client, setup: &SagaSetup) -> anyhow::Result<SagaReport> {
    // Idle baseline: what the services commit with no traffic (polling relays, sweeps).
    tokio::time::sleep(setup.stats_settle).await;
    let c0 = commits(setup).await?;
    let idle_window = setup.stats_settle.max(Duration::from_secs(2));
    tokio::time::sleep(idle_window).await;
    let c1 = commits(setup).await?;
    let x1 = next_xid(setup).await?;
    let idle_commits_per_sec = (c1 - c0) as f64 / idle_window.as_secs_f64();

    let sweep_start = db_now(&setup.orders_db).await?;
    let started = Instant::now();
    let mut steps = Vec::new();
    for (i, rate) in setup.rates.iter().enumerate() {
        let s = step(http, setup, *rate, 1000 + i as u64).await?;
        eprintln!(
            "    saga {:>5.0}/s offered: {:>6.1} PAID/s, to PAID p50 {:.0} ms p99 {:.0} ms, {} errors, {} shed",
            s.offered_per_sec, s.paid_per_sec, s.p50_to_paid_ms, s.p99_to_paid_ms, s.place_errors, s.shed
        );
        let saturated = s.paid_per_sec < 0.85 * s.offered_per_sec
            || s.place_errors as f64 > 0.05 * (s.placed + s.place_errors) as f64
            || s.shed > 0
            || s.paid < s.placed;
        steps.push(s);
        if saturated {
            break;
        }
    }
    let saturation = steps.iter().map(|s| s.paid_per_sec).fold(0.0, f64::max);
    let half_rate = if saturation >= 2.0 {
        let s = step(http, setup, (saturation / 2.0).max(1.0), 99).await?;
        eprintln!(
            "    saga {:>5.0}/s (half the saturation): to PAID p50 {:.0} ms p99 {:.0} ms",
            s.offered_per_sec, s.p50_to_paid_ms, s.p99_to_paid_ms
        );
        Some(s)
    } else {
        None
    };
    let sweep_end = db_now(&setup.orders_db).await?;
    let elapsed = started.elapsed() + setup.stats_settle;
    tokio::time::sleep(setup.stats_settle).await;
    let c2 = commits(setup).await?;
    let x2 = next_xid(setup).await?;
    let paid = paid_between(&setup.orders_db, sweep_start, sweep_end)
        .await?
        .max(1) as f64;
    let commits_per_order = (c2 - c1) as f64 / paid;
    let commits_per_order_net =
        ((c2 - c1) as f64 - idle_commits_per_sec * elapsed.as_secs_f64()).max(0.0) / paid;
    Ok(SagaReport {
        steps,
        saturation_paid_per_sec: saturation,
        half_rate,
        commits_per_order,
        commits_per_order_net,
        idle_commits_per_sec,
        writes_per_order: (x2 - x1) as f64 / paid,
        pgbench: None,
        commit_bound_orders_per_sec: 0.0,
        cores: Vec::new(),
    })
}

/// `pgbench` (tpcb-like) in a database of its own on the same server.
pub async fn pgbench(
    admin_db: &PgPool,
    pg: &str,
    database: &str,
    scale: u32,
    clients: u32,
    seconds: u64,
) -> anyhow::Result<Pgbench> {
    let quoted = format!("\"{}\"", database.replace('"', ""));
    sqlx::query(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        .execute(admin_db)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {quoted}"))
        .execute(admin_db)
        .await?;
    let url = format!("{pg}/{database}");
    let result = async {
        let init = tokio::process::Command::new("pgbench")
            .args(["-i", "-q", "-s", &scale.to_string(), &url])
            .output()
            .await?;
        anyhow::ensure!(
            init.status.success(),
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let run = tokio::process::Command::new("pgbench")
            .args([
                "-n",
                "-c",
                &clients.to_string(),
                "-j",
                "2",
                "-T",
                &seconds.to_string(),
                &url,
            ])
            .output()
            .await?;
        let out = String::from_utf8_lossy(&run.stdout).into_owned();
        anyhow::ensure!(
            run.status.success(),
            "pgbench failed: {out}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let tps = out
            .lines()
            .find(|l| l.trim_start().starts_with("tps ="))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no tps in pgbench's output: {out}"))?;
        Ok(Pgbench {
            clients,
            seconds,
            scale,
            tps,
        })
    }
    .await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        .execute(admin_db)
        .await;
    result
}
