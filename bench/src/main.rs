//! The shop's load tool (issue 13). `scripts/bench` builds the binaries and
//! runs it; it starts the services and the router on private databases and a
//! private broker topology, seeds them, runs each scenario at a fixed
//! concurrency for a fixed time after a warm-up, and writes
//! `bench/results/<timestamp>.md` and `.json`. Every figure that matters is a
//! ratio of two things measured in the same run: the machines are shared and
//! noisy. Slow figures never fail it; only a broken tool does.

mod load;
mod report;
mod saga;
mod scenarios;
mod seed;
mod stack;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use platform::auth::{Role, TokenSigner};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use report::{Meta, Report};
use stack::{Paths, Stack, StackOptions};

/// Scenarios by number: 1 listing, 2 customer page, 3 JS gateways, 4 saga,
/// 5 search and deep pages, 6 memory, 7 identical query (deduplication).
const ALL: [u8; 7] = [1, 2, 3, 4, 5, 6, 7];

/// The shop's load tool (run it through `scripts/bench`).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A short run: seconds per scenario, a small seed (checks the tool works).
    #[arg(long)]
    short: bool,
    /// Scenarios to run, by number or name (1 listing, 2 customer, 3 gateways,
    /// 4 saga, 5 catalogue, 6 memory, 7 dedup), comma-separated.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Directory of the service binaries (users, products, orders, payments).
    #[arg(long)]
    bin_dir: PathBuf,
    /// The router binary.
    #[arg(long)]
    router_bin: PathBuf,
    /// The repository root.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Where results go (default `bench/results`, `bench/results/short` for a short run).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip the JS gateways (scenario 3) unless `bench/gateways/node_modules` exists.
    #[arg(long)]
    gateways_if_installed: bool,
    /// Measured seconds per scenario and target (default 20, short 2).
    #[arg(long)]
    seconds: Option<u64>,
    /// Warm-up seconds before each (default 5, short 1).
    #[arg(long)]
    warmup: Option<u64>,
    /// Clients of scenarios 1, 5 and 7 (default 32, short 8).
    #[arg(long)]
    clients: Option<usize>,
    /// Clients of scenario 2 (default 50, as the target; short 8).
    #[arg(long)]
    customer_clients: Option<usize>,
    /// Products to seed (default 10,000, short 1,000).
    #[arg(long)]
    products: Option<usize>,
    /// Customers to seed (default 1,000, short 100).
    #[arg(long)]
    customers: Option<usize>,
    /// The PostgreSQL server, as `postgres://user@host:port`.
    #[arg(
        long,
        env = "BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pg: String,
    /// The RabbitMQ broker.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Keep the databases afterwards (to look at them).
    #[arg(long)]
    keep: bool,
}

