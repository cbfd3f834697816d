//! The system under test, as processes: the four services (release or debug
//! binaries) on private databases (`bench_<run>_<service>`) and a private
//! broker topology (`bench_<run>.`), the router on the committed supergraph
//! and config, and the JS gateways. Every port is a free ephemeral one, so a
//! run never disturbs the shop on 4000-4004 or another run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;
use tokio::process::{Child, Command};

/// The services, in start order.
pub const SERVICES: [&str; 4] = ["users", "products", "orders", "payments"];

/// A free local port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One process we started.
pub struct Proc {
    /// Its name in the report.
    pub name: String,
    /// Its HTTP port.
    pub port: u16,
    child: Child,
}

impl Proc {
    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Stops it: SIGTERM, then SIGKILL after 5 s.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// Starts `program` with `env`, its output in `log`.
pub fn spawn(
    name: &str,
    port: u16,
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    cwd: Option<&Path>,
    log: &Path,
) -> anyhow::Result<Proc> {
    let out = std::fs::File::create(log).with_context(|| format!("log file {}", log.display()))?;
    let err = out.try_clone()?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {name} ({})", program.display()))?;
    Ok(Proc {
        name: name.into(),
        port,
        child,
    })
}

/// Waits until a GET of `url` answers 2xx.
pub async fn wait_get(
    http: &reqwest::Client,
    proc: &mut Proc,
    url: &str,
    timeout: Duration,
    log: &Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if proc.exited() {
            bail!("{} exited at start-up:\n{}", proc.name, tail(log));
        }
        if let Ok(res) = http.get(url).send().await {
            if res.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{} did not become ready ({url}):\n{}", proc.name, tail(log))
}

/// Waits until `{ __typename }` POSTed to `url` answers with data.
pub async fn wait_graphql(
    http: &reqwest::Client,
    proc: &mut Proc,
    url: &str,
    timeout: Duration,
    log: &Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let probe = crate::load::Req {
        url: url.into(),
        body: br#"{"query":"{ __typename }"}"#.to_vec(),
        token: None,
    };
    while Instant::now() < deadline {
        if proc.exited() {
            bail!("{} exited at start-up:\n{}", proc.name, tail(log));
        }
        if crate::load::send(http, &probe).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!(
        "{} did not answer GraphQL ({url}):\n{}",
        proc.name,
        tail(log)
    )
}

/// The last lines of a log file.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

/// Resident memory of one process and its descendants.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// The process's name in the report.
    pub process: String,
    /// How many processes (a gateway's workers count with it).
    pub processes: usize,
    /// Resident set now, MiB.
    pub rss_mib: f64,
    /// The peak resident set (VmHWM), MiB.
    pub peak_mib: f64,
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.entry(ppid).or_default().push(child);
            }
        }
    }
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        if let Some(children) = parents.get(&all[i]) {
            all.extend(children);
        }
        i += 1;
    }
    all
}

/// The memory of `proc` (with its descendants) now.
pub fn memory(proc: &Proc) -> Option<Memory> {
    let pids = descendants(proc.pid()?);
    let rss: u64 = pids.iter().filter_map(|p| status_kib(*p, "VmRSS:")).sum();
    let peak: u64 = pids.iter().filter_map(|p| status_kib(*p, "VmHWM:")).sum();
    Some(Memory {
        process: proc.name.clone(),
        processes: pids.len(),
        rss_mib: rss as f64 / 1024.0,
        peak_mib: peak as f64 / 1024.0,
    })
}

/// CPU time (user + system, in clock ticks) of `pid` and its descendants.
fn cpu_ticks_of(pid: u32) -> u64 {
    descendants(pid).iter().map(|p| ticks(*p)).sum()
}

fn ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // After "pid (comm)": state is field 3, utime field 14, stime field 15.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// CPU ticks of every process whose command name is `comm` (`postgres`, `beam.smp`).
fn cpu_ticks_named(comm: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .map(ticks)
        .sum()
}

/// A snapshot of the CPU time used so far by each process of the run, the
/// database server, the broker and the load tool itself.
pub fn cpu_snapshot(procs: &[(String, u32)]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = procs
        .iter()
        .map(|(name, pid)| (name.clone(), cpu_ticks_of(*pid)))
        .collect();
    out.push(("postgres".into(), cpu_ticks_named("postgres")));
    out.push(("rabbitmq".into(), cpu_ticks_named("beam.smp")));
    out.push(("load tool".into(), ticks(std::process::id())));
    let ours: u64 = out.iter().map(|(_, t)| t).sum();
    out.push((
        "other processes".into(),
        machine_busy_ticks().saturating_sub(ours),
    ));
    out
}

/// Busy CPU ticks of the whole machine (every core), from `/proc/stat`.
fn machine_busy_ticks() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    // user nice system idle iowait irq softirq steal ...: all but idle and iowait.
    line.split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum()
}

