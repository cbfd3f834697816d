//! Spawning the service on a fresh database with the test keys.

use std::time::Duration;

use serde_json::{json, Value};
use testkit::{test_keys, GraphqlClient};
use users::app::Accounts;
use users::config::Config;
use users::store::{UserStore, MIGRATOR};

/// The admin the service bootstraps.
pub const ADMIN_EMAIL: &str = "admin@shop.test";
/// Their password.
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// A running service.
pub struct TestApp {
    /// GraphQL client.
    pub gql: GraphqlClient,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The use cases on the same database.
    pub accounts: Accounts,
    /// The service's database.
    pub database_url: String,
}

/// A configuration for a fresh database.
pub fn test_config() -> Config {
    let keys = test_keys();
    Config {
        service: testkit::service_config("users"),
        jwt_private_key_pem: Some(keys.private_pem.clone().into()),
        bootstrap_admin_email: Some(ADMIN_EMAIL.into()),
        bootstrap_admin_password: Some(ADMIN_PASSWORD.into()),
        // Tests sign many users up from one address; `throttle.rs` sets its own.
        signups_per_address: 10_000,
        throttle_step_ms: 1,
        ..Config::default()
    }
}

/// Starts the service on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

/// Starts the service with `config`.
pub async fn spawn_app_with(config: Config) -> TestApp {
    let url = config.service.expose_database_url().to_string();
    let keys = test_keys();
    let service = users::startup::build(config).await.expect("service builds");
    let port = service.port();
    tokio::spawn(service.run(std::future::pending()));
    let pool = platform::db::connect_with(&url, &[&MIGRATOR, &events::MIGRATOR], 5)
        .await
        .expect("pool");
    let signer = platform::auth::TokenSigner::from_pem(
        &keys.private_pem,
        &keys.public_pem,
        Duration::from_secs(900),
    )
    .unwrap();
    TestApp {
        gql: GraphqlClient::local(port),
        base_url: format!("http://127.0.0.1:{port}"),
        accounts: Accounts::new(
            UserStore::new(pool),
            std::sync::Arc::new(signer),
            Duration::from_secs(3600),
        )
        .with_signups_per_address(10_000)
        .with_throttle_step(Duration::from_millis(1)),
        database_url: url,
    }
}

/// The register mutation.
pub const REGISTER: &str = "mutation($email: String!, $password: String!, $name: String!) {
  register(input: {email: $email, password: $password, name: $name}) {
    accessToken refreshToken expiresAt user { id email name role }
  }
}";

/// The login mutation.
pub const LOGIN: &str = "mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken user { id role } }
}";

impl TestApp {
    /// Registers a user; returns (id, access token, refresh token).
    pub async fn register(&self, email: &str) -> (String, String, String) {
        let res = self
            .gql
            .query(
                REGISTER,
                json!({"email": email, "password": "correct horse 1", "name": "Ada"}),
                None,
            )
            .await;
        let p = &res["data"]["register"];
        let get = |v: &Value| {
            v.as_str()
                .unwrap_or_else(|| panic!("registered: {res}"))
                .to_string()
        };
        (
            get(&p["user"]["id"]),
            get(&p["accessToken"]),
            get(&p["refreshToken"]),
        )
    }

    /// Signs in as the bootstrap admin; returns the access token.
    pub async fn admin_token(&self) -> String {
        let res = self
            .gql
            .query(
                LOGIN,
                json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
                None,
            )
            .await;
        res["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("admin login: {res}"))
            .to_string()
    }
}
