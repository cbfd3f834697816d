//! The run's report: a JSON file with every figure and a Markdown file with
//! the tables, the ratios and the targets (met or not).

use std::fmt::Write as _;

use serde::Serialize;

use crate::load::Outcome;
use crate::saga::SagaReport;
use crate::stack::Memory;

/// How the run was made.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// When it started (UTC, RFC 3339).
    pub started: String,
    /// The commit measured (and `+dirty` with uncommitted changes).
    pub commit: String,
    /// `release` or `debug` binaries.
    pub build: String,
    /// A short run (seconds per scenario) or a full one.
    pub short: bool,
    /// CPU cores.
    pub cores: usize,
    /// Warm-up and measured seconds per scenario and target.
    pub warmup_secs: u64,
    /// See above.
    pub measure_secs: u64,
    /// Seeded products.
    pub products: usize,
    /// Seeded customers.
    pub customers: usize,
    /// Seeded orders (history).
    pub orders: usize,
    /// The scenarios run.
    pub scenarios: Vec<u8>,
    /// What was skipped, and why.
    pub skipped: Vec<String>,
}

/// One ratio of two figures of this run.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// What it compares.
    pub name: String,
    /// Its value.
    pub value: f64,
}

/// One of issue 13's targets.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// The target, as the issue states it.
    pub target: String,
    /// What this run measured.
    pub measured: String,
    /// Whether it is met.
    pub met: bool,
}

/// Everything.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// How the run was made.
    pub meta: Meta,
    /// The closed-loop scenarios.
    pub results: Vec<Outcome>,
    /// The saga.
    pub saga: Option<SagaReport>,
    /// Resident memory at the end (the gateways' at the end of their scenarios).
    pub memory: Vec<Memory>,
    /// Sign-ups in the burst before the memory is read (ok, failed).
    pub signup_burst: Option<(u64, u64)>,
    /// Ratios.
    pub ratios: Vec<Ratio>,
    /// The targets.
    pub targets: Vec<Target>,
}

impl Report {
    /// The outcome of `scenario` against `target`.
    pub fn find(&self, scenario: &str, target: &str) -> Option<&Outcome> {
        self.results
            .iter()
            .find(|o| o.scenario == scenario && o.target == target)
    }

