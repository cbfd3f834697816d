//! `deploy/observability` against the tools and the services as they really
//! are: Prometheus accepts the scrape config and the alert rules, whose unit
//! tests pass and cover every alert firing and staying quiet; every metric of
//! the shop the alerts and the Grafana dashboard name is one the running
//! services emit; the dashboard is valid Grafana JSON whose every panel queries
//! a provisioned data source with valid PromQL; compose runs all of it on
//! the files of this directory, with the UIs on the host's loopback only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use e2e::{repo_root, Shop};
use serde_json::Value;
use serde_yaml::Value as Yaml;

fn dir() -> PathBuf {
    repo_root().join("deploy/observability")
}

fn yaml(file: &str) -> Yaml {
    serde_yaml::from_str(&std::fs::read_to_string(dir().join(file)).unwrap()).unwrap()
}

fn dashboard() -> Value {
    let path = dir().join("grafana/dashboards/shop.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `promtool` in deploy/observability (relative paths as Prometheus
/// resolves them there) and fails with its output unless it succeeds.
fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir())
        .output()
        .expect("promtool (Debian package prometheus; ensure_test_tools installs it)");
    assert!(
        out.status.success(),
        "promtool {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The alerting rules of alerts.yml: (name, rule).
fn alert_rules() -> Vec<(String, Yaml)> {
    let alerts = yaml("alerts.yml");
    let mut rules = Vec::new();
    for group in alerts["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().expect("only alerting rules");
            rules.push((name.to_string(), rule.clone()));
        }
    }
    rules
}

/// Every non-row panel of the dashboard, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<Value> {
    fn walk(list: &Value, out: &mut Vec<Value>) {
        for p in list.as_array().into_iter().flatten() {
            if p["type"] == "row" {
                walk(&p["panels"], out);
            } else {
                out.push(p.clone());
            }
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Every PromQL expression of the alert rules and of the dashboard's panels.
fn expressions() -> Vec<(String, String)> {
    let mut exprs: Vec<(String, String)> = alert_rules()
        .into_iter()
        .map(|(name, rule)| {
            (
                format!("alert {name}"),
                rule["expr"].as_str().unwrap().into(),
            )
        })
        .collect();
    for panel in panels(&dashboard()) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push((
                format!("panel {:?}", panel["title"].as_str().unwrap_or("")),
                target["expr"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    exprs
}

/// The metric names a PromQL expression selects.
///
/// The rule: drop what cannot be a metric name (string literals, the label
/// matchers between `{}`, ranges and Grafana's `$__rate_interval` between
/// `[]`, and the label lists of `by`/`without`/`on`/`ignoring`/`group_left`/
/// `group_right`), then every identifier left that is not part of a number
/// (`10m`, `1e3`), not a function or aggregation (followed by `(`, or by `by`
/// or `without` and its label list) and not an operator keyword (`and`,
/// `offset`, ...) is a metric name. Robust to any spacing and
/// to how the expression is wrapped across lines.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // 1. Strings, selectors and ranges out (nesting does not occur in PromQL).
    let mut flat = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                let quote = c;
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == quote {
                        break;
                    }
                }
                flat.push_str("\"\"");
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let mut quote = None;
                for d in chars.by_ref() {
                    match (quote, d) {
                        (None, '"' | '\'' | '`') => quote = Some(d),
                        (Some(q), _) if d == q => quote = None,
                        (None, _) if d == close => break,
                        _ => {}
                    }
                }
                flat.push(c);
                flat.push(close);
            }
            _ => flat.push(c),
        }
    }
    // 2. Identifiers, with what precedes and follows them.
    let bytes = flat.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut idents: Vec<(String, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if is_ident(bytes[i]) {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            idents.push((flat[start..i].to_string(), start, i));
        } else {
            i += 1;
        }
    }
    let next_char = |end: usize| flat[end..].trim_start().chars().next();
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    const KEYWORDS: [&str; 8] = [
        "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
    ];
    let mut names = BTreeSet::new();
    // The end of the label list of the last grouping seen (lists hold no parentheses).
    let mut group_end = 0;
    for (ident, start, end) in idents {
        if start < group_end {
            continue;
        }
        if GROUPING.contains(&ident.to_lowercase().as_str()) {
            if next_char(end) == Some('(') {
                let open = end + flat[end..].find('(').unwrap();
                group_end = open + flat[open..].find(')').unwrap_or(flat.len() - open);
            }
            continue;
        }
        let number = ident.as_bytes()[0].is_ascii_digit();
        // `sum by (x) (...)`: an aggregation whose grouping comes first.
        let rest = flat[end..].trim_start();
        let aggregation = ["by", "without"].iter().any(|g| {
            rest.strip_prefix(g)
                .is_some_and(|after| after.trim_start().starts_with('('))
        });
        if number
            || aggregation
            || next_char(end) == Some('(')
            || KEYWORDS.contains(&ident.as_str())
        {
            continue;
        }
        names.insert(ident);
    }
    names
}

/// Metric families the shop's services emit (subgraphs/platform/src/metrics.rs,
/// workers.rs, subgraphs/events/src/{relay,consumer}.rs): these must be in the
/// services' /metrics output. A new family of the services gets its prefix here.
const SHOP_PREFIXES: [&str; 7] = [
    "http_request",
    "events_",
    "outbox_",
    "worker_",
    "order",
    "graphql_operation",
    "db_pool_",
];

/// Metrics of Prometheus itself and of the router (hive-router), Kong and
/// RabbitMQ: not the services', so not checked against them.
const FOREIGN: [&str; 3] = ["up", "ALERTS", "ALERTS_FOR_STATE"];
const FOREIGN_PREFIXES: [&str; 5] = [
    "rabbitmq_",
    "kong_",
    "hive_router_",
    "http_server_",
    "http_client_",
];

fn is_shop_metric(name: &str) -> bool {
    if FOREIGN.contains(&name) || FOREIGN_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return false;
    }
    assert!(
        SHOP_PREFIXES.iter().any(|p| name.starts_with(p)),
        "{name} is neither the shop's nor a known system's metric: add its prefix to \
         SHOP_PREFIXES (the services emit it) or FOREIGN_PREFIXES"
    );
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "{name}: the services' metric names are lower snake case"
    );
    true
}

