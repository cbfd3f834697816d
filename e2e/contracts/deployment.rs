//! `kong/kong.yml` and `compose.yml` against the services as they really are:
//! every Kong upstream is a compose service exposing that port, every Kong route
//! is served by its service (asked on the running service, paths unchanged as
//! the routes do not strip them), every public REST operation of the OpenAPI
//! documents is reachable through Kong, and every environment variable compose
//! sets is one the service reads.

use std::collections::{BTreeSet, HashMap};

use e2e::{repo_root, Shop};
use serde_json::Value;
use serde_yaml::Value as Yaml;

fn yaml(file: &str) -> Yaml {
    serde_yaml::from_str(&std::fs::read_to_string(repo_root().join(file)).unwrap()).unwrap()
}

/// The names every service's config struct reads (`USERS_PORT`, ...), plus the
/// platform's own variables.
pub fn service_reads(service: &str) -> BTreeSet<String> {
    use serde_aux::serde_introspection::serde_introspect;
    let (prefix, fields): (&str, &[&str]) = match service {
        users::config::NAME => (
            users::config::ENV_PREFIX,
            serde_introspect::<users::config::Config>(),
        ),
        products::config::NAME => (
            products::config::ENV_PREFIX,
            serde_introspect::<products::config::Config>(),
        ),
        orders::config::NAME => (
            orders::config::ENV_PREFIX,
            serde_introspect::<orders::config::Config>(),
        ),
        payments::config::NAME => (
            payments::config::ENV_PREFIX,
            serde_introspect::<payments::config::Config>(),
        ),
        other => panic!("unknown service {other}"),
    };
    fields
        .iter()
        .chain(serde_introspect::<platform::config::ServiceConfig>())
        .filter(|f| **f != "profile")
        .map(|f| format!("{prefix}_{}", f.to_uppercase()))
        .chain(["RUST_LOG", "LOG_FORMAT", "SHOP_ENV"].map(String::from))
        .chain(
            platform::telemetry::OTEL_VARIABLES
                .iter()
                .map(|v| v.to_string()),
        )
        .collect()
}

/// Whether the router reads `key`: one of its own variables, or a name its
/// config reads (`from_env: KEY`, or `env("KEY")` in an expression).
pub fn router_reads(config: &str, key: &str) -> bool {
    [
        "ROUTER_CONFIG_FILE_PATH",
        "SUPERGRAPH_FILE_PATH",
        "PORT",
        "HOST",
        "LOG_LEVEL",
        "LOG_FORMAT",
        // hive-router's own override of telemetry.tracing.collect.sampling.
        "TELEMETRY_TRACING_SAMPLING_RATE",
    ]
    .contains(&key)
        || config.contains(&format!("from_env: {key}"))
        || config.contains(&format!("env(\"{key}\""))
}

/// An env file of made-up secrets, written by `scripts/compose-env` itself.
pub fn compose_env_file() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("shop-compose-{}.env", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let status = std::process::Command::new("bash")
        .arg(repo_root().join("scripts/compose-env"))
        .arg(&path)
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "scripts/compose-env: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    path
}

