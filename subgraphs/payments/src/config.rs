//! The service's configuration, read from `PAYMENTS_*` environment variables;
//! every field has a default that works on the local machine.

use platform::config::ServiceConfig;
use serde::Deserialize;

/// The service's name: in event envelopes, the inbox, queues, logs and metrics.
pub const NAME: &str = "payments";
/// The prefix of its environment variables (`PAYMENTS_PORT`, ...).
pub const ENV_PREFIX: &str = "PAYMENTS";

/// The payments service's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// What every service has (`PAYMENTS_HOST`, `PAYMENTS_PORT` (default 4004),
    /// `PAYMENTS_DATABASE_URL`, `PAYMENTS_AMQP_URL`, ...).
    #[serde(skip, default = "local")]
    pub service: ServiceConfig,
    /// `PAYMENTS_PROVIDER_TIMEOUT_MS`: how long a charge may take at the card
    /// provider before it counts as a (retryable) failure (default 2000).
    #[serde(default = "default_provider_timeout_ms")]
    pub provider_timeout_ms: u64,
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

impl Config {
    /// Reads `PAYMENTS_*` for `profile` (read once, from `SHOP_ENV`, by `main`).
    pub fn load(profile: platform::config::Profile) -> anyhow::Result<Config> {
        let (service, config) = platform::config::load(ENV_PREFIX, &local(), profile)?;
        Ok(Config { service, ..config })
    }
}

/// On this machine: port 4004, database `payments`.
fn local() -> ServiceConfig {
    ServiceConfig::local(4004, NAME)
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

impl Default for Config {
    fn default() -> Self {
        Config {
            service: local(),
            provider_timeout_ms: default_provider_timeout_ms(),
            reconcile_every_ms: default_reconcile_every_ms(),
            in_doubt_after_ms: default_in_doubt_after_ms(),
        }
    }
}
