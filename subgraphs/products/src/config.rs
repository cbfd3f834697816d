//! The service's configuration, read from `PRODUCTS_*` environment variables by
//! `platform::config::load`; every field has a default that works locally.

use serde::Deserialize;

/// The products service's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `PRODUCTS_HOST`: interface to listen on (default `0.0.0.0`).
    #[serde(default = "platform::config::default_host")]
    pub host: String,
    /// `PRODUCTS_PORT`: port to listen on (default 4002; 0 picks a free one).
    #[serde(default = "default_port")]
    pub port: u16,
    /// `PRODUCTS_DATABASE_URL`: a `postgres://` URL (default the local
    /// `products` database), or a `mongodb://` / `mongodb+srv://` URL to use
    /// MongoDB instead.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// `PRODUCTS_MONGODB_DATABASE`: the MongoDB database name (default `products`).
    #[serde(default = "default_mongodb_database")]
    pub mongodb_database: String,
    /// `PRODUCTS_DB_MAX_CONNECTIONS`: PostgreSQL pool size (default 10).
    #[serde(default = "default_db_max_connections")]
    pub db_max_connections: u32,
    /// `PRODUCTS_JWT_PUBLIC_KEY_PATH`: PEM public key that verifies access tokens
    /// (default `.dev/keys/jwt-public.pem`).
    #[serde(default = "platform::config::default_jwt_public_key_path")]
    pub jwt_public_key_path: String,
    /// `PRODUCTS_JWT_PUBLIC_KEY_PEM`: the PEM itself; when set it wins over the path.
    #[serde(default)]
    pub jwt_public_key_pem: Option<String>,
    /// `PRODUCTS_JWKS_URL`: the users service's key set
    /// (`http://users:4001/.well-known/jwks.json`); when set, token keys follow
    /// it (a rotated key is fetched when first seen), the PEM above seeds it.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// `PRODUCTS_LOADER_DELAY_MS`: how long GraphQL DataLoaders collect keys
    /// before one batched query (default 2).
    #[serde(default = "default_loader_delay_ms")]
    pub loader_delay_ms: u64,
    /// `PRODUCTS_SEED_DEMO`: seed the demo catalogue at start-up when it is empty
    /// (default `false`).
    #[serde(default)]
    pub seed_demo: bool,
    /// `PRODUCTS_AMQP_URL`: the RabbitMQ broker (default the local one).
    #[serde(default = "platform::config::default_amqp_url")]
    pub amqp_url: String,
    /// `PRODUCTS_EVENTS_PREFIX`: a prefix for exchange and queue names (tests
    /// isolate themselves with one; empty in production).
    #[serde(default)]
    pub events_prefix: String,
    /// `PRODUCTS_EVENT_WORKERS`: run the outbox relay, the event consumer and the
    /// reservation expiry in this process (default true).
    #[serde(default = "default_true")]
    pub event_workers: bool,
    /// `PRODUCTS_RESERVATION_TTL_SECS`: how long stock is held for an unpaid
    /// order (default 900).
    #[serde(default = "default_reservation_ttl_secs")]
    pub reservation_ttl_secs: u64,
    /// `PRODUCTS_RESERVATION_SWEEP_MS`: how often lapsed reservations are
    /// released (default 1000).
    #[serde(default = "default_reservation_sweep_ms")]
    pub reservation_sweep_ms: u64,
}

fn default_true() -> bool {
    true
}

fn default_reservation_ttl_secs() -> u64 {
    900
}

fn default_reservation_sweep_ms() -> u64 {
    1000
}

fn default_port() -> u16 {
    4002
}

fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/products".into()
}

fn default_mongodb_database() -> String {
    "products".into()
}

fn default_db_max_connections() -> u32 {
    10
}

fn default_loader_delay_ms() -> u64 {
    crate::graphql::DEFAULT_LOADER_DELAY.as_millis() as u64
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: platform::config::default_host(),
            port: default_port(),
            database_url: default_database_url(),
            mongodb_database: default_mongodb_database(),
            db_max_connections: default_db_max_connections(),
            jwt_public_key_path: platform::config::default_jwt_public_key_path(),
            jwt_public_key_pem: None,
            jwks_url: None,
            loader_delay_ms: default_loader_delay_ms(),
            seed_demo: false,
            amqp_url: platform::config::default_amqp_url(),
            events_prefix: String::new(),
            event_workers: true,
            reservation_ttl_secs: default_reservation_ttl_secs(),
            reservation_sweep_ms: default_reservation_sweep_ms(),
        }
    }
}

impl Config {
    /// Whether the database URL selects MongoDB.
    pub fn uses_mongodb(&self) -> bool {
        self.database_url.starts_with("mongodb://")
            || self.database_url.starts_with("mongodb+srv://")
    }
}