    /// Works out the ratios and the targets from the figures.
    pub fn evaluate(&mut self) {
        let mut ratios = Vec::new();
        let mut targets = Vec::new();
        let rps = |s: &str, t: &str| self.find(s, t).map(|o| o.rps);
        if let (Some(r), Some(d)) = (
            rps("listing", "router"),
            rps("listing", "products (direct)"),
        ) {
            ratios.push(Ratio {
                name: "listing: router / products direct (throughput)".into(),
                value: r / d,
            });
            targets.push(Target {
                target: "router ≥ 0.9 × direct-subgraph throughput (scenario 1)".into(),
                measured: format!("{:.2}× ({r:.0} vs {d:.0} req/s)", r / d),
                met: r / d >= 0.9,
            });
        }
        for scenario in ["listing", "customer"] {
            for gateway in ["hive-gateway", "apollo-gateway"] {
                if let (Some(r), Some(g)) =
                    (self.find(scenario, "router"), self.find(scenario, gateway))
                {
                    let x = if g.rps > 0.0 {
                        r.rps / g.rps
                    } else {
                        f64::INFINITY
                    };
                    ratios.push(Ratio {
                        name: format!("{scenario}: router / {gateway} (throughput)"),
                        value: x,
                    });
                    targets.push(Target {
                        target: format!("router ≥ 6 × {gateway} with lower p99 ({scenario})"),
                        measured: format!("{x:.1}×, p99 {:.1} vs {:.1} ms", r.p99_ms, g.p99_ms),
                        met: x >= 6.0 && r.p99_ms < g.p99_ms,
                    });
                }
            }
        }
        if let Some(c) = self.find("customer", "router") {
            targets.push(Target {
                target: format!(
                    "customer page ≥ 2,000 req/s, p99 < 25 ms at 50 clients (ran {})",
                    c.clients
                ),
                measured: format!("{:.0} req/s, p99 {:.1} ms", c.rps, c.p99_ms),
                met: c.rps >= 2000.0 && c.p99_ms < 25.0 && c.clients >= 50,
            });
        }
        if let (Some(r), Some(d)) = (
            rps("identical", "router"),
            rps("identical", "products (direct)"),
        ) {
            ratios.push(Ratio {
                name: "identical query: router (deduplicating) / products direct".into(),
                value: r / d,
            });
        }
        if let (Some(deep), Some(search)) = (
            self.find("deep page", "router"),
            self.find("search", "router"),
        ) {
            if let Some(first) = self.find("listing", "router") {
                ratios.push(Ratio {
                    name: "deep keyset page / first listing page (p50 latency)".into(),
                    value: deep.p50_ms / first.p50_ms.max(0.001),
                });
                ratios.push(Ratio {
                    name: "search / first listing page (p50 latency)".into(),
                    value: search.p50_ms / first.p50_ms.max(0.001),
                });
            }
        }
        if let Some(saga) = &self.saga {
            if let Some(pg) = &saga.pgbench {
                ratios.push(Ratio {
                    name: "saga at saturation / commit-bound orders per second".into(),
                    value: saga.saturation_paid_per_sec
                        / saga.commit_bound_orders_per_sec.max(0.001),
                });
                ratios.push(Ratio {
                    name: "pgbench commits/s / saga writing commits/s at saturation".into(),
                    value: pg.tps
                        / (saga.saturation_paid_per_sec * saga.writes_per_order).max(0.001),
                });
            }
            targets.push(Target {
                target: "saga ≥ 200 orders/s reaching PAID".into(),
                measured: format!("{:.0} orders/s", saga.saturation_paid_per_sec),
                met: saga.saturation_paid_per_sec >= 200.0,
            });
            targets.push(Target {
                target: "≤ 6 commits per order".into(),
                measured: format!(
                    "{:.1} writing ({:.1} transactions in all, read-only ones included)",
                    saga.writes_per_order, saga.commits_per_order
                ),
                met: saga.writes_per_order <= 6.0,
            });
            if let Some(half) = &saga.half_rate {
                targets.push(Target {
                    target: "p99 placeOrder→PAID < 250 ms at half the saturation rate".into(),
                    measured: format!(
                        "{:.0} ms at {:.0}/s",
                        half.p99_to_paid_ms, half.offered_per_sec
                    ),
                    met: half.p99_to_paid_ms < 250.0,
                });
            }
        }
        let services: Vec<&Memory> = self
            .memory
            .iter()
            .filter(|m| crate::stack::SERVICES.contains(&m.process.as_str()))
            .collect();
        if !services.is_empty() {
            let worst = services.iter().map(|m| m.rss_mib).fold(0.0, f64::max);
            targets.push(Target {
                target: "every service < 100 MB RSS at the end (sign-up burst included)".into(),
                measured: services
                    .iter()
                    .map(|m| format!("{} {:.0}", m.process, m.rss_mib))
                    .collect::<Vec<_>>()
                    .join(", ")
                    + " MiB",
                met: worst * 1.048_576 < 100.0,
            });
        }
        self.ratios = ratios;
        self.targets = targets;
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let m = &self.meta;
        let mut s = String::new();
        let _ = writeln!(s, "# Load test {}\n", m.started);
        let _ =
            writeln!(
            s,
            "Commit `{}`, {} build, {} cores, {}; {} s warm-up then {} s per scenario and target. \
             Seed: {} products, {} customers, {} orders in their history.\n",
            m.commit,
            m.build,
            m.cores,
            if m.short { "SHORT run (figures not meaningful)" } else { "full run" },
            m.warmup_secs,
            m.measure_secs,
            m.products,
            m.customers,
            m.orders
        );
        for skipped in &m.skipped {
            let _ = writeln!(s, "- skipped: {skipped}");
        }
        if !m.skipped.is_empty() {
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "| scenario | target | clients | req/s | p50 ms | p95 ms | p99 ms | errors |\n|---|---|--:|--:|--:|--:|--:|--:|"
        );
        for o in &self.results {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {} / {} |",
                o.scenario,
                o.target,
                o.clients,
                o.rps,
                o.p50_ms,
                o.p95_ms,
                o.p99_ms,
                o.errors,
                o.requests
            );
        }
        if self.results.iter().any(|o| !o.cores.is_empty()) {
            let _ = writeln!(
                s,
                "\n### CPU: cores each process used during each scenario\n\n\
                 | scenario | target | CPU ms / request | cores used by |\n|---|---|--:|---|"
            );
            for o in &self.results {
                let mut busy: Vec<&(String, f64)> =
                    o.cores.iter().filter(|(_, c)| *c >= 0.01).collect();
                busy.sort_by(|a, b| b.1.total_cmp(&a.1));
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.2} | {} |",
                    o.scenario,
                    o.target,
                    o.cpu_ms_per_request,
                    busy.iter()
                        .map(|(n, c)| format!("{n} {c:.2}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        for o in self.results.iter().filter(|o| !o.error_samples.is_empty()) {
            let _ = writeln!(
                s,
                "\n{} / {}: first errors: `{}`",
                o.scenario,
                o.target,
                o.error_samples.join("` · `").replace('\n', " ")
            );
        }
        if let Some(saga) = &self.saga {
            let _ = writeln!(
                s,
                "\n## Saga (placeOrder through the router → PAID)\n\n\
                 | offered/s | PAID/s | placed | errors | shed | paid | to PAID p50 ms | p99 ms | placeOrder p50 ms | p99 ms |\n\
                 |--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
            );
            for st in saga.steps.iter().chain(saga.half_rate.iter()) {
                let _ = writeln!(
                    s,
                    "| {:.0} | {:.1} | {} | {} | {} | {} | {:.0} | {:.0} | {:.1} | {:.1} |",
                    st.offered_per_sec,
                    st.paid_per_sec,
                    st.placed,
                    st.place_errors,
                    st.shed,
                    st.paid,
                    st.p50_to_paid_ms,
                    st.p99_to_paid_ms,
                    st.p50_place_ms,
                    st.p99_place_ms
                );
            }
            let _ = writeln!(
                s,
                "\nSaturation: {:.1} orders/s reaching PAID (the last row is a step at half that rate). \
                 Commits per order: {:.1} that write (take a transaction id, wait for the disk); \
                 {:.1} transactions in all, read-only ones included ({:.1} less the {:.1} commits/s the idle services make).",
                saga.saturation_paid_per_sec,
                saga.writes_per_order,
                saga.commits_per_order,
                saga.commits_per_order_net,
                saga.idle_commits_per_sec
            );
            let mut busy: Vec<&(String, f64)> =
                saga.cores.iter().filter(|(_, c)| *c >= 0.01).collect();
            busy.sort_by(|a, b| b.1.total_cmp(&a.1));
            let _ = writeln!(
                s,
                "Cores used over the sweep (drains included): {}.",
                busy.iter()
                    .map(|(n, c)| format!("{n} {c:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(pg) = &saga.pgbench {
                let _ = writeln!(
                    s,
                    "pgbench (tpcb-like, scale {}, {} clients, {} s) on the same server: {:.0} commits/s, \
                     so at {:.1} writing commits per order the server could commit {:.0} orders/s.",
                    pg.scale, pg.clients, pg.seconds, pg.tps, saga.writes_per_order, saga.commit_bound_orders_per_sec
                );
            }
            for st in saga.steps.iter().filter(|st| !st.error_samples.is_empty()) {
                let _ = writeln!(
                    s,
                    "\nAt {:.0}/s, first errors: `{}`",
                    st.offered_per_sec,
                    st.error_samples.join("` · `").replace('\n', " ")
                );
            }
        }
        if !self.memory.is_empty() {
            let _ = writeln!(
                s,
                "\n## Memory (RSS at the end; JS gateways at the end of their scenarios)\n"
            );
            if let Some((ok, failed)) = self.signup_burst {
                let _ = writeln!(
                    s,
                    "After a burst of {} concurrent sign-ups through the router ({failed} failed).\n",
                    ok + failed
                );
            }
            let _ = writeln!(s, "| process | RSS MiB | peak MiB |\n|---|--:|--:|");
            for mem in &self.memory {
                let _ = writeln!(
                    s,
                    "| {}{} | {:.0} | {:.0} |",
                    mem.process,
                    if mem.processes > 1 {
                        format!(" ({} processes)", mem.processes)
                    } else {
                        String::new()
                    },
                    mem.rss_mib,
                    mem.peak_mib
                );
            }
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(s, "\n## Ratios (both figures from this run)\n");
            for r in &self.ratios {
                let _ = writeln!(s, "- {}: **{:.2}×**", r.name, r.value);
            }
        }
        if !self.targets.is_empty() {
            let _ = writeln!(
                s,
                "\n## Issue 13's targets\n\n| target | measured | met |\n|---|---|---|"
            );
            for t in &self.targets {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    t.target,
                    t.measured,
                    if t.met { "yes" } else { "**no**" }
                );
            }
        }
        s
    }
}
