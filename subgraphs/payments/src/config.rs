//! The service's configuration, read from `PAYMENTS_*` environment variables;
//! every field has a default that works on the local machine.

use serde::Deserialize;

/// The payments service's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `PAYMENTS_HOST`: interface to listen on (default `0.0.0.0`).
    #[serde(default = "platform::config::default_host")]
    pub host: String,
    /// `PAYMENTS_PORT`: port (default 4004; 0 picks a free one).
    #[serde(default = "default_port")]
    pub port: u16,
    /// `PAYMENTS_DATABASE_URL`: the service's own database.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// `PAYMENTS_DB_MAX_CONNECTIONS`: pool size (default 10).
    #[serde(default = "default_db_max_connections")]
    pub db_max_connections: u32,
    /// `PAYMENTS_JWT_PUBLIC_KEY_PATH`: PEM public key verifying access tokens.
    #[serde(default = "platform::config::default_jwt_public_key_path")]
    pub jwt_public_key_path: String,
    /// `PAYMENTS_JWT_PUBLIC_KEY_PEM`: the PEM itself; wins over the path.
    #[serde(default)]
    pub jwt_public_key_pem: Option<String>,
    /// `PAYMENTS_JWKS_URL`: the users service's key set
    /// (`http://users:4001/.well-known/jwks.json`); when set, token keys follow
    /// it (a rotated key is fetched when first seen), the PEM above seeds it.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// `PAYMENTS_PROVIDER_TIMEOUT_MS`: how long a charge may take at the card
    /// provider before it counts as a (retryable) failure (default 2000).
    #[serde(default = "default_provider_timeout_ms")]
    pub provider_timeout_ms: u64,
    /// `PAYMENTS_AMQP_URL`: the RabbitMQ broker.
    #[serde(default = "platform::config::default_amqp_url")]
    pub amqp_url: String,
    /// `PAYMENTS_EVENTS_PREFIX`: prefix of exchange and queue names (tests).
    #[serde(default)]
    pub events_prefix: String,
    /// `PAYMENTS_EVENT_WORKERS`: run the outbox relay and the event consumer in
    /// this process (default true).
    #[serde(default = "default_true")]
    pub event_workers: bool,
    /// `PAYMENTS_RECONCILE_EVERY_MS`: how often the sweeper looks for charges
    /// in doubt (pending payments sent to the provider without an answer) and
    /// settles them on the provider's record (default 30000; 0 disables it).
    /// It runs with the event workers.
    #[serde(default = "default_reconcile_every_ms")]
    pub reconcile_every_ms: u64,
    /// `PAYMENTS_IN_DOUBT_AFTER_MS`: how long a pending, attempted payment must
    /// have been untouched before the sweeper asks the provider (default 60000).
    #[serde(default = "default_in_doubt_after_ms")]
    pub in_doubt_after_ms: u64,
}

fn default_port() -> u16 {
    4004
}
fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/payments".into()
}
fn default_db_max_connections() -> u32 {
    10
}
fn default_provider_timeout_ms() -> u64 {
    2000
}
fn default_reconcile_every_ms() -> u64 {
    30_000
}
fn default_in_doubt_after_ms() -> u64 {
    60_000
}
fn default_true() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: platform::config::default_host(),
            port: default_port(),
            database_url: default_database_url(),
            db_max_connections: default_db_max_connections(),
            jwt_public_key_path: platform::config::default_jwt_public_key_path(),
            jwt_public_key_pem: None,
            jwks_url: None,
            provider_timeout_ms: default_provider_timeout_ms(),
            amqp_url: platform::config::default_amqp_url(),
            events_prefix: String::new(),
            event_workers: true,
            reconcile_every_ms: default_reconcile_every_ms(),
            in_doubt_after_ms: default_in_doubt_after_ms(),
        }
    }
}