/// Cores used by each between two snapshots `seconds` apart.
pub fn cores_used(
    before: &[(String, u64)],
    after: &[(String, u64)],
    seconds: f64,
) -> Vec<(String, f64)> {
    let hz = clock_ticks_per_second();
    after
        .iter()
        .map(|(name, t)| {
            let t0 = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, t0)| *t0);
            (
                name.clone(),
                t.saturating_sub(t0) as f64 / hz / seconds.max(0.001),
            )
        })
        .collect()
}

fn clock_ticks_per_second() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Where things are: the repository, the binaries, the working directory.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The repository root.
    pub root: PathBuf,
    /// The services' binaries (`$CARGO_TARGET_DIR/release`).
    pub bin_dir: PathBuf,
    /// The router binary.
    pub router_bin: PathBuf,
    /// Keys, logs, the rewritten supergraph (git-ignored).
    pub work: PathBuf,
    /// `bench/gateways` (with `node_modules` once installed).
    pub gateways: PathBuf,
}

/// JWT keys for the run: generated once into the work directory.
pub struct Keys {
    /// PKCS#8 PEM.
    pub private_pem: String,
    /// SPKI PEM.
    pub public_pem: String,
}

/// Reads the keys in `dir`, generating them the first time.
pub fn keys(dir: &Path) -> anyhow::Result<Keys> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let (private, public) = (dir.join("jwt-private.pem"), dir.join("jwt-public.pem"));
    if !private.exists() || !public.exists() {
        std::fs::create_dir_all(dir)?;
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)?;
        let private_pem = key.to_pkcs8_pem(LineEnding::LF)?.to_string();
        let public_pem = platform::auth::public_pem_of(&key)?;
        std::fs::write(&private, private_pem)?;
        std::fs::write(&public, public_pem)?;
    }
    Ok(Keys {
        private_pem: std::fs::read_to_string(private)?,
        public_pem: std::fs::read_to_string(public)?,
    })
}

/// The running services and router.
pub struct Stack {
    /// Services by name, then the router.
    pub procs: Vec<Proc>,
    /// Database URLs by service.
    pub databases: HashMap<&'static str, String>,
    /// The broker topology prefix.
    pub events_prefix: String,
    /// `http://127.0.0.1:<port>/graphql` by service name and `router`.
    pub urls: HashMap<String, String>,
}

impl Stack {
    /// The GraphQL URL of `name`.
    pub fn url(&self, name: &str) -> String {
        self.urls.get(name).cloned().unwrap_or_default()
    }
}

/// Settings of the services under test.
pub struct StackOptions<'a> {
    /// The run's name (`bench_f_1234`): prefix of databases and broker names.
    pub run: &'a str,
    /// The PostgreSQL server as `postgres://user@host:port`.
    pub pg: &'a str,
    /// The broker.
    pub amqp_url: &'a str,
    /// JWT keys.
    pub keys: &'a Keys,
}

