//! Spawning the service on a fresh database, and small fixtures shared by the tests.

use std::sync::Arc;
use std::time::Duration;

use platform::auth::{Role, TokenSigner};
use products::config::Config;
use products::store::postgres::PgCatalogStore;
use products::store::CatalogStore;
use serde_json::{json, Value};
use testkit::{test_keys, GraphqlClient};
use uuid::Uuid;

/// A running service and the means to call it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// GraphQL client for `/graphql`.
    pub gql: GraphqlClient,
    /// Plain HTTP client for REST.
    pub http: reqwest::Client,
    /// A store on the same database, for arranging state tests cannot reach
    /// through the API (e.g. reserved stock).
    pub store: Arc<dyn CatalogStore>,
    /// An administrator's access token.
    pub admin_token: String,
    /// A customer's access token.
    pub customer_token: String,
}

/// A token for a new user with `role`, signed by the test key.
pub fn token(role: Role) -> String {
    let keys = test_keys();
    let signer = TokenSigner::from_pem(
        &keys.private_pem,
        &keys.public_pem,
        Duration::from_secs(600),
    )
    .expect("signer");
    signer.sign(Uuid::now_v7(), role).expect("sign").0
}

/// A configuration for a fresh database, port 0 and the test key.
pub fn test_config() -> Config {
    Config {
        service: testkit::service_config("products"),
        ..Config::default()
    }
}

/// Starts the service on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

/// Starts the service with `config`.
pub async fn spawn_app_with(config: Config) -> TestApp {
    let database_url = config.service.expose_database_url().to_string();
    let service = products::startup::build(config)
        .await
        .expect("service builds");
    let port = service.port();
    tokio::spawn(service.run(std::future::pending()));
    let store = PgCatalogStore::connect(&database_url, 2)
        .await
        .expect("test store");
    TestApp {
        base_url: format!("http://127.0.0.1:{port}"),
        gql: GraphqlClient::local(port),
        http: reqwest::Client::new(),
        store: Arc::new(store),
        admin_token: token(Role::Admin),
        customer_token: token(Role::Customer),
    }
}

impl TestApp {
    /// Runs a query as an administrator.
    pub async fn as_admin(&self, query: &str, variables: Value) -> Value {
        self.gql
            .query(query, variables, Some(&self.admin_token))
            .await
    }

    /// Runs a query anonymously.
    pub async fn anonymous(&self, query: &str, variables: Value) -> Value {
        self.gql.query(query, variables, None).await
    }

    /// Creates a category through GraphQL; returns its id.
    pub async fn create_category(&self, slug: &str) -> String {
        let res = self
            .as_admin(
                "mutation($input: CreateCategoryInput!) { createCategory(input: $input) { id } }",
                json!({"input": {"name": slug.to_uppercase(), "slug": slug}}),
            )
            .await;
        res["data"]["createCategory"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("category created: {res}"))
            .to_string()
    }

    /// Creates a product through GraphQL; returns its id.
    pub async fn create_product(&self, input: Value) -> String {
        let res = self
            .as_admin(CREATE_PRODUCT, json!({ "input": input }))
            .await;
        res["data"]["createProduct"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("product created: {res}"))
            .to_string()
    }

    /// `GET {base_url}{path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("GET")
    }

    /// `POST {base_url}{path}` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base_url))
            .json(body)
            .send()
            .await
            .expect("POST")
    }
}

/// The createProduct mutation returning every field.
pub const CREATE_PRODUCT: &str = "mutation($input: CreateProductInput!) {
  createProduct(input: $input) {
    id sku name description price { amount currency } category { id slug }
    images attributes { name value } availableQuantity archived createdAt
  }
}";

/// A valid product input in `category_id`.
pub fn product_input(sku: &str, name: &str, amount: i64, category_id: &str, stock: i32) -> Value {
    json!({
        "sku": sku,
        "name": name,
        "description": format!("{name}, described."),
        "price": {"amount": amount, "currency": "EUR"},
        "categoryId": category_id,
        "images": [format!("https://picsum.photos/seed/{sku}/400")],
        "attributes": [{"name": "colour", "value": "green"}],
        "stockOnHand": stock,
    })
}

/// The `edges[].node` values of a connection.
pub fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("edges in {connection}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// A string field of every node.
pub fn field(nodes: &[Value], name: &str) -> Vec<String> {
    nodes
        .iter()
        .map(|n| n[name].as_str().expect("string field").to_string())
        .collect()
}