/// `compose.yml` as Docker Compose reads it (anchors and merge keys resolved),
/// with the secrets of [`compose_env_file`].
pub fn compose() -> Yaml {
    let out = std::process::Command::new("docker-compose")
        .arg("--env-file")
        .arg(compose_env_file())
        .args(["-f", "compose.yml", "config"])
        .current_dir(repo_root())
        .output()
        .expect("docker-compose (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml::from_slice(&out.stdout).unwrap()
}

fn strs(v: &Yaml) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A Kong route: its service's upstream host and port, paths, methods, and
/// whether Kong answers it itself (request-termination).
#[derive(Debug)]
struct KongRoute {
    host: String,
    port: u16,
    paths: Vec<String>,
    methods: Vec<String>,
    strip_path: bool,
    terminated: bool,
}

fn kong_routes() -> Vec<KongRoute> {
    let kong = yaml("kong/kong.yml");
    let mut routes = Vec::new();
    for service in kong["services"].as_sequence().unwrap() {
        let url = service["url"].as_str().unwrap();
        let authority = url.trim_start_matches("http://").split('/').next().unwrap();
        let (host, port) = authority.split_once(':').unwrap();
        for route in service["routes"].as_sequence().unwrap() {
            let terminated = route["plugins"].as_sequence().is_some_and(|p| {
                p.iter()
                    .any(|p| p["name"].as_str() == Some("request-termination"))
            });
            routes.push(KongRoute {
                host: host.to_string(),
                port: port.parse().unwrap(),
                paths: strs(&route["paths"]),
                methods: strs(&route["methods"]),
                strip_path: route["strip_path"].as_bool().unwrap_or(true),
                terminated,
            });
        }
    }
    routes
}

/// The (path, method, internal?) operations of an OpenAPI document.
fn operations(doc: &Value) -> Vec<(String, String, bool)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let internal = op["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "internal"));
            ops.push((path.clone(), method.to_uppercase(), internal));
        }
    }
    ops
}

/// Kong's prefix match: the most specific route path that prefixes `path`.
fn kong_route_for<'a>(routes: &'a [KongRoute], host: &str, path: &str) -> Option<&'a KongRoute> {
    routes
        .iter()
        .filter(|r| r.host == host)
        .filter_map(|r| {
            r.paths
                .iter()
                .filter(|p| path.starts_with(p.as_str()))
                .map(|p| (p.len(), r))
                .max_by_key(|(l, _)| *l)
        })
        .max_by_key(|(l, _)| *l)
        .map(|(_, r)| r)
}

#[test]
fn every_kong_upstream_is_a_compose_service_exposing_its_port() {
    let compose = compose();
    for route in kong_routes() {
        let service = &compose["services"][route.host.as_str()];
        assert!(
            service.is_mapping(),
            "Kong sends to {}, which compose does not define",
            route.host
        );
        let exposed: Vec<String> = strs(&service["expose"]);
        assert!(
            exposed.contains(&route.port.to_string()),
            "{} does not expose {}: {exposed:?}",
            route.host,
            route.port
        );
    }
}

#[test]
fn every_environment_variable_compose_sets_is_read_by_its_service() {
    let compose = compose();
    for (service, prefix) in [
        ("users", "USERS"),
        ("products", "PRODUCTS"),
        ("orders", "ORDERS"),
        ("payments", "PAYMENTS"),
    ] {
        let read = service_reads(service);
        let env = compose["services"][service]["environment"]
            .as_mapping()
            .unwrap();
        for key in env.keys().filter_map(|k| k.as_str()) {
            assert!(
                read.contains(key),
                "compose sets {key} for {service}, which reads only {read:?}"
            );
        }
        let port = env
            .get(Yaml::from(format!("{prefix}_PORT")))
            .and_then(|v| v.as_str())
            .unwrap();
        assert!(
            strs(&compose["services"][service]["expose"]).contains(&port.to_string()),
            "{service} port"
        );
    }
    // The router reads its own variables and the from_env names of its config.
    let config =
        std::fs::read_to_string(repo_root().join("supergraph/router/router.config.yaml")).unwrap();
    let env = compose["services"]["router"]["environment"]
        .as_mapping()
        .unwrap();
    for key in env.keys().filter_map(|k| k.as_str()) {
        let known = router_reads(&config, key);
        assert!(
            known,
            "compose sets {key} for the router, which does not read it"
        );
    }
}

