//! The Kubernetes manifests (`deploy/k8s`) against the services as they are:
//! both the base and the production overlay are rendered by the real kustomize
//! (`kubectl kustomize`, or `kustomize build`), every built-in kind is validated
//! by `kubernetes-validate` against Kubernetes 1.30 (strict), and the operators'
//! resources (CloudNativePG `Cluster`, `MongoDBCommunity`, `RabbitmqCluster` and
//! the RabbitMQ topology) are checked for what the services need: every
//! environment variable a Deployment sets is one its service reads, every
//! database or broker URL comes from the Secret that the operator generates (or
//! the one its User imports), every workload has probes, resources, a locked-down
//! security context, an HPA and a PDB, and the NetworkPolicies admit exactly the
//! callers the design has. scripts/test installs kubernetes-validate (and a
//! kubectl where none is on the machine).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use e2e::repo_root;

use crate::deployment::{router_reads, service_reads};
use serde::Deserialize;
use serde_yaml::Value as Yaml;

const BASE: &str = "deploy/k8s/base";
const PRODUCTION: &str = "deploy/k8s/overlays/production";
/// The Kubernetes version the built-in kinds are validated against.
const KUBERNETES_VERSION: &str = "1.30.0";
/// The API groups of the operators' resources (not known to kubernetes-validate).
const OPERATOR_GROUPS: [&str; 3] = [
    "postgresql.cnpg.io",
    "mongodbcommunity.mongodb.com",
    "rabbitmq.com",
];
const SERVICES: [(&str, &str, u16); 4] = [
    ("users", "USERS", 4001),
    ("products", "PRODUCTS", 4002),
    ("orders", "ORDERS", 4003),
    ("payments", "PAYMENTS", 4004),
];
/// Environment variables a Deployment may set only to build another one from
/// them (`$(NAME)`), never read by the service itself.
const HELPERS: [&str; 2] = ["AMQP_USERNAME", "AMQP_PASSWORD"];

/// `name` from PATH, else from the virtualenv scripts/lib.sh installs into.
fn tool(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let home = std::env::var_os("HOME")?;
        let venv = PathBuf::from(home).join(".cache/shop/venv/bin").join(name);
        venv.is_file().then_some(venv)
    })
}

fn run(program: &PathBuf, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A kustomization as kustomize renders it: the YAML text, and its documents.
fn render(dir: &str) -> (String, Vec<Yaml>) {
    let (ok, stdout, stderr) = if let Some(kustomize) = tool("kustomize") {
        run(&kustomize, &["build", dir])
    } else {
        let kubectl =
            tool("kubectl").expect("kubectl or kustomize (scripts/test installs kubectl)");
        run(&kubectl, &["kustomize", dir])
    };
    assert!(ok, "kustomize cannot build {dir}:\n{stderr}");
    let docs = serde_yaml::Deserializer::from_str(&stdout)
        .map(|doc| Yaml::deserialize(doc).unwrap())
        .filter(|doc| !doc.is_null())
        .collect();
    (stdout, docs)
}

fn rendered(dir: &'static str) -> &'static (String, Vec<Yaml>) {
    static CACHE: OnceLock<[(String, Vec<Yaml>); 2]> = OnceLock::new();
    let [base, production] = CACHE.get_or_init(|| [render(BASE), render(PRODUCTION)]);
    if dir == BASE {
        base
    } else {
        production
    }
}

fn base() -> &'static [Yaml] {
    &rendered(BASE).1
}

fn production() -> &'static [Yaml] {
    &rendered(PRODUCTION).1
}

fn both() -> [(&'static str, &'static [Yaml]); 2] {
    [("base", base()), ("production", production())]
}

/// The API group of an apiVersion ("" for the core group).
fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

fn s(v: &Yaml) -> &str {
    v.as_str().unwrap_or_default()
}

fn seq(v: &Yaml) -> &[Yaml] {
    v.as_sequence().map(Vec::as_slice).unwrap_or_default()
}

fn of_kind<'a>(docs: &'a [Yaml], kind: &'a str) -> impl Iterator<Item = &'a Yaml> + 'a {
    docs.iter().filter(move |d| s(&d["kind"]) == kind)
}

fn named<'a>(docs: &'a [Yaml], kind: &str, name: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| s(&d["kind"]) == kind && s(&d["metadata"]["name"]) == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn deployment<'a>(docs: &'a [Yaml], name: &str) -> &'a Yaml {
    named(docs, "Deployment", name)
}

