//! Hostile text reaches no store: a NUL (or another control character) in any
//! text field of any mutation, REST body, query parameter or path answers a
//! client error, never a server error. The cases are generated from what the
//! system itself publishes (the supergraph's introspection and each service's
//! OpenAPI document), so a new mutation or route is covered without a change
//! here.

use std::collections::HashSet;

use e2e::Shop;
use serde_json::{json, Map, Value};
use uuid::Uuid;

const POISON: &str = "a\u{0}b";

const INTROSPECTION: &str = "{ __schema { mutationType { fields { name
  args { name type { ...T } }
  type { ...T } } }
  types { name kind enumValues { name } inputFields { name type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";

/// A type reference as GraphQL writes it, e.g. `[String!]!`.
fn type_string(t: &Value) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_string(&t["ofType"])),
        Some("LIST") => format!("[{}]", type_string(&t["ofType"])),
        _ => t["name"].as_str().unwrap_or_default().to_string(),
    }
}

/// The named type under wrappers.
fn named(t: &Value) -> (&str, &str) {
    match t["kind"].as_str() {
        Some("NON_NULL") | Some("LIST") => named(&t["ofType"]),
        kind => (
            kind.unwrap_or_default(),
            t["name"].as_str().unwrap_or_default(),
        ),
    }
}

struct Types<'a>(&'a [Value]);

impl Types<'_> {
    fn get(&self, name: &str) -> &Value {
        self.0
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("type {name}"))
    }

    /// A valid-looking value of `t`, with `POISON` at `path` (a list of field
    /// names inside input objects; empty = this value).
    fn value(&self, t: &Value, path: &[String]) -> Value {
        match t["kind"].as_str() {
            Some("NON_NULL") => self.value(&t["ofType"], path),
            Some("LIST") => json!([self.value(&t["ofType"], path)]),
            _ => {
                let (kind, name) = named(t);
                match (kind, name) {
                    ("SCALAR", "String" | "ID") if path.is_empty() => json!(POISON),
                    ("SCALAR", "String" | "ID") => json!(Uuid::now_v7().to_string()),
                    ("SCALAR", "Int") => json!(1),
                    ("SCALAR", "Float") => json!(1.0),
                    ("SCALAR", "Boolean") => json!(true),
                    ("SCALAR", _) if path.is_empty() => json!(POISON),
                    ("SCALAR", _) => json!("2026-01-01T00:00:00Z"),
                    ("ENUM", _) => self.get(name)["enumValues"][0]["name"].clone(),
                    ("INPUT_OBJECT", _) => {
                        let mut object = Map::new();
                        for field in self.get(name)["inputFields"]
                            .as_array()
                            .into_iter()
                            .flatten()
                        {
                            let fname = field["name"].as_str().unwrap_or_default();
                            let on_path = path.first().is_some_and(|p| p == fname);
                            if field["type"]["kind"] == "NON_NULL" || on_path {
                                let rest = if on_path { &path[1..] } else { &[] };
                                let sub = if on_path {
                                    rest.to_vec()
                                } else {
                                    vec!["-".into()]
                                };
                                let v = self
                                    .value(&field["type"], if on_path { &sub } else { &sub[..] });
                                let _ = rest;
                                object.insert(fname.to_string(), v);
                            }
                        }
                        Value::Object(object)
                    }
                    _ => Value::Null,
                }
            }
        }
    }

    /// Every path to a text leaf inside `t` (input objects walked once per type).
    fn text_paths(&self, t: &Value, seen: &mut HashSet<String>) -> Vec<Vec<String>> {
        let (kind, name) = named(t);
        match kind {
            "SCALAR" if !matches!(name, "Int" | "Float" | "Boolean") => vec![Vec::new()],
            "INPUT_OBJECT" if seen.insert(name.to_string()) => {
                let mut paths = Vec::new();
                for field in self.get(name)["inputFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let fname = field["name"].as_str().unwrap_or_default().to_string();
                    for mut sub in self.text_paths(&field["type"], seen) {
                        sub.insert(0, fname.clone());
                        paths.push(sub);
                    }
                }
                seen.remove(name);
                paths
            }
            _ => Vec::new(),
        }
    }
}

