//! Configuration from environment variables with a per-service prefix
//! (`USERS_PORT`, `ORDERS_DATABASE_URL`, ...), layered over defaults that work on
//! the local machine. Each service declares a `serde` struct with `#[serde(default)]`
//! values; this module only reads the environment into it.

use serde::de::DeserializeOwned;

/// Loads `T` from the environment variables that start with `{prefix}_`.
///
/// `USERS_DATABASE_URL` fills the field `database_url` of the users config.
pub fn load<T: DeserializeOwned>(prefix: &str) -> anyhow::Result<T> {
    let settings = config::Config::builder()
        .add_source(
            config::Environment::with_prefix(prefix)
                .prefix_separator("_")
                .try_parsing(true),
        )
        .build()?;
    settings
        .try_deserialize()
        .map_err(|e| anyhow::anyhow!("invalid {prefix}_* configuration: {e}"))
}

/// The default JWT public key location written by `scripts/dev-keys`.
pub fn default_jwt_public_key_path() -> String {
    ".dev/keys/jwt-public.pem".into()
}

/// The default local RabbitMQ.
pub fn default_amqp_url() -> String {
    "amqp://guest:guest@127.0.0.1:5672/%2f".into()
}

/// Listens on every interface by default so containers can reach the service.
pub fn default_host() -> String {
    "0.0.0.0".into()
}