fn container(deployment: &Yaml) -> &Yaml {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn labels(v: &Yaml) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (s(k).to_string(), s(v).to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// A ConfigMap by the name a Deployment refers to (kustomize appends a hash).
fn config_map<'a>(docs: &'a [Yaml], name: &str) -> &'a Yaml {
    of_kind(docs, "ConfigMap")
        .find(|c| s(&c["metadata"]["name"]) == name)
        .unwrap_or_else(|| panic!("no ConfigMap {name}"))
}

/// The environment of a Deployment's container: its `env` (name -> the entry)
/// and the keys of its `envFrom` ConfigMaps (name -> the value).
fn environment(docs: &[Yaml], deployment: &Yaml) -> BTreeMap<String, Yaml> {
    let container = container(deployment);
    let mut env = BTreeMap::new();
    for from in seq(&container["envFrom"]) {
        assert!(
            from["secretRef"].is_null(),
            "envFrom a Secret hides which variables are set: use secretKeyRef"
        );
        let map = config_map(docs, s(&from["configMapRef"]["name"]));
        for (k, v) in map["data"].as_mapping().unwrap() {
            env.insert(s(k).to_string(), v.clone());
        }
    }
    for e in seq(&container["env"]) {
        env.insert(s(&e["name"]).to_string(), e.clone());
    }
    env
}

/// The value of a variable set as a literal (env `value` or a ConfigMap key).
fn literal(env: &BTreeMap<String, Yaml>, name: &str) -> String {
    let v = env.get(name).unwrap_or_else(|| panic!("{name} is not set"));
    match v {
        Yaml::String(text) => text.clone(),
        entry => s(&entry["value"]).to_string(),
    }
}

/// The Secret and key a variable is read from.
fn secret_key(env: &BTreeMap<String, Yaml>, name: &str) -> (String, String) {
    let r =
        &env.get(name).unwrap_or_else(|| panic!("{name} is not set"))["valueFrom"]["secretKeyRef"];
    assert!(r.is_mapping(), "{name} must come from a Secret");
    (s(&r["name"]).to_string(), s(&r["key"]).to_string())
}