#[tokio::test]
async fn control_characters_in_any_mutation_argument_are_a_client_error() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let schema = shop.query(INTROSPECTION, json!({}), None).await;
    let types = schema["data"]["__schema"]["types"]
        .as_array()
        .expect("types")
        .clone();
    let types = Types(&types);
    let mutations = schema["data"]["__schema"]["mutationType"]["fields"]
        .as_array()
        .expect("mutations")
        .clone();
    let mut cases = 0;
    for field in &mutations {
        let name = field["name"].as_str().unwrap_or_default();
        let args = field["args"].as_array().cloned().unwrap_or_default();
        let selection = match named(&field["type"]).0 {
            "OBJECT" | "INTERFACE" | "UNION" => " { __typename }",
            _ => "",
        };
        for (i, arg) in args.iter().enumerate() {
            for path in types.text_paths(&arg["type"], &mut HashSet::new()) {
                // The poisoned argument, and every required one.
                let mut decls = Vec::new();
                let mut uses = Vec::new();
                let mut vars = Map::new();
                for (j, other) in args.iter().enumerate() {
                    if j != i && other["type"]["kind"] != "NON_NULL" {
                        continue;
                    }
                    let an = other["name"].as_str().unwrap_or_default();
                    decls.push(format!("${an}: {}", type_string(&other["type"])));
                    uses.push(format!("{an}: ${an}"));
                    let value = if j == i {
                        types.value(&other["type"], &path)
                    } else {
                        types.value(&other["type"], &["-".to_string()])
                    };
                    vars.insert(an.to_string(), value);
                }
                let query = format!(
                    "mutation({}) {{ {name}({}){selection} }}",
                    decls.join(", "),
                    uses.join(", ")
                );
                let res = shop
                    .query(&query, Value::Object(vars.clone()), Some(&admin))
                    .await;
                let code = testkit::first_error_code(&res);
                assert_eq!(
                    code.as_deref(),
                    Some("BAD_USER_INPUT"),
                    "{name}({}) at {path:?}: {res}\nvariables: {vars:?}",
                    arg["name"]
                );
                cases += 1;
            }
        }
    }
    assert!(cases > 40, "only {cases} cases: the schema walk is broken");
    shop.stop().await;
}

/// A valid-looking JSON value of an OpenAPI schema, with `POISON` at `path`.
fn json_value(doc: &Value, schema: &Value, path: &[String]) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        return json_value(doc, &doc["components"]["schemas"][name], path);
    }
    for combo in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = schema[combo]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["type"] != "null"))
        {
            return json_value(doc, first, path);
        }
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .and_then(Value::as_str)
            .unwrap_or("string"),
        Value::String(k) => k.as_str(),
        _ if schema["properties"].is_object() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut object = Map::new();
            for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                let on_path = path.first().is_some_and(|p| p == name);
                if required.contains(&name.as_str()) || on_path {
                    let sub: Vec<String> = if on_path {
                        path[1..].to_vec()
                    } else {
                        vec!["-".into()]
                    };
                    object.insert(name.clone(), json_value(doc, prop, &sub));
                }
            }
            Value::Object(object)
        }
        "array" => json!([json_value(doc, &schema["items"], path)]),
        "integer" => json!(1),
        "number" => json!(1.0),
        "boolean" => json!(true),
        _ if path.is_empty() => json!(POISON),
        _ => match schema["enum"].as_array().and_then(|e| e.first()) {
            Some(v) => v.clone(),
            None if schema["format"] == "uuid" => json!(Uuid::now_v7()),
            None if schema["format"] == "date-time" => json!("2026-01-01T00:00:00Z"),
            None => json!("GB"),
        },
    }
}

/// Every path to a string leaf of an OpenAPI schema.
fn json_text_paths(doc: &Value, schema: &Value, depth: usize) -> Vec<Vec<String>> {
    if depth > 6 {
        return Vec::new();
    }
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        return json_text_paths(doc, &doc["components"]["schemas"][name], depth + 1);
    }
    for combo in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = schema[combo]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["type"] != "null"))
        {
            return json_text_paths(doc, first, depth + 1);
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        let mut paths = Vec::new();
        for (name, prop) in props {
            for mut sub in json_text_paths(doc, prop, depth + 1) {
                sub.insert(0, name.clone());
                paths.push(sub);
            }
        }
        return paths;
    }
    if schema["type"] == "array" {
        return json_text_paths(doc, &schema["items"], depth + 1);
    }
    let is_text = match &schema["type"] {
        Value::String(k) => k == "string",
        Value::Array(kinds) => kinds.iter().any(|k| k == "string"),
        _ => false,
    };
    if is_text {
        vec![Vec::new()]
    } else {
        Vec::new()
    }
}