#[tokio::test]
async fn every_kong_route_is_served_and_every_public_operation_is_routed() {
    let shop = Shop::start().await;
    let http = reqwest::Client::new();
    let router_port: u16 = shop.router_url.rsplit(':').next().unwrap().parse().unwrap();
    let ports: HashMap<&str, u16> = HashMap::from([
        ("users", shop.users.port),
        ("products", shop.products.port),
        ("orders", shop.orders.port),
        ("payments", shop.payments.port),
        ("router", router_port),
    ]);
    let routes = kong_routes();

    // The documented operations of each service.
    let mut documented: HashMap<&str, Vec<(String, String, bool)>> = HashMap::new();
    for service in ["users", "products", "orders", "payments"] {
        let doc: Value = http
            .get(format!(
                "http://127.0.0.1:{}/api/v1/openapi.json",
                ports[service]
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{service}: {}",
            doc["openapi"]
        );
        documented.insert(service, operations(&doc));
    }

    // Every route path leads to something its service serves.
    for route in &routes {
        assert!(
            !route.strip_path,
            "routes keep their paths: the services serve the full /api/v1 paths"
        );
        if route.host == "storefront" {
            // nginx serves the storefront's build at / (storefront/nginx.conf).
            assert_eq!(route.paths, ["/"], "the storefront is Kong's root");
            let nginx = std::fs::read_to_string(repo_root().join("storefront/nginx.conf")).unwrap();
            assert!(nginx.contains(&format!("listen {};", route.port)));
            assert!(nginx.contains("try_files $uri /index.html"));
            continue;
        }
        let port = ports[route.host.as_str()];
        for path in &route.paths {
            if route.host == "router" {
                let res = http
                    .get(format!("http://127.0.0.1:{port}{path}"))
                    .header("accept", "text/html")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200, "{path} on the router");
                continue;
            }
            let ops = &documented[route.host.as_str()];
            let served: Vec<&(String, String, bool)> = ops
                .iter()
                .filter(|(p, _, _)| p.starts_with(path.as_str()))
                .collect();
            assert!(
                !served.is_empty(),
                "Kong routes {path} to {}, which documents nothing under it",
                route.host
            );
            for (p, method, _) in served {
                if !route.methods.is_empty() {
                    assert!(
                        route.methods.contains(method),
                        "Kong route {path} does not allow {method} {p}"
                    );
                }
                let concrete = p.replace("{id}", &uuid::Uuid::now_v7().to_string());
                let url = format!("http://127.0.0.1:{port}{concrete}");
                let res = match method.as_str() {
                    "GET" => http.get(&url).send().await.unwrap(),
                    _ => http
                        .post(&url)
                        .json(&serde_json::json!({}))
                        .send()
                        .await
                        .unwrap(),
                };
                let problem = res
                    .headers()
                    .get("content-type")
                    .is_some_and(|c| c == "application/problem+json");
                let status = res.status().as_u16();
                assert!(
                    status != 404 || problem,
                    "{method} {concrete} is not served by {} ({status})",
                    route.host
                );
                assert!(status < 500, "{method} {concrete}: {status}");
            }
        }
    }

    // Every public operation is reachable through a Kong route; internal ones are not.
    for (service, ops) in &documented {
        for (path, method, internal) in ops {
            let route = kong_route_for(&routes, service, path);
            match (route, internal) {
                (Some(r), false) => {
                    assert!(
                        !r.terminated,
                        "{method} {path} is public but Kong answers it itself"
                    );
                    assert!(
                        r.methods.is_empty() || r.methods.contains(method),
                        "{method} {path} not allowed by Kong"
                    );
                }
                (None, false) => panic!("{method} {path} of {service} has no Kong route"),
                (Some(r), true) => assert!(
                    r.terminated,
                    "internal {method} {path} must not be reachable through Kong"
                ),
                (None, true) => {}
            }
        }
    }
    shop.stop().await;
}