fn parse_scenarios(list: &[String]) -> anyhow::Result<Vec<u8>> {
    if list.is_empty() {
        return Ok(ALL.to_vec());
    }
    let mut out = Vec::new();
    for s in list {
        let n = match s.trim() {
            "1" | "listing" => 1,
            "2" | "customer" => 2,
            "3" | "gateways" => 3,
            "4" | "saga" => 4,
            "5" | "catalogue" | "search" => 5,
            "6" | "memory" => 6,
            "7" | "dedup" | "identical" => 7,
            other => anyhow::bail!("unknown scenario {other:?} (1-7 or listing, customer, gateways, saga, catalogue, memory, dedup)"),
        };
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out.sort();
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let clock = std::time::Instant::now();
    let scenarios = parse_scenarios(&args.scenarios)?;
    let root = std::fs::canonicalize(&args.root).context("the repository root")?;
    let paths = Paths {
        bin_dir: args.bin_dir.clone(),
        router_bin: args.router_bin.clone(),
        work: root.join("bench/.work"),
        gateways: root.join("bench/gateways"),
        root,
    };
    std::fs::create_dir_all(&paths.work)?;
    let run = format!(
        "bench_{}_{}",
        if args.short { "s" } else { "f" },
        std::process::id()
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&format!("{}/postgres", args.pg))
        .await
        .context("connecting to PostgreSQL")?;
    drop_stale_databases(&admin).await;

    let keys = stack::keys(&paths.work.join("keys"))?;
    eprintln!("==> starting the services and the router ({run})");
    let started = stack::start(
        &http,
        &paths,
        &StackOptions {
            run: &run,
            pg: &args.pg,
            amqp_url: &args.amqp_url,
            keys: &keys,
        },
    )
    .await;
    let result = match started {
        Ok(mut stack) => {
            let result = measure(&args, &scenarios, &paths, &http, &admin, &stack, &keys).await;
            for p in stack.procs.iter_mut().rev() {
                p.stop().await;
            }
            result
        }
        Err(e) => Err(e),
    };
    if let Err(e) = stack::delete_topology(&args.amqp_url, &format!("{run}.")).await {
        eprintln!("warning: could not delete the broker topology {run}.*: {e}");
    }
    if !args.keep {
        for svc in stack::SERVICES {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{run}_{svc}\" WITH (FORCE)"
            ))
            .execute(&admin)
            .await;
        }
    }
    let report = result?;
    let out = args.out.clone().unwrap_or_else(|| {
        paths.root.join(if args.short {
            "bench/results/short"
        } else {
            "bench/results"
        })
    });
    std::fs::create_dir_all(&out)?;
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ").to_string();
    let md = report.markdown();
    std::fs::write(out.join(format!("{stamp}.md")), &md)?;
    std::fs::write(
        out.join(format!("{stamp}.json")),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!("{md}");
    println!(
        "==> written {}/{stamp}.md and .json",
        out.strip_prefix(&paths.root).unwrap_or(&out).display()
    );
    eprintln!("==> done in {} s", clock.elapsed().as_secs());
    // Slow figures never fail a run, but a request that fails in a short run
    // means the tool's operations no longer fit the supergraph (or the stack
    // is broken): the tool has rotted, and scripts/test must say so.
    if args.short {
        let mut failures: Vec<String> = report
            .results
            .iter()
            .filter(|o| o.errors > 0)
            .map(|o| format!("{} / {}: {:?}", o.scenario, o.target, o.error_samples))
            .collect();
        if let Some(saga) = &report.saga {
            for st in saga.steps.iter().filter(|s| s.place_errors > 0) {
                failures.push(format!(
                    "saga at {}/s: {:?}",
                    st.offered_per_sec, st.error_samples
                ));
            }
        }
        if let Some((_, failed)) = report.signup_burst.filter(|(_, f)| *f > 0) {
            failures.push(format!("{failed} sign-ups failed"));
        }
        anyhow::ensure!(
            failures.is_empty(),
            "requests failed in the short run:\n{}",
            failures.join("\n")
        );
    }
    Ok(())
}

/// Databases of earlier runs whose process is gone (a run killed half-way).
async fn drop_stale_databases(admin: &PgPool) {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname ~ '^bench_[sf]_[0-9]+_'")
            .fetch_all(admin)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let pid = name.split('_').nth(2).unwrap_or_default();
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(admin)
                .await;
        }
    }
}

async fn pool(url: &str, size: u32) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .connect(url)
        .await?)
}