#[tokio::test]
async fn control_characters_in_any_rest_body_query_or_path_are_a_client_error() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let http = reqwest::Client::new();
    let mut cases = 0;
    for service in [&shop.users, &shop.products, &shop.orders, &shop.payments] {
        let base = format!("http://127.0.0.1:{}", service.port);
        let doc: Value = http
            .get(format!("{base}/api/v1/openapi.json"))
            .send()
            .await
            .expect("openapi")
            .json()
            .await
            .expect("json");
        for (template, item) in doc["paths"].as_object().into_iter().flatten() {
            let path = template
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        Uuid::now_v7().to_string()
                    } else {
                        s.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            for (method, op) in item.as_object().into_iter().flatten() {
                let method: reqwest::Method = match method.to_uppercase().parse() {
                    Ok(m) => m,
                    Err(_) => continue,
                };
                let send = |url: String, body: Option<Value>| {
                    let mut req = http
                        .request(method.clone(), url)
                        .bearer_auth(&admin)
                        .header("idempotency-key", Uuid::now_v7().to_string());
                    if let Some(body) = body {
                        req = req.json(&body);
                    }
                    req.send()
                };
                let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                if !schema.is_null() {
                    for leaf in json_text_paths(&doc, schema, 0) {
                        let body = json_value(&doc, schema, &leaf);
                        let res = send(format!("{base}{path}"), Some(body.clone()))
                            .await
                            .expect("send");
                        let status = res.status();
                        assert!(
                            status.is_client_error(),
                            "{method} {template} body {leaf:?}: {status} {}\n{body}",
                            res.text().await.unwrap_or_default()
                        );
                        cases += 1;
                    }
                }
                for param in op["parameters"].as_array().into_iter().flatten() {
                    let name = param["name"].as_str().unwrap_or_default();
                    let url = match param["in"].as_str() {
                        Some("query") => format!("{base}{path}?{name}=a%00b"),
                        Some("path") if template.contains(&format!("{{{name}}}")) => {
                            format!(
                                "{base}{}",
                                template.replace(&format!("{{{name}}}"), "a%00b")
                            )
                        }
                        _ => continue,
                    };
                    let url = url.split('{').next().map(str::to_string).unwrap_or(url);
                    let res = send(url.clone(), None).await.expect("send");
                    assert!(
                        res.status().is_client_error(),
                        "{method} {url}: {}",
                        res.status()
                    );
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 20, "only {cases} cases: the OpenAPI walk is broken");
    shop.stop().await;
}

#[tokio::test]
async fn an_oversized_correlation_id_neither_stops_the_saga_nor_reaches_an_event() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "CORR-1", "Long-id lamp", 1000, 10)
        .await;
    let buyer = shop.customer("long-id@example.com").await;
    let http = reqwest::Client::new();
    let oversized = "a".repeat(300);

    // REST, straight to orders, as Kong passes a client's header on.
    let res = http
        .post(format!(
            "http://127.0.0.1:{}/api/v1/orders",
            shop.orders.port
        ))
        .bearer_auth(&buyer)
        .header("idempotency-key", "long-id-1")
        .header("x-correlation-id", &oversized)
        .json(&json!({
            "payment_token": "tok_visa",
            "items": [{"product_id": lamp, "quantity": 1}],
            "shipping_address": {"name": "Ada", "line1": "1 Loop St", "city": "London",
                                 "postal_code": "N1", "country": "GB"},
        }))
        .send()
        .await
        .expect("send");
    assert!(res.status().is_success(), "{}", res.status());
    let echoed = res
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        !echoed.is_empty() && echoed.len() <= 128 && echoed != oversized,
        "a fresh id replaces the caller's: {echoed}"
    );
    let order: Value = res.json().await.expect("json");
    let first = order["id"].as_str().expect("id").to_string();
    shop.wait_for_status(&buyer, &first, "PAID").await;

    // GraphQL through the router, with a header that is not even a token.
    let res: Value = http
        .post(format!("{}/graphql", shop.router_url))
        .bearer_auth(&buyer)
        .header("x-correlation-id", format!("{oversized}\"; drop"))
        .header("traceparent", "00-zz-not-a-trace-01")
        .json(&json!({
            "query": "mutation($p: ID!) { placeOrder(input: {
                 shippingAddress: {name: \"Ada\", line1: \"1 Loop St\", city: \"London\", postalCode: \"N1\", country: \"GB\"},
                 paymentToken: \"tok_visa\", items: [{productId: $p, quantity: 1}]
               }, idempotencyKey: \"long-id-2\") { id } }",
            "variables": {"p": lamp},
        }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let second = res["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_string();
    shop.wait_for_status(&buyer, &second, "PAID").await;

    // And the service goes on settling orders afterwards.
    let third = shop
        .place_order(&buyer, &lamp, 1, "tok_visa", "long-id-3")
        .await;
    let third = third["data"]["placeOrder"]["id"]
        .as_str()
        .expect("third")
        .to_string();
    shop.wait_for_status(&buyer, &third, "PAID").await;
    shop.stop().await;
}

#[tokio::test]
async fn every_subgraph_refuses_oversized_and_multipart_graphql_bodies() {
    let shop = Shop::start().await;
    let http = reqwest::Client::new();
    let padding = "x".repeat(300 * 1024);
    for service in [&shop.users, &shop.products, &shop.orders, &shop.payments] {
        let url = format!("http://127.0.0.1:{}/graphql", service.port);
        let res = http
            .post(&url)
            .json(&json!({"query": "{ __typename }", "variables": {"pad": padding}}))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 413, "{url} took a 300 KB body");
        let res = http
            .post(&url)
            .header("content-type", "multipart/form-data; boundary=X")
            .body(
                "--X\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{}\r\n--X--\r\n",
            )
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 415, "{url} took multipart");
        let res = http
            .post(&url)
            .json(&json!({"query": "{ __typename }"}))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 200, "{url} still answers");
    }
    shop.stop().await;
}
