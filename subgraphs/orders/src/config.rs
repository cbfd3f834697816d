//! The service's configuration, read from `ORDERS_*` environment variables;
//! every field has a default that works on the local machine.

use platform::config::ServiceConfig;
use serde::Deserialize;

/// The service's name: in event envelopes, the inbox, queues, logs and metrics.
pub const NAME: &str = "orders";
/// The prefix of its environment variables (`ORDERS_PORT`, ...).
pub const ENV_PREFIX: &str = "ORDERS";

/// The orders service's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// What every service has (`ORDERS_HOST`, `ORDERS_PORT` (default 4003),
    /// `ORDERS_DATABASE_URL`, `ORDERS_AMQP_URL`, ...).
    #[serde(skip, default = "local")]
    pub service: ServiceConfig,
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
    /// `ORDERS_MAX_OPEN_ORDERS`: how many unpaid orders (PENDING or
    /// AWAITING_PAYMENT) a customer may have open at once; one more is
    /// `CONFLICT` (default 5). Each holds stock until paid or expired.
    #[serde(default = "default_max_open_orders")]
    pub max_open_orders: u32,
}

impl Config {
    /// Reads `ORDERS_*` for `profile` (read once, from `SHOP_ENV`, by `main`).
    pub fn load(profile: platform::config::Profile) -> anyhow::Result<Config> {
        let (service, config) = platform::config::load(ENV_PREFIX, &local(), profile)?;
        Ok(Config { service, ..config })
    }
}

/// On this machine: port 4003, database `orders`.
fn local() -> ServiceConfig {
    ServiceConfig::local(4003, NAME)
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
    crate::app::DEFAULT_MAX_OPEN_ORDERS
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service: local(),
            products_url: default_products_url(),
            payments_url: default_payments_url(),
            quote_timeout_ms: default_quote_timeout_ms(),
            quote_retries: default_quote_retries(),
            max_open_orders: default_max_open_orders(),
        }
    }
}