/// Starts the four services (which create and migrate their databases) and
/// the router.
pub async fn start(
    http: &reqwest::Client,
    paths: &Paths,
    options: &StackOptions<'_>,
) -> anyhow::Result<Stack> {
    let logs = paths.work.join("logs");
    std::fs::create_dir_all(&logs)?;
    let events_prefix = format!("{}.", options.run);
    declare_topology(options.amqp_url, &events_prefix).await?;
    let mut stack = Stack {
        procs: Vec::new(),
        databases: HashMap::new(),
        events_prefix: events_prefix.clone(),
        urls: HashMap::new(),
    };
    let mut ports = HashMap::new();
    for svc in SERVICES {
        ports.insert(svc, free_port()?);
        stack
            .databases
            .insert(svc, format!("{}/{}_{svc}", options.pg, options.run));
    }
    for svc in SERVICES {
        let upper = svc.to_uppercase();
        let port = ports[svc];
        let mut env = vec![
            ("HOST", "127.0.0.1".to_string()),
            ("PORT", port.to_string()),
            ("DATABASE_URL", stack.databases[svc].clone()),
            ("JWT_PUBLIC_KEY_PEM", options.keys.public_pem.clone()),
            ("AMQP_URL", options.amqp_url.to_string()),
            ("EVENTS_PREFIX", events_prefix.clone()),
        ];
        match svc {
            "users" => {
                env.push(("JWT_PRIVATE_KEY_PEM", options.keys.private_pem.clone()));
                // The sign-up burst comes from one address.
                env.push(("SIGNUPS_PER_ADDRESS", "1000000".into()));
            }
            "orders" => {
                env.push((
                    "PRODUCTS_URL",
                    format!("http://127.0.0.1:{}", ports["products"]),
                ));
                // The saga scenario places orders faster than one customer's cap of unpaid ones.
                env.push(("MAX_OPEN_ORDERS", "1000000".into()));
            }
            _ => {}
        }
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .map(|(k, v)| (format!("{upper}_{k}"), v))
            .collect();
        env.push(("RUST_LOG".into(), "warn".into()));
        let log = logs.join(format!("{svc}.log"));
        let mut proc = spawn(svc, port, &paths.bin_dir.join(svc), &[], &env, None, &log)?;
        wait_get(
            http,
            &mut proc,
            &format!("http://127.0.0.1:{port}/health/ready"),
            Duration::from_secs(120),
            &log,
        )
        .await?;
        stack
            .urls
            .insert(svc.into(), format!("http://127.0.0.1:{port}/graphql"));
        stack.procs.push(proc);
    }

    let router_port = free_port()?;
    // The config names the storefront's trusted-document manifest, which only a
    // storefront build writes; the router resolves the path even with the
    // feature off, so a fresh clone gets an empty manifest of the run's own.
    let manifest = paths.work.join("persisted-documents.json");
    std::fs::write(&manifest, "{}")?;
    let mut env = vec![
        (
            "ROUTER_TRUSTED_DOCUMENTS_FILE".to_string(),
            manifest.display().to_string(),
        ),
        (
            "ROUTER_CONFIG_FILE_PATH".into(),
            paths
                .root
                .join("supergraph/router/router.config.yaml")
                .display()
                .to_string(),
        ),
        (
            "SUPERGRAPH_FILE_PATH".into(),
            paths
                .root
                .join("schema/supergraph.graphql")
                .display()
                .to_string(),
        ),
        (
            "ROUTER_JWKS_URL".into(),
            format!("http://127.0.0.1:{}/.well-known/jwks.json", ports["users"]),
        ),
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), router_port.to_string()),
        ("LOG_LEVEL".into(), "warn".into()),
    ];
    for svc in SERVICES {
        env.push((
            format!("SUBGRAPH_{}_URL", svc.to_uppercase()),
            stack.url(svc),
        ));
    }
    let log = logs.join("router.log");
    let mut router = spawn(
        "router",
        router_port,
        &paths.router_bin,
        &[],
        &env,
        None,
        &log,
    )?;
    wait_get(
        http,
        &mut router,
        &format!("http://127.0.0.1:{router_port}/readiness"),
        Duration::from_secs(60),
        &log,
    )
    .await?;
    stack.urls.insert(
        "router".into(),
        format!("http://127.0.0.1:{router_port}/graphql"),
    );
    stack.procs.push(router);
    Ok(stack)
}

/// Declares the run's private topology (`<prefix>commerce.events`, queues...).
pub async fn declare_topology(amqp_url: &str, prefix: &str) -> anyhow::Result<()> {
    let topology = events::Topology::with_prefix(prefix.to_string());
    let conn = events::amqp::connect(amqp_url, "bench-declare").await?;
    topology.declare(&conn.create_channel().await?).await?;
    let _ = conn.close(200, "done".into()).await;
    Ok(())
}

/// Deletes the run's topology.
pub async fn delete_topology(amqp_url: &str, prefix: &str) -> anyhow::Result<()> {
    let topology = events::Topology::with_prefix(prefix.to_string());
    let conn = events::amqp::connect(amqp_url, "bench-cleanup").await?;
    topology.delete(&conn.create_channel().await?).await?;
    let _ = conn.close(200, "done".into()).await;
    Ok(())
}

/// A JS gateway on the same supergraph and subgraphs.
pub async fn start_gateway(
    http: &reqwest::Client,
    paths: &Paths,
    stack: &Stack,
    kind: &str,
) -> anyhow::Result<Proc> {
    // The supergraph with this run's subgraph URLs (the committed one names 4001-4004).
    let mut sdl = std::fs::read_to_string(paths.root.join("schema/supergraph.graphql"))?;
    for (svc, port) in [
        ("users", 4001),
        ("products", 4002),
        ("orders", 4003),
        ("payments", 4004),
    ] {
        sdl = sdl.replace(&format!("http://127.0.0.1:{port}/graphql"), &stack.url(svc));
    }
    let supergraph = paths.work.join("supergraph.graphql");
    std::fs::write(&supergraph, sdl)?;
    let port = free_port()?;
    let log = paths.work.join("logs").join(format!("{kind}.log"));
    let env = vec![("NODE_ENV".to_string(), "production".to_string())];
    let mut proc = match kind {
        "hive-gateway" => spawn(
            kind,
            port,
            &paths.gateways.join("node_modules/.bin/hive-gateway"),
            &[
                "supergraph".into(),
                supergraph.display().to_string(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port.to_string(),
                "--fork".into(),
                "1".into(),
            ],
            &env,
            Some(&paths.gateways),
            &log,
        )?,
        _ => spawn(
            kind,
            port,
            Path::new("node"),
            &[
                paths.gateways.join("apollo.mjs").display().to_string(),
                supergraph.display().to_string(),
                port.to_string(),
            ],
            &env,
            Some(&paths.gateways),
            &log,
        )?,
    };
    wait_graphql(
        http,
        &mut proc,
        &format!("http://127.0.0.1:{port}/graphql"),
        Duration::from_secs(90),
        &log,
    )
    .await?;
    Ok(proc)
}