/// The metric names in a Prometheus text exposition.
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[test]
fn metric_names_are_found_in_promql() {
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"sum by (service, kind) (increase(events_dead_lettered_total{job="shop", kind=~"a b"}[10m])) > 0 or sum by (service) (x_total unless x_total offset 10m)"#
        ),
        ["events_dead_lettered_total", "x_total"]
    );
    assert_eq!(
        names("max(outbox_parked_events) > 0 and on () (sum(y[5m]) or vector(0)) == bool 1"),
        ["outbox_parked_events", "y"]
    );
    assert_eq!(
        names("histogram_quantile(0.95, sum(rate(a_bucket{l=\"}\"}[$__rate_interval])) by (le, subgraph_name))\n/ b"),
        ["a_bucket", "b"]
    );
    assert_eq!(names("worker_up == 0"), ["worker_up"]);
    assert_eq!(names("up{job=~\"shop|router\"} == 1e3"), ["up"]);
}

#[test]
fn prometheus_config_and_alert_rules_are_valid_and_their_unit_tests_pass() {
    promtool(&["check", "config", "prometheus.yml"]);
    promtool(&["check", "rules", "alerts.yml"]);
    promtool(&["test", "rules", "rules.test.yml"]);
}

#[test]
fn every_alert_is_tested_firing_and_quiet_and_says_what_to_do() {
    let tests = yaml("rules.test.yml");
    let (mut fires, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for test in tests["tests"].as_sequence().unwrap() {
        for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap().to_string();
            match case["exp_alerts"].as_sequence() {
                Some(alerts) if !alerts.is_empty() => fires.insert(name),
                _ => quiet.insert(name),
            };
        }
    }
    let rules = alert_rules();
    assert!(rules.len() >= 10, "{} alerts", rules.len());
    for (name, rule) in &rules {
        assert!(fires.contains(name), "no test shows {name} firing");
        assert!(quiet.contains(name), "no test shows {name} quiet");
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("warning" | "critical")),
            "{name}: severity {severity:?}"
        );
        for annotation in ["summary", "description"] {
            assert!(
                rule["annotations"][annotation]
                    .as_str()
                    .is_some_and(|s| s.len() > 10),
                "{name} has no {annotation}"
            );
        }
    }
    // The failures the alerts are for.
    let exprs: String = rules
        .iter()
        .map(|(_, r)| r["expr"].as_str().unwrap())
        .collect();
    for needle in [
        "up == 0",
        "dlq",
        "events_dead_lettered_total",
        "outbox_oldest_pending_seconds",
        "outbox_parked_events",
        "events_handled_total",
        "status=~\"5..\"",
        "worker_restarts_total",
    ] {
        assert!(exprs.contains(needle), "no alert uses {needle}");
    }
}