#[test]
fn kustomize_renders_both_and_every_built_in_kind_validates() {
    let validator =
        tool("kubernetes-validate").expect("kubernetes-validate (scripts/test installs it)");
    let dir = std::env::temp_dir().join(format!("shop-k8s-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let validate = |file: &PathBuf| {
        run(
            &validator,
            &[
                "--kubernetes-version",
                KUBERNETES_VERSION,
                "--strict",
                "--quiet",
                file.to_str().unwrap(),
            ],
        )
    };

    // The validator is strict: a Deployment with an unknown field fails.
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: x, image: x}]}\n",
    )
    .unwrap();
    assert!(
        !validate(&broken).0,
        "kubernetes-validate accepted an unknown field"
    );

    // The output as kustomize wrote it (YAML 1.2 text read by a YAML 1.1 parser:
    // kustomize quotes what would be read differently). Only the operators'
    // kinds may lack a schema.
    for (name, dir_name) in [("base", BASE), ("production", PRODUCTION)] {
        let (text, docs) = rendered(dir_name);
        let built_in = docs
            .iter()
            .filter(|d| !OPERATOR_GROUPS.contains(&group(s(&d["apiVersion"]))))
            .count();
        assert!(built_in > 30, "{name}: only {built_in} built-in resources");
        for doc in docs {
            let api = s(&doc["apiVersion"]);
            let group = group(api);
            assert!(
                OPERATOR_GROUPS.contains(&group)
                    || !group.contains('.')
                    || group.ends_with(".k8s.io"),
                "{name}: {api} {} is neither a built-in kind nor an operator's",
                s(&doc["kind"])
            );
        }
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, text).unwrap();
        let (ok, stdout, stderr) = validate(&file);
        let unexpected: Vec<&str> = stdout
            .lines()
            .chain(stderr.lines())
            .filter(|line| !line.trim().is_empty())
            .filter(|line| {
                !(line.starts_with("WARN")
                    && line.contains("Couldn't find schema for kind")
                    && OPERATOR_GROUPS
                        .iter()
                        .any(|g| line.contains(&format!("api version {g}/"))))
            })
            .collect();
        assert!(
            ok && unexpected.is_empty(),
            "{name} does not validate against Kubernetes {KUBERNETES_VERSION}:\n{}",
            unexpected.join("\n")
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn no_secret_is_committed_and_stores_are_operators_resources() {
    for (name, docs) in both() {
        assert_eq!(
            of_kind(docs, "Secret").count(),
            0,
            "{name}: Secrets are created in the cluster, not committed"
        );
        assert_eq!(
            of_kind(docs, "StatefulSet").count(),
            0,
            "{name}: stores are operators' resources"
        );
        for kind in ["Cluster", "MongoDBCommunity", "RabbitmqCluster"] {
            assert!(of_kind(docs, kind).count() > 0, "{name}: no {kind}");
        }
        for doc in docs {
            assert_eq!(
                s(&doc["metadata"]["namespace"]),
                if s(&doc["kind"]) == "Namespace" {
                    ""
                } else {
                    "shop"
                },
                "{name}: {} {} is outside the namespace",
                s(&doc["kind"]),
                s(&doc["metadata"]["name"])
            );
        }
    }
}

#[test]
fn every_environment_variable_a_deployment_sets_is_read() {
    let router_config =
        std::fs::read_to_string(repo_root().join("supergraph/router/router.config.yaml")).unwrap();
    for (name, docs) in both() {
        for (service, prefix, port) in SERVICES {
            let env = environment(docs, deployment(docs, service));
            let reads = service_reads(service);
            for (key, entry) in &env {
                if HELPERS.contains(&key.as_str()) {
                    let used = env
                        .values()
                        .any(|v| s(&v["value"]).contains(&format!("$({key})")));
                    assert!(
                        used,
                        "{name}: {service} sets {key} but builds nothing from it"
                    );
                    continue;
                }
                assert!(
                    reads.contains(key),
                    "{name}: {service} is given {key}, which it does not read"
                );
                assert!(
                    !s(&entry["value"]).contains("$(") || s(&entry["value"]).contains("$(AMQP_"),
                    "{name}: {service} {key} refers to an unknown variable"
                );
            }
            assert_eq!(
                literal(&env, &format!("{prefix}_PORT")),
                port.to_string(),
                "{name}: {service} port"
            );
            let container_port =
                container(deployment(docs, service))["ports"][0]["containerPort"].as_u64();
            assert_eq!(
                container_port,
                Some(u64::from(port)),
                "{name}: {service} containerPort"
            );
            for key in ["DATABASE_URL", "AMQP_URL", "JWT_PUBLIC_KEY_PATH"] {
                assert!(
                    env.contains_key(&format!("{prefix}_{key}")),
                    "{name}: {service} lacks {prefix}_{key}"
                );
            }
            assert_eq!(literal(&env, "LOG_FORMAT"), "json");
        }
        // The router: its own variables, and those its config reads.
        let env = environment(docs, deployment(docs, "router"));
        for key in env.keys() {
            let known = router_reads(&router_config, key);
            assert!(
                known,
                "{name}: the router is given {key}, which it does not read"
            );
        }
    }
}

/// The Service named `host` exposes `port`, and a Deployment behind it listens there.
fn assert_service(docs: &[Yaml], what: &str, host: &str, port: u16) {
    let service = named(docs, "Service", host);
    let p = seq(&service["spec"]["ports"])
        .iter()
        .find(|p| p["port"].as_u64() == Some(u64::from(port)))
        .unwrap_or_else(|| panic!("{what}: Service {host} has no port {port}"));
    let selector = labels(&service["spec"]["selector"]);
    let backend = of_kind(docs, "Deployment")
        .find(|d| {
            let pod = labels(&d["spec"]["template"]["metadata"]["labels"]);
            selector.iter().all(|(k, v)| pod.get(k) == Some(v))
        })
        .unwrap_or_else(|| panic!("{what}: Service {host} selects no Deployment"));
    let target = &p["targetPort"];
    let listens = seq(&container(backend)["ports"])
        .iter()
        .any(|c| c["name"] == *target || c["containerPort"] == *target);
    assert!(
        listens,
        "{what}: {host}'s targetPort {target:?} is not a container port"
    );
}

fn url_host_port(url: &str) -> (String, u16) {
    let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    let authority = authority.rsplit('@').next().unwrap();
    let (host, port) = authority.split_once(':').unwrap();
    (host.to_string(), port.parse().unwrap())
}

#[test]
fn every_kong_upstream_and_internal_url_is_a_service_on_its_port() {
    let kong: Yaml =
        serde_yaml::from_str(&std::fs::read_to_string(repo_root().join("kong/kong.yml")).unwrap())
            .unwrap();
    for (name, docs) in both() {
        for service in seq(&kong["services"]) {
            let (host, port) = url_host_port(s(&service["url"]));
            assert_service(docs, &format!("{name}: Kong upstream"), &host, port);
        }
        let router = environment(docs, deployment(docs, "router"));
        for (service, _, port) in SERVICES {
            let url = literal(&router, &format!("SUBGRAPH_{}_URL", service.to_uppercase()));
            assert_eq!(
                url_host_port(&url),
                (service.to_string(), port),
                "{name}: router -> {service}"
            );
            assert!(url.ends_with("/graphql"), "{url}");
            assert_service(docs, name, service, port);
        }
        let orders = environment(docs, deployment(docs, "orders"));
        let (host, port) = url_host_port(&literal(&orders, "ORDERS_PRODUCTS_URL"));
        assert_service(docs, &format!("{name}: orders -> products"), &host, port);
        // Kong reads kong/kong.yml itself.
        let kong_config = of_kind(docs, "ConfigMap")
            .find(|c| s(&c["metadata"]["name"]).starts_with("kong-config"))
            .unwrap();
        let committed = std::fs::read_to_string(repo_root().join("kong/kong.yml")).unwrap();
        assert_eq!(s(&kong_config["data"]["kong.yml"]), committed);
    }
}

#[test]
fn databases_and_broker_come_from_the_operators_secrets() {
    for (name, docs) in both() {
        for (service, prefix, _) in SERVICES {
            let env = environment(docs, deployment(docs, service));
            let (secret, key) = secret_key(&env, &format!("{prefix}_DATABASE_URL"));
            if service == "products" {
                // MongoDB: the connection string the operator writes for the user.
                let mongo = of_kind(docs, "MongoDBCommunity").next().unwrap();
                assert_eq!(
                    s(&mongo["spec"]["type"]),
                    "ReplicaSet",
                    "{name}: transactions need a replica set"
                );
                let user = seq(&mongo["spec"]["users"])
                    .iter()
                    .find(|u| s(&u["connectionStringSecretName"]) == secret)
                    .unwrap_or_else(|| {
                        panic!("{name}: {secret} is no MongoDB user's connection string")
                    });
                assert_eq!(key, "connectionString.standard");
                let database = literal(&env, "PRODUCTS_MONGODB_DATABASE");
                assert!(
                    seq(&user["roles"])
                        .iter()
                        .any(|r| s(&r["name"]) == "readWrite" && s(&r["db"]) == database),
                    "{name}: the products user cannot write {database}"
                );
                assert!(user["passwordSecretRef"]["name"].is_string());
            } else {
                // PostgreSQL: CloudNativePG's <cluster>-app Secret of a cluster
                // whose bootstrap creates the service's database and owner.
                let cluster = secret
                    .strip_suffix("-app")
                    .unwrap_or_else(|| panic!("{name}: {secret}"));
                let cluster = named(docs, "Cluster", cluster);
                assert_eq!(key, "uri");
                let initdb = &cluster["spec"]["bootstrap"]["initdb"];
                assert_eq!(
                    s(&initdb["database"]),
                    service,
                    "{name}: {service}'s database"
                );
                assert_eq!(
                    s(&initdb["owner"]),
                    service,
                    "{name}: {service}'s database owner"
                );
            }

            // RabbitMQ: amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@<cluster>:5672/<vhost>.
            let url = literal(&env, &format!("{prefix}_AMQP_URL"));
            let rest = url
                .strip_prefix("amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@")
                .unwrap_or_else(|| panic!("{url}"));
            let (authority, vhost) = rest.split_once('/').unwrap();
            let (host, port) = authority.split_once(':').unwrap();
            assert_eq!(port, "5672");
            named(docs, "RabbitmqCluster", host);
            assert!(
                of_kind(docs, "Vhost").any(|v| s(&v["spec"]["name"]) == vhost),
                "{name}: no Vhost {vhost}"
            );
            let (user_secret, user_key) = secret_key(&env, "AMQP_USERNAME");
            let (password_secret, password_key) = secret_key(&env, "AMQP_PASSWORD");
            assert_eq!(
                (user_key.as_str(), password_key.as_str()),
                ("username", "password")
            );
            assert_eq!(user_secret, password_secret);
            let user = of_kind(docs, "User")
                .find(|u| s(&u["spec"]["importCredentialsSecret"]["name"]) == user_secret)
                .unwrap_or_else(|| panic!("{name}: no RabbitMQ User imports {user_secret}"));
            assert_eq!(s(&user["spec"]["rabbitmqClusterReference"]["name"]), host);
            let user_name = s(&user["metadata"]["name"]);
            let permission = of_kind(docs, "Permission")
                .find(|p| {
                    s(&p["spec"]["userReference"]["name"]) == user_name
                        && s(&p["spec"]["vhost"]) == vhost
                })
                .unwrap_or_else(|| panic!("{name}: {user_name} has no rights on {vhost}"));
            // Least privilege, exactly as the code derives it from the topology
            // (events::permissions, which `events-dlq provision` applies elsewhere).
            let grant = events::permissions::grants(&events::Topology::new())
                .into_iter()
                .find(|g| g.service == service)
                .unwrap_or_else(|| panic!("{service} has a broker grant"));
            let rights = &permission["spec"]["permissions"];
            assert_eq!(
                (
                    s(&rights["configure"]),
                    s(&rights["write"]),
                    s(&rights["read"])
                ),
                (
                    grant.configure.as_str(),
                    grant.write.as_str(),
                    grant.read.as_str()
                ),
                "{name}: {user_name}'s permissions"
            );
            for (exchange, write) in &grant.topics {
                let topic = of_kind(docs, "TopicPermission")
                    .find(|p| {
                        s(&p["spec"]["userReference"]["name"]) == user_name
                            && s(&p["spec"]["vhost"]) == vhost
                            && s(&p["spec"]["permissions"]["exchange"]) == exchange
                    })
                    .unwrap_or_else(|| {
                        panic!("{name}: {user_name} has no topic rights on {exchange}")
                    });
                assert_eq!(
                    (
                        s(&topic["spec"]["permissions"]["write"]),
                        s(&topic["spec"]["permissions"]["read"])
                    ),
                    (write.as_str(), "^$"),
                    "{name}: {user_name}'s routing keys on {exchange}"
                );
            }
        }
    }
    // Base: one of each; production: highly available.
    for (docs, pg, mongo, rabbit) in [(base(), 1, 1, 1), (production(), 3, 3, 3)] {
        for cluster in of_kind(docs, "Cluster") {
            assert_eq!(cluster["spec"]["instances"].as_u64(), Some(pg));
        }
        assert_eq!(
            of_kind(docs, "MongoDBCommunity").next().unwrap()["spec"]["members"].as_u64(),
            Some(mongo)
        );
        assert_eq!(
            of_kind(docs, "RabbitmqCluster").next().unwrap()["spec"]["replicas"].as_u64(),
            Some(rabbit)
        );
    }
}

/// Every Secret the manifests use that no operator generates from them: the
/// ones the cluster's operator must create, which README must list.
fn external_secrets(docs: &[Yaml]) -> BTreeSet<String> {
    let mut generated: BTreeSet<String> = of_kind(docs, "Cluster")
        .map(|c| format!("{}-app", s(&c["metadata"]["name"])))
        .collect();
    for mongo in of_kind(docs, "MongoDBCommunity") {
        for user in seq(&mongo["spec"]["users"]) {
            generated.insert(s(&user["connectionStringSecretName"]).to_string());
        }
    }
    let mut used = BTreeSet::new();
    for d in of_kind(docs, "Deployment") {
        let pod = &d["spec"]["template"]["spec"];
        for e in seq(&pod["containers"][0]["env"]) {
            if let Some(n) = e["valueFrom"]["secretKeyRef"]["name"].as_str() {
                used.insert(n.to_string());
            }
        }
        for v in seq(&pod["volumes"]) {
            if let Some(n) = v["secret"]["secretName"].as_str() {
                used.insert(n.to_string());
            }
        }
    }
    for user in of_kind(docs, "User") {
        used.insert(s(&user["spec"]["importCredentialsSecret"]["name"]).to_string());
    }
    for mongo in of_kind(docs, "MongoDBCommunity") {
        for user in seq(&mongo["spec"]["users"]) {
            used.insert(s(&user["passwordSecretRef"]["name"]).to_string());
        }
    }
    used.difference(&generated).cloned().collect()
}

#[test]
fn readme_lists_every_secret_the_cluster_operator_creates() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme
        .split("## Scaling out")
        .nth(1)
        .expect("README has a section \"Scaling out\"");
    for (name, docs) in both() {
        let secrets = external_secrets(docs);
        assert!(secrets.len() >= 6, "{name}: {secrets:?}");
        for secret in secrets {
            assert!(
                section.contains(&format!("`{secret}`")),
                "README does not say to create the Secret {secret}"
            );
        }
    }
}