async fn measure(
    args: &Args,
    scenarios: &[u8],
    paths: &Paths,
    http: &reqwest::Client,
    admin: &PgPool,
    stack: &Stack,
    keys: &stack::Keys,
) -> anyhow::Result<Report> {
    let short = args.short;
    let products_n = args.products.unwrap_or(if short { 1_000 } else { 10_000 });
    let customers_n = args.customers.unwrap_or(if short { 100 } else { 1_000 });
    let seconds = args.seconds.unwrap_or(if short { 2 } else { 20 });
    let warmup = args.warmup.unwrap_or(if short { 1 } else { 5 });
    let clients = args.clients.unwrap_or(if short { 8 } else { 32 });
    let customer_clients = args.customer_clients.unwrap_or(if short { 8 } else { 50 });
    let (warmup_d, measure_d) = (Duration::from_secs(warmup), Duration::from_secs(seconds));

    eprintln!("==> seeding {products_n} products, {customers_n} customers and their orders");
    let products_db = pool(&stack.databases["products"], 2).await?;
    let users_db = pool(&stack.databases["users"], 2).await?;
    let orders_db = pool(&stack.databases["orders"], 4).await?;
    let payments_db = pool(&stack.databases["payments"], 2).await?;
    let (catalogue, saga_products) =
        seed::catalogue(&products_db, products_n, 500.min(products_n)).await?;
    let customers = seed::customers(&users_db, customers_n).await?;
    let orders = seed::history(&orders_db, &payments_db, &customers, &catalogue, (10, 20)).await?;
    for db in [&products_db, &users_db, &orders_db, &payments_db] {
        seed::analyze(db).await?;
    }
    let signer = TokenSigner::from_pem(
        &keys.private_pem,
        &keys.public_pem,
        Duration::from_secs(6 * 3600),
    )?;
    let tokens: Vec<Arc<str>> = customers
        .iter()
        .map(|id| signer.sign(*id, Role::Customer).map(|(t, _)| Arc::from(t)))
        .collect::<anyhow::Result<_>>()?;
    let tokens = Arc::new(tokens);

    let mut report = Report {
        meta: Meta {
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            commit: git_commit(&paths.root),
            build: paths
                .bin_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            short,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            warmup_secs: warmup,
            measure_secs: seconds,
            products: products_n,
            customers: customers_n,
            orders,
            scenarios: scenarios.to_vec(),
            skipped: Vec::new(),
        },
        results: Vec::new(),
        saga: None,
        memory: Vec::new(),
        signup_burst: None,
        ratios: Vec::new(),
        targets: Vec::new(),
    };
    let direct = stack.url("products");
    let router = stack.url("router");
    let tracked: Vec<(String, u32)> = stack
        .procs
        .iter()
        .filter_map(|p| Some((p.name.clone(), p.pid()?)))
        .collect();
    let run = |scenario: &'static str,
               target: &'static str,
               gen,
               c: usize,
               extra: Option<(String, u32)>| {
        let http = http.clone();
        let mut tracked = tracked.clone();
        tracked.extend(extra);
        async move {
            eprintln!("==> {scenario}: {target}, {c} clients, {warmup} s warm-up + {seconds} s");
            let before = stack::cpu_snapshot(&tracked);
            let clock = std::time::Instant::now();
            let mut o = load::run(&http, scenario, target, gen, c, warmup_d, measure_d).await?;
            let elapsed = clock.elapsed().as_secs_f64();
            o.cores = stack::cores_used(&before, &stack::cpu_snapshot(&tracked), elapsed);
            let total: f64 = o
                .cores
                .iter()
                .filter(|(n, _)| n != "other processes")
                .map(|(_, c)| c)
                .sum();
            o.cpu_ms_per_request = total * 1000.0 / o.rps.max(0.001);
            eprintln!(
                "    {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {} errors of {}",
                o.rps, o.p50_ms, o.p99_ms, o.errors, o.requests
            );
            anyhow::Ok(o)
        }
    };

    if scenarios.contains(&1) {
        report.results.push(
            run(
                "listing",
                "products (direct)",
                scenarios::listing(&direct),
                clients,
                None,
            )
            .await?,
        );
        report.results.push(
            run(
                "listing",
                "router",
                scenarios::listing(&router),
                clients,
                None,
            )
            .await?,
        );
    }
    if scenarios.contains(&7) {
        report.results.push(
            run(
                "identical",
                "products (direct)",
                scenarios::identical(&direct),
                clients,
                None,
            )
            .await?,
        );
        report.results.push(
            run(
                "identical",
                "router",
                scenarios::identical(&router),
                clients,
                None,
            )
            .await?,
        );
    }
    if scenarios.contains(&5) {
        let words = Arc::new(seed::words());
        report.results.push(
            run(
                "search",
                "router",
                scenarios::search(&router, words),
                clients,
                None,
            )
            .await?,
        );
        let cursors = Arc::new(scenarios::cursors(http, &direct).await?);
        report.results.push(
            run(
                "deep page",
                "router",
                scenarios::deep_page(&router, cursors),
                clients,
                None,
            )
            .await?,
        );
    }
    if scenarios.contains(&2) {
        report.results.push(
            run(
                "customer",
                "router",
                scenarios::customer_page(&router, tokens.clone()),
                customer_clients,
                None,
            )
            .await?,
        );
    }
    if scenarios.contains(&3) {
        let installed = paths
            .gateways
            .join("node_modules/.bin/hive-gateway")
            .exists()
            && paths.gateways.join("node_modules/@apollo/gateway").exists();
        if !installed {
            report.meta.skipped.push(
                "3 (JS gateways): bench/gateways/node_modules is not installed (scripts/bench installs it; the short run uses it only if present)".into(),
            );
        } else {
            for (kind, name) in [
                ("hive-gateway", "hive-gateway"),
                ("apollo-gateway", "apollo-gateway"),
            ] {
                eprintln!("==> starting {kind}");
                let mut gateway = match stack::start_gateway(http, paths, stack, kind).await {
                    Ok(g) => g,
                    Err(e) => {
                        if args.gateways_if_installed {
                            report
                                .meta
                                .skipped
                                .push(format!("{kind}: did not start: {e}"));
                            continue;
                        }
                        return Err(e);
                    }
                };
                let url = format!("http://127.0.0.1:{}/graphql", gateway.port);
                let gateway_pid = gateway.pid().map(|pid| (kind.to_string(), pid));
                let outcome = async {
                    if scenarios.contains(&1) || !scenarios.contains(&2) {
                        report.results.push(
                            run(
                                "listing",
                                name,
                                scenarios::listing(&url),
                                clients,
                                gateway_pid.clone(),
                            )
                            .await?,
                        );
                    }
                    report.results.push(
                        run(
                            "customer",
                            name,
                            scenarios::customer_page(&url, tokens.clone()),
                            customer_clients,
                            gateway_pid.clone(),
                        )
                        .await?,
                    );
                    anyhow::Ok(())
                }
                .await;
                if let Some(mem) = stack::memory(&gateway) {
                    report.memory.push(mem);
                }
                gateway.stop().await;
                outcome?;
            }
        }
    }
    if scenarios.contains(&4) {
        eprintln!("==> saga: rising offered rate until saturation");
        let rates: Vec<f64> = if short {
            vec![5.0, 10.0]
        } else {
            vec![
                10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 130.0, 160.0, 200.0, 250.0, 300.0, 400.0,
            ]
        };
        let mut databases: Vec<String> = Vec::new();
        for svc in stack::SERVICES {
            databases.push(
                stack.databases[svc]
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        let setup = saga::SagaSetup {
            router: router.clone(),
            tokens: tokens.clone(),
            products: Arc::new(saga_products.clone()),
            orders_db: orders_db.clone(),
            admin_db: admin.clone(),
            databases,
            rates,
            step_secs: if short { 2.0 } else { 10.0 },
            drain: Duration::from_secs(if short { 15 } else { 30 }),
            stats_settle: Duration::from_secs(if short { 2 } else { 11 }),
        };
        let before = stack::cpu_snapshot(&tracked);
        let clock = std::time::Instant::now();
        let mut saga = saga::run(http, &setup).await?;
        saga.cores = stack::cores_used(
            &before,
            &stack::cpu_snapshot(&tracked),
            clock.elapsed().as_secs_f64(),
        );
        eprintln!("==> pgbench on the same server");
        let (scale, secs) = if short { (1, 3) } else { (10, 20) };
        match saga::pgbench(
            admin,
            &args.pg,
            &format!("{}_pgbench", report_run_name(stack)),
            scale,
            16,
            secs,
        )
        .await
        {
            Ok(pg) => {
                saga.commit_bound_orders_per_sec = pg.tps / saga.writes_per_order.max(0.001);
                eprintln!("    {:.0} commits/s", pg.tps);
                saga.pgbench = Some(pg);
            }
            Err(e) => report.meta.skipped.push(format!("pgbench: {e}")),
        }
        report.saga = Some(saga);
    }
    if scenarios.contains(&6) {
        eprintln!("==> memory: a burst of 20 concurrent sign-ups, then RSS of every process");
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (http, router) = (http.clone(), router.clone());
            tasks.push(tokio::spawn(async move {
                let req = load::Req {
                    url: router.as_str().into(),
                    body: serde_json::to_vec(&serde_json::json!({
                        "query": scenarios::REGISTER,
                        "variables": {"e": format!("burst{i}-{}@bench.test", uuid::Uuid::now_v7().simple())},
                    }))
                    .unwrap_or_default(),
                    token: None,
                };
                load::send(&http, &req).await
            }));
        }
        let (mut ok, mut failed) = (0, 0);
        for t in tasks {
            match t.await {
                Ok(Ok(())) => ok += 1,
                _ => failed += 1,
            }
        }
        report.signup_burst = Some((ok, failed));
        let ours: Vec<stack::Memory> = stack.procs.iter().filter_map(stack::memory).collect();
        report.memory.splice(0..0, ours);
    }
    report.evaluate();
    Ok(report)
}

fn report_run_name(stack: &Stack) -> String {
    stack.events_prefix.trim_end_matches('.').to_string()
}

fn git_commit(root: &std::path::Path) -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let commit = run(&["rev-parse", "--short", "HEAD"]);
    if run(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        commit
    } else {
        format!("{commit}+dirty")
    }
}
