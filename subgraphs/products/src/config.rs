//! The service's configuration, read from `PRODUCTS_*` environment variables by
//! `platform::config::load`; every field has a default that works locally.

use platform::config::ServiceConfig;
use serde::Deserialize;

/// The service's name: in event envelopes, the inbox, queues, logs and metrics.
pub const NAME: &str = "products";
/// The prefix of its environment variables (`PRODUCTS_PORT`, ...).
pub const ENV_PREFIX: &str = "PRODUCTS";

/// The products service's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// What every service has (`PRODUCTS_HOST`, `PRODUCTS_PORT` (default 4002),
    /// `PRODUCTS_DATABASE_URL`, `PRODUCTS_AMQP_URL`, ...).
    #[serde(skip, default = "local")]
    pub service: ServiceConfig,
    /// `PRODUCTS_MONGODB_DATABASE`: the MongoDB database name (default `products`).
    #[serde(default = "default_mongodb_database")]
    pub mongodb_database: String,
    /// `PRODUCTS_LOADER_DELAY_MS`: how long GraphQL DataLoaders collect keys
    /// before one batched query (default 2).
    #[serde(default = "default_loader_delay_ms")]
    pub loader_delay_ms: u64,
    /// `PRODUCTS_SEED_DEMO`: seed the demo catalogue at start-up when it is empty
    /// (default `false`).
    #[serde(default)]
    pub seed_demo: bool,
    /// `PRODUCTS_RESERVATION_TTL_SECS`: how long stock is held for an unpaid
    /// order (default 900).
    #[serde(default = "default_reservation_ttl_secs")]
    pub reservation_ttl_secs: u64,
    /// `PRODUCTS_RESERVATION_SWEEP_MS`: how often lapsed reservations are
    /// released (default 1000).
    #[serde(default = "default_reservation_sweep_ms")]
    pub reservation_sweep_ms: u64,
}

impl Config {
    /// Reads `PRODUCTS_*` for `profile` (read once, from `SHOP_ENV`, by `main`).
    pub fn load(profile: platform::config::Profile) -> anyhow::Result<Config> {
        let (service, config) = platform::config::load(ENV_PREFIX, &local(), profile)?;
        Ok(Config { service, ..config })
    }
}

/// On this machine: port 4002, database `products`.
fn local() -> ServiceConfig {
    ServiceConfig::local(4002, NAME)
}

fn default_reservation_ttl_secs() -> u64 {
    900
}

fn default_reservation_sweep_ms() -> u64 {
    1000
}

fn default_mongodb_database() -> String {
    "products".into()
}

fn default_loader_delay_ms() -> u64 {
    crate::graphql::LOADER_DELAY.as_millis() as u64
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service: local(),
            mongodb_database: default_mongodb_database(),
            loader_delay_ms: default_loader_delay_ms(),
            seed_demo: false,
            reservation_ttl_secs: default_reservation_ttl_secs(),
            reservation_sweep_ms: default_reservation_sweep_ms(),
        }
    }
}

impl Config {
    /// Whether the database URL selects MongoDB.
    pub fn uses_mongodb(&self) -> bool {
        let url = self.service.expose_database_url();
        url.starts_with("mongodb://") || url.starts_with("mongodb+srv://")
    }
}