#[test]
fn the_jwt_private_key_is_mounted_only_into_users() {
    for (name, docs) in both() {
        for d in of_kind(docs, "Deployment") {
            let workload = s(&d["metadata"]["name"]);
            let pod = serde_yaml::to_string(&d["spec"]["template"]).unwrap();
            assert_eq!(
                pod.contains("shop-jwt-private-key"),
                workload == "users",
                "{name}: the private key must be in users, and only there ({workload})"
            );
            // Kong verifies no token (the router and the services do, by JWKS).
            let verifies = ["users", "products", "orders", "payments"].contains(&workload);
            assert_eq!(
                pod.contains("shop-jwt-public-key"),
                verifies,
                "{name}: public key in {workload}"
            );
        }
        let users = environment(docs, deployment(docs, "users"));
        let mounts = seq(&container(deployment(docs, "users"))["volumeMounts"]);
        for key in ["USERS_JWT_PRIVATE_KEY_PATH", "USERS_JWT_PUBLIC_KEY_PATH"] {
            let path = literal(&users, key);
            assert!(
                mounts
                    .iter()
                    .any(|m| path.starts_with(&format!("{}/", s(&m["mountPath"])))),
                "{name}: {key}={path} is not on a mounted volume"
            );
        }
    }
}

#[test]
fn every_workload_has_probes_resources_security_an_hpa_and_a_pdb() {
    let workloads = [
        ("users", "/health/live", "/health/ready", 10001),
        ("products", "/health/live", "/health/ready", 10001),
        ("orders", "/health/live", "/health/ready", 10001),
        ("payments", "/health/live", "/health/ready", 10001),
        ("router", "/health", "/readiness", 10001),
        ("kong", "/status", "/status/ready", 1000),
        ("storefront", "/healthz", "/healthz", 101),
    ];
    for (name, docs) in both() {
        assert_eq!(
            of_kind(docs, "Deployment").count(),
            workloads.len(),
            "{name}: Deployments"
        );
        for (workload, live, ready, uid) in workloads {
            let what = format!("{name}: {workload}");
            let d = deployment(docs, workload);
            let spec = &d["spec"];
            assert!(spec["replicas"].is_null(), "{what}: the HPA owns replicas");
            assert_eq!(
                spec["strategy"]["rollingUpdate"]["maxUnavailable"].as_u64(),
                Some(0),
                "{what}"
            );
            let c = container(d);
            assert_eq!(
                s(&c["livenessProbe"]["httpGet"]["path"]),
                live,
                "{what} liveness"
            );
            assert_eq!(
                s(&c["readinessProbe"]["httpGet"]["path"]),
                ready,
                "{what} readiness"
            );
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        !c["resources"][bound][resource].is_null(),
                        "{what}: no {bound}.{resource}"
                    );
                }
            }
            let pod_security = &spec["template"]["spec"]["securityContext"];
            let security = &c["securityContext"];
            for sc in [pod_security, security] {
                assert_eq!(
                    sc["runAsNonRoot"].as_bool(),
                    Some(true),
                    "{what}: runAsNonRoot"
                );
                assert_eq!(sc["runAsUser"].as_u64(), Some(uid), "{what}: uid");
            }
            assert_eq!(
                security["readOnlyRootFilesystem"].as_bool(),
                Some(true),
                "{what}"
            );
            assert_eq!(
                security["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{what}"
            );
            assert_eq!(
                seq(&security["capabilities"]["drop"]),
                [Yaml::from("ALL")],
                "{what}"
            );
            assert_eq!(
                spec["template"]["spec"]["automountServiceAccountToken"].as_bool(),
                Some(false)
            );

            let pod_labels = labels(&spec["template"]["metadata"]["labels"]);
            let hpa = of_kind(docs, "HorizontalPodAutoscaler")
                .find(|h| s(&h["spec"]["scaleTargetRef"]["name"]) == workload)
                .unwrap_or_else(|| panic!("{what}: no HPA"));
            assert_eq!(s(&hpa["apiVersion"]), "autoscaling/v2");
            assert_eq!(s(&hpa["spec"]["scaleTargetRef"]["kind"]), "Deployment");
            assert!(
                seq(&hpa["spec"]["metrics"])
                    .iter()
                    .any(|m| s(&m["resource"]["name"]) == "cpu"),
                "{what}: the HPA scales on CPU"
            );
            let min = hpa["spec"]["minReplicas"].as_u64().unwrap();
            assert!(
                min >= if name == "production" { 2 } else { 1 },
                "{what}: minReplicas {min}"
            );
            assert!(hpa["spec"]["maxReplicas"].as_u64().unwrap() > min);
            let pdb = of_kind(docs, "PodDisruptionBudget")
                .find(|p| {
                    let sel = labels(&p["spec"]["selector"]["matchLabels"]);
                    !sel.is_empty() && sel.iter().all(|(k, v)| pod_labels.get(k) == Some(v))
                })
                .unwrap_or_else(|| panic!("{what}: no PDB"));
            assert_eq!(pdb["spec"]["minAvailable"].as_u64(), Some(1), "{what}");
            let image = s(&c["image"]);
            if name == "production" && workload != "kong" {
                let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
                assert!(
                    !["", "dev", "latest"].contains(&tag),
                    "{what}: image {image} is not a release"
                );
            }
        }
    }
    // Production: production settings.
    let docs = production();
    for (service, _, _) in SERVICES {
        assert_eq!(
            literal(&environment(docs, deployment(docs, service)), "SHOP_ENV"),
            "production"
        );
    }
    let router = environment(docs, deployment(docs, "router"));
    assert_eq!(literal(&router, "SHOP_ENV"), "production");
    assert_eq!(literal(&router, "ROUTER_INTROSPECTION"), "false");
    assert_eq!(
        literal(
            &environment(docs, deployment(docs, "products")),
            "PRODUCTS_SEED_DEMO"
        ),
        "false"
    );
    assert_eq!(
        s(&named(docs, "Service", "kong-proxy")["spec"]["type"]),
        "LoadBalancer"
    );
}

