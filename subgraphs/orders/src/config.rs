//! The service's configuration, read from `ORDERS_*` environment variables;
//! every field has a default that works on the local machine.

use serde::Deserialize;

/// The orders service's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `ORDERS_HOST`: interface to listen on (default `0.0.0.0`).
    #[serde(default = "platform::config::default_host")]
    pub host: String,
    /// `ORDERS_PORT`: port (default 4003; 0 picks a free one).
    #[serde(default = "default_port")]
    pub port: u16,
    /// `ORDERS_DATABASE_URL`: the service's own database.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// `ORDERS_DB_MAX_CONNECTIONS`: pool size (default 10).
    #[serde(default = "default_db_max_connections")]
    pub db_max_connections: u32,
    /// `ORDERS_JWT_PUBLIC_KEY_PATH`: PEM public key verifying access tokens.
    #[serde(default = "platform::config::default_jwt_public_key_path")]
    pub jwt_public_key_path: String,
    /// `ORDERS_JWT_PUBLIC_KEY_PEM`: the PEM itself; wins over the path.
    #[serde(default)]
    pub jwt_public_key_pem: Option<String>,
    /// `ORDERS_JWKS_URL`: the users service's key set
    /// (`http://users:4001/.well-known/jwks.json`); when set, token keys follow
    /// it (a rotated key is fetched when first seen), the PEM above seeds it.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// `ORDERS_PRODUCTS_URL`: the products service, for price quotes.
    #[serde(default = "default_products_url")]
    pub products_url: String,
    /// `ORDERS_PAYMENTS_URL`: the payments service, for the saga inspector.
    #[serde(default = "default_payments_url")]
    pub payments_url: String,
    /// `ORDERS_QUOTE_TIMEOUT_MS`: timeout of one quote request (default 2000).
    #[serde(default = "default_quote_timeout_ms")]
    pub quote_timeout_ms: u64,
    /// `ORDERS_QUOTE_RETRIES`: retries of a quote that failed transiently (default 3).
    #[serde(default = "default_quote_retries")]
    pub quote_retries: usize,
    /// `ORDERS_AMQP_URL`: the RabbitMQ broker.
    #[serde(default = "platform::config::default_amqp_url")]
    pub amqp_url: String,
    /// `ORDERS_EVENTS_PREFIX`: prefix of exchange and queue names (tests).
    #[serde(default)]
    pub events_prefix: String,
    /// `ORDERS_EVENT_WORKERS`: run the outbox relay and the event consumer in
    /// this process (default true).
    #[serde(default = "default_true")]
    pub event_workers: bool,
    /// `ORDERS_MAX_OPEN_ORDERS`: how many unpaid orders (PENDING or
    /// AWAITING_PAYMENT) a customer may have open at once; one more is
    /// `CONFLICT` (default 5). Each holds stock until paid or expired.
    #[serde(default = "default_max_open_orders")]
    pub max_open_orders: u32,
}

fn default_port() -> u16 {
    4003
}
fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/orders".into()
}
fn default_db_max_connections() -> u32 {
    10
}
fn default_products_url() -> String {
    "http://127.0.0.1:4002".into()
}
fn default_payments_url() -> String {
    "http://127.0.0.1:4004".into()
}
fn default_quote_timeout_ms() -> u64 {
    2000
}
fn default_quote_retries() -> usize {
    3
}
fn default_max_open_orders() -> u32 {
    crate::orders::DEFAULT_MAX_OPEN_ORDERS
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
            products_url: default_products_url(),
            payments_url: default_payments_url(),
            quote_timeout_ms: default_quote_timeout_ms(),
            quote_retries: default_quote_retries(),
            amqp_url: platform::config::default_amqp_url(),
            events_prefix: String::new(),
            event_workers: true,
            max_open_orders: default_max_open_orders(),
        }
    }
}