#[test]
fn compose_is_safe_as_shipped() {
    // No literal password: every secret is a variable that scripts/compose-env fills.
    let text = std::fs::read_to_string(repo_root().join("compose.yml")).unwrap();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let lower = line.to_lowercase();
        if lower.contains("password") || lower.contains("_pass:") {
            assert!(
                line.contains("${SHOP_"),
                "a literal secret in compose.yml: {line}"
            );
        }
        if let Some(at) = line.find("://") {
            let rest = &line[at + 3..];
            if let Some(creds) = rest.split('@').next().filter(|_| rest.contains('@')) {
                assert!(
                    creds.contains("${SHOP_"),
                    "a literal credential in a URL: {line}"
                );
            }
        }
    }
    // Without the secrets, compose refuses to start rather than use a default.
    let empty = std::env::temp_dir().join(format!("shop-empty-{}.env", std::process::id()));
    std::fs::write(&empty, "\n").unwrap();
    let without = std::process::Command::new("docker-compose")
        .arg("--env-file")
        .arg(&empty)
        .args(["-f", "compose.yml", "config", "-q"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        !without.status.success(),
        "compose must not run without its secrets"
    );
    assert!(String::from_utf8_lossy(&without.stderr).contains("scripts/compose-env"));

    let compose = compose();
    // Only Kong's proxy is published to the world; admin surfaces to loopback at most.
    for (name, service) in compose["services"].as_mapping().unwrap() {
        for port in service["ports"].as_sequence().into_iter().flatten() {
            // Long form ({published, host_ip}) or short ("[host:]published:target").
            let (host, published) = match port.as_str() {
                Some(short) => {
                    let parts: Vec<&str> = short.split(':').collect();
                    match parts.as_slice() {
                        [host, published, _] => (host.to_string(), published.to_string()),
                        [published, _] => ("0.0.0.0".to_string(), published.to_string()),
                        _ => ("0.0.0.0".to_string(), short.to_string()),
                    }
                }
                None => (
                    port["host_ip"].as_str().unwrap_or("0.0.0.0").to_string(),
                    port["published"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| port["published"].as_u64().map(|p| p.to_string()))
                        .unwrap_or_default(),
                ),
            };
            let host = host.as_str();
            let public = host == "0.0.0.0" || host.is_empty();
            assert!(
                !public || (name.as_str() == Some("kong") && published == "8000"),
                "{name:?} publishes {published} on {host}"
            );
        }
    }
    // Only users (and keygen, which writes it) mounts the signing key.
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let mounts_private = service["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .any(|v| {
                v["source"].as_str() == Some("jwt-private")
                    || v.as_str().is_some_and(|v| v.starts_with("jwt-private:"))
            });
        let allowed = matches!(name.as_str(), Some("users") | Some("keygen"));
        assert!(
            !mounts_private || allowed,
            "{name:?} mounts the private key"
        );
    }
    let kong = &compose["services"]["kong"]["environment"];
    assert!(kong["KONG_ADMIN_LISTEN"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    // The production profile is on.
    for service in ["users", "products", "orders", "payments"] {
        assert_eq!(
            compose["services"][service]["environment"]["SHOP_ENV"].as_str(),
            Some("production"),
            "{service}"
        );
    }
    let router = &compose["services"]["router"]["environment"];
    assert_eq!(router["ROUTER_INTROSPECTION"].as_str(), Some("false"));
    assert_eq!(router["SHOP_ENV"].as_str(), Some("production"));
    assert_eq!(router["ROUTER_TRUSTED_DOCUMENTS"].as_str(), Some("true"));
    // Least privilege: each service is its own database role and broker user.
    for service in ["users", "products", "orders", "payments"] {
        let env = &compose["services"][service]["environment"];
        let prefix = service.to_uppercase();
        let amqp = env[format!("{prefix}_AMQP_URL").as_str()].as_str().unwrap();
        assert!(
            amqp.starts_with(&format!("amqp://{service}:")),
            "{service} connects to RabbitMQ as {amqp}"
        );
        let db = env[format!("{prefix}_DATABASE_URL").as_str()]
            .as_str()
            .unwrap();
        assert!(
            db.starts_with("mongodb://") || db.starts_with(&format!("postgres://{service}:")),
            "{service} connects to its database as {db}"
        );
    }
    assert_eq!(
        compose["services"]["products"]["environment"]["PRODUCTS_SEED_DEMO"].as_str(),
        Some("false")
    );
}