#[test]
fn the_dashboard_is_valid_and_every_panel_queries_a_provisioned_data_source() {
    let dashboard = dashboard();
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 38);
    assert!(dashboard["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));

    // The data sources Grafana is given, by uid.
    let sources = yaml("grafana/provisioning/datasources/shop.yml");
    let uids: BTreeMap<String, String> = sources["datasources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["uid"].as_str().unwrap().to_string(),
                d["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    let panels = panels(&dashboard);
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut ids = BTreeSet::new();
    let mut rules = Vec::new();
    for panel in &panels {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "a panel without a title: {panel}");
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "{title}: id reused"
        );
        let source = &panel["datasource"];
        let uid = source["uid"]
            .as_str()
            .unwrap_or_else(|| panic!("{title}: no data source"));
        assert_eq!(
            uids.get(uid).map(String::as_str),
            source["type"].as_str(),
            "{title}: data source {source} is not provisioned"
        );
        let gp = &panel["gridPos"];
        assert!(
            gp["w"].as_u64().unwrap_or(0) > 0 && gp["h"].as_u64().unwrap_or(0) > 0,
            "{title}: gridPos"
        );
        let targets = panel["targets"].as_array().cloned().unwrap_or_default();
        assert!(!targets.is_empty(), "{title}: no target");
        for target in &targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(!expr.trim().is_empty(), "{title}: empty query");
            if let Some(uid) = target["datasource"]["uid"].as_str() {
                assert!(uids.contains_key(uid), "{title}: target data source {uid}");
            }
            // Grafana's variables as Prometheus would see them.
            let promql = expr
                .replace("$__rate_interval", "1m")
                .replace("$__interval", "1m")
                .replace("$service", ".*");
            rules.push(serde_json::json!({
                "record": format!("dashboard:panel_{}:{}", panel["id"], target["refId"].as_str().unwrap()),
                "expr": promql,
            }));
        }
    }
    // Every query is PromQL Prometheus accepts: promtool checks them as recording rules.
    let file =
        std::env::temp_dir().join(format!("shop-dashboard-{}.rules.yml", std::process::id()));
    let doc = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
    std::fs::write(&file, serde_yaml::to_string(&doc).unwrap()).unwrap();
    promtool(&["check", "rules", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);

    // The saga and the API are both on it.
    let text = dashboard.to_string();
    for needle in [
        "outbox_events_published_total",
        "events_handled_total",
        "events_dead_lettered_total",
        "outbox_pending_events",
        "outbox_oldest_pending_seconds",
        "outbox_parked_events",
        "rabbitmq_detailed_queue_messages",
        "http_requests_total",
        "http_request_duration_seconds",
    ] {
        assert!(
            text.contains(needle),
            "the dashboard does not show {needle}"
        );
    }
}

/// Polls a service's `/metrics` until it names `metric` (10 s at most).
async fn wait_for_metric(http: &reqwest::Client, port: u16, metric: &str) {
    for _ in 0..100 {
        let text = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if exposed(&text).contains(metric) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{metric} never appeared on :{port}/metrics");
}

#[tokio::test]
async fn every_shop_metric_of_the_alerts_and_the_dashboard_is_emitted_by_the_services() {
    // What the alerts and the dashboard need from the services.
    let mut needed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (place, expr) in expressions() {
        for name in metric_names(&expr)
            .into_iter()
            .filter(|n| is_shop_metric(n))
        {
            needed.entry(name).or_default().insert(place.clone());
        }
    }
    assert!(needed.len() >= 8, "{needed:?}");

    let shop = Shop::start().await;
    let http = reqwest::Client::new();

    // One order through the saga to PAID: requests, published and handled
    // events, the outbox gauges.
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "OBS-1", "Observed lamp", 2500, 5)
        .await;
    let token = shop.customer("observer@example.com").await;
    let res = shop.place_order(&token, &lamp, 1, "tok_visa", "obs").await;
    let order = res["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_string();
    shop.wait_for_status(&token, &order, "PAID").await;

    // The counters only failures create. A message no consumer can read, sent
    // where orders consumes: the consumer dead-letters it.
    let key = events::topology::Topology::keys_of("orders")[0];
    let conn = events::amqp::connect(&testkit::bus::amqp_url(), "observability-test")
        .await
        .unwrap();
    let channel = events::amqp::confirm_channel(&conn).await.unwrap();
    channel
        .basic_publish(
            shop.bus.topology.exchange().into(),
            key.into(),
            lapin::options::BasicPublishOptions::default(),
            b"not an event envelope",
            lapin::BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let _ = conn.close(200, "done".into()).await;
    wait_for_metric(&http, shop.orders.port, "events_dead_lettered_total").await;
    // A supervised worker that stops is restarted and counted. The services of
    // this process share one metrics recorder, so a worker supervised here by
    // the same code (platform::workers) is counted on their /metrics too.
    let mut workers = platform::workers::Workers::new();
    workers.spawn("observability-probe", |_| async {});
    wait_for_metric(&http, shop.orders.port, "worker_restarts_total").await;
    workers.stop(Duration::from_secs(2)).await;

    let mut emitted = BTreeSet::new();
    for (service, port) in [
        ("users", shop.users.port),
        ("products", shop.products.port),
        ("orders", shop.orders.port),
        ("payments", shop.payments.port),
    ] {
        let res = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{service} /metrics");
        emitted.extend(exposed(&res.text().await.unwrap()));
    }
    shop.stop().await;

    let missing: Vec<String> = needed
        .iter()
        .filter(|(name, _)| !emitted.contains(*name))
        .map(|(name, places)| format!("{name} (used by {places:?})"))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics the alerts or the dashboard use that no service emits: {missing:#?}\nemitted: {emitted:?}"
    );
}

#[test]
fn compose_runs_prometheus_grafana_and_jaeger_on_these_files() {
    let compose = super::deployment::compose();
    let services = &compose["services"];
    let mounts = |service: &str| -> Vec<(String, String)> {
        services[service]["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|v| match v.as_str() {
                // Short form "source:target[:mode]".
                Some(short) => {
                    let mut parts = short.split(':');
                    Some((parts.next()?.to_string(), parts.next()?.to_string()))
                }
                None => Some((
                    v["source"].as_str()?.to_string(),
                    v["target"].as_str()?.to_string(),
                )),
            })
            .collect()
    };
    let mounted_at = |service: &str, file: &str| -> String {
        let source = dir().join(file);
        mounts(service)
            .into_iter()
            .find(|(s, _)| std::path::Path::new(s) == source)
            .map(|(_, t)| t)
            .unwrap_or_else(|| panic!("{service} does not mount {file}: {:?}", mounts(service)))
    };

    // Prometheus reads prometheus.yml, and alerts.yml beside it (rule_files is relative).
    let config = mounted_at("prometheus", "prometheus.yml");
    let rules = mounted_at("prometheus", "alerts.yml");
    let prom = yaml("prometheus.yml");
    let rule_file = prom["rule_files"][0].as_str().unwrap();
    assert_eq!(
        PathBuf::from(&config).parent().unwrap().join(rule_file),
        PathBuf::from(&rules)
    );
    let command: Vec<&str> = services["prometheus"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(command.contains(&format!("--config.file={config}").as_str()));

    // Every scrape target is a compose service; the services' at their own port.
    for job in prom["scrape_configs"].as_sequence().unwrap() {
        for group in job["static_configs"].as_sequence().unwrap() {
            for target in group["targets"].as_sequence().unwrap() {
                let (host, port) = target.as_str().unwrap().split_once(':').unwrap();
                assert!(
                    services[host].is_mapping(),
                    "{target:?}: no compose service {host}"
                );
                if job["job_name"].as_str() == Some("shop") {
                    assert_eq!(group["labels"]["service"].as_str(), Some(host));
                    let var = format!("{}_PORT", host.to_uppercase());
                    assert_eq!(
                        services[host]["environment"][var.as_str()].as_str(),
                        Some(port),
                        "{host} listens elsewhere"
                    );
                }
            }
        }
    }

    // Grafana: the provisioning, and the dashboards where the provider looks.
    let provisioning = mounted_at("grafana", "grafana/provisioning");
    assert_eq!(provisioning, "/etc/grafana/provisioning");
    let provider = yaml("grafana/provisioning/dashboards/shop.yml");
    assert_eq!(
        mounted_at("grafana", "grafana/dashboards"),
        provider["providers"][0]["options"]["path"]
            .as_str()
            .unwrap()
    );
    let grafana_env = &services["grafana"]["environment"];
    assert!(grafana_env["GF_SECURITY_ADMIN_PASSWORD"]
        .as_str()
        .is_some_and(|p| !p.is_empty() && p != "admin"));
    // The data sources point at the compose services.
    for source in yaml("grafana/provisioning/datasources/shop.yml")["datasources"]
        .as_sequence()
        .unwrap()
    {
        let url = source["url"].as_str().unwrap();
        let host = url.trim_start_matches("http://").split(':').next().unwrap();
        assert!(services[host].is_mapping(), "data source {url}");
    }

    // Jaeger takes OTLP inside the network only; every UI on loopback only
    // (compose_is_safe_as_shipped checks every published port too).
    let exposed: Vec<&str> = services["jaeger"]["expose"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(exposed.contains(&"4317") && exposed.contains(&"4318"));
    for (service, port) in [
        ("prometheus", "9090"),
        ("grafana", "3001"),
        ("jaeger", "16686"),
    ] {
        let ports: Vec<String> = services[service]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{p:?}"))
            })
            .collect();
        assert!(
            ports.iter().all(|p| p.starts_with("127.0.0.1:")),
            "{service}: {ports:?}"
        );
        assert!(
            ports
                .iter()
                .any(|p| p.starts_with(&format!("127.0.0.1:{port}:"))),
            "{service} is not on 127.0.0.1:{port}: {ports:?}"
        );
        for p in &ports {
            assert!(
                !p.contains(":4317") && !p.contains(":4318"),
                "{service} publishes OTLP"
            );
        }
    }
}