/// Who may open connections to a set of pods, according to the policies.
#[derive(Debug, Default)]
struct Admitted {
    /// Some policy selects these pods.
    selected: bool,
    /// A rule without `from`: anyone.
    anyone: bool,
    /// `app.kubernetes.io/name` (or the operator's label value) of pods in the namespace.
    pods: BTreeSet<String>,
    /// Namespaces by name.
    namespaces: BTreeSet<String>,
}

fn admitted(docs: &[Yaml], pod: &BTreeMap<String, String>) -> Admitted {
    let mut a = Admitted::default();
    for policy in of_kind(docs, "NetworkPolicy") {
        let selector = labels(&policy["spec"]["podSelector"]["matchLabels"]);
        if selector.is_empty() || !selector.iter().all(|(k, v)| pod.get(k) == Some(v)) {
            continue;
        }
        a.selected = true;
        for rule in seq(&policy["spec"]["ingress"]) {
            if rule["from"].is_null() {
                a.anyone = true;
            }
            for peer in seq(&rule["from"]) {
                assert!(peer["ipBlock"].is_null(), "no ipBlock peers");
                let pods = labels(&peer["podSelector"]["matchLabels"]);
                let namespaces = labels(&peer["namespaceSelector"]["matchLabels"]);
                assert!(
                    pods.is_empty() || namespaces.is_empty(),
                    "a peer is either pods of this namespace or a namespace"
                );
                a.pods.extend(pods.into_values());
                a.namespaces.extend(namespaces.into_values());
            }
        }
    }
    a
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn network_policies_deny_by_default_and_admit_only_the_designed_callers() {
    for (name, docs) in both() {
        let deny = of_kind(docs, "NetworkPolicy")
            .find(|p| {
                p["spec"]["podSelector"]
                    .as_mapping()
                    .is_some_and(|m| m.is_empty())
                    && seq(&p["spec"]["policyTypes"]).contains(&Yaml::from("Ingress"))
                    && seq(&p["spec"]["ingress"]).is_empty()
            })
            .unwrap_or_else(|| panic!("{name}: no default-deny ingress policy"));
        assert_eq!(s(&deny["metadata"]["name"]), "default-deny-ingress");

        let pods_of = |workload: &str| {
            labels(&deployment(docs, workload)["spec"]["template"]["metadata"]["labels"])
        };
        let monitoring = set(&["monitoring"]);
        for (workload, callers) in [
            ("users", set(&["router", "kong"])),
            ("products", set(&["router", "kong", "orders"])),
            ("orders", set(&["router", "kong"])),
            ("payments", set(&["router", "kong", "orders"])),
        ] {
            let a = admitted(docs, &pods_of(workload));
            assert!(a.selected && !a.anyone, "{name}: {workload} {a:?}");
            assert_eq!(a.pods, callers, "{name}: who may call {workload}");
            assert_eq!(a.namespaces, monitoring, "{name}: {workload} metrics");
        }
        let router = admitted(docs, &pods_of("router"));
        assert!(
            router.selected && !router.anyone && router.namespaces.is_empty(),
            "{name}: {router:?}"
        );
        assert_eq!(
            router.pods,
            set(&["kong"]),
            "{name}: only Kong calls the router"
        );
        let kong = admitted(docs, &pods_of("kong"));
        assert!(kong.anyone, "{name}: Kong is the public entry");

        // The stores, by the labels their operators put on their pods.
        for cluster in of_kind(docs, "Cluster") {
            let cluster_name = s(&cluster["metadata"]["name"]);
            let owner = s(&cluster["spec"]["bootstrap"]["initdb"]["owner"]);
            let pod = BTreeMap::from([("cnpg.io/cluster".to_string(), cluster_name.to_string())]);
            let a = admitted(docs, &pod);
            assert!(a.selected && !a.anyone, "{name}: {cluster_name} {a:?}");
            assert_eq!(
                a.pods,
                set(&[owner, cluster_name]),
                "{name}: who may reach {cluster_name}"
            );
            assert_eq!(
                a.namespaces,
                set(&["cnpg-system", "monitoring"]),
                "{name}: {cluster_name}"
            );
        }
        for mongo in of_kind(docs, "MongoDBCommunity") {
            let label = format!("{}-svc", s(&mongo["metadata"]["name"]));
            let a = admitted(docs, &BTreeMap::from([("app".to_string(), label.clone())]));
            assert!(a.selected && !a.anyone, "{name}: {label} {a:?}");
            assert_eq!(
                a.pods,
                set(&["products", &label]),
                "{name}: who may reach MongoDB"
            );
            assert_eq!(a.namespaces, set(&["mongodb"]), "{name}: MongoDB");
        }
        for rabbit in of_kind(docs, "RabbitmqCluster") {
            let rabbit_name = s(&rabbit["metadata"]["name"]);
            let pod = BTreeMap::from([(
                "app.kubernetes.io/name".to_string(),
                rabbit_name.to_string(),
            )]);
            let a = admitted(docs, &pod);
            assert!(a.selected && !a.anyone, "{name}: {rabbit_name} {a:?}");
            assert_eq!(
                a.pods,
                set(&[
                    "users",
                    "products",
                    "orders",
                    "payments",
                    "broker-topology",
                    rabbit_name
                ]),
                "{name}: who may reach RabbitMQ"
            );
            assert_eq!(
                a.namespaces,
                set(&["rabbitmq-system", "monitoring"]),
                "{name}: RabbitMQ"
            );
        }
        // Every policy selects something that exists.
        let known: Vec<BTreeMap<String, String>> = of_kind(docs, "Deployment")
            .map(|d| labels(&d["spec"]["template"]["metadata"]["labels"]))
            .chain(of_kind(docs, "Cluster").map(|c| {
                BTreeMap::from([(
                    "cnpg.io/cluster".to_string(),
                    s(&c["metadata"]["name"]).to_string(),
                )])
            }))
            .chain(of_kind(docs, "MongoDBCommunity").map(|m| {
                BTreeMap::from([(
                    "app".to_string(),
                    format!("{}-svc", s(&m["metadata"]["name"])),
                )])
            }))
            .chain(of_kind(docs, "RabbitmqCluster").map(|r| {
                BTreeMap::from([(
                    "app.kubernetes.io/name".to_string(),
                    s(&r["metadata"]["name"]).to_string(),
                )])
            }))
            .collect();
        for policy in of_kind(docs, "NetworkPolicy") {
            let selector = labels(&policy["spec"]["podSelector"]["matchLabels"]);
            assert!(
                known
                    .iter()
                    .any(|pod| selector.iter().all(|(k, v)| pod.get(k) == Some(v))),
                "{name}: NetworkPolicy {} selects nothing",
                s(&policy["metadata"]["name"])
            );
        }
    }
}
