//! The service's configuration, read from `USERS_*` environment variables;
//! every field has a default that works on the local machine.

use serde::Deserialize;

/// The users service's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `USERS_HOST`: interface to listen on (default `0.0.0.0`).
    #[serde(default = "platform::config::default_host")]
    pub host: String,
    /// `USERS_PORT`: port (default 4001; 0 picks a free one).
    #[serde(default = "default_port")]
    pub port: u16,
    /// `USERS_DATABASE_URL`: the service's own database.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// `USERS_DB_MAX_CONNECTIONS`: pool size (default 10).
    #[serde(default = "default_db_max_connections")]
    pub db_max_connections: u32,
    /// `USERS_JWT_PRIVATE_KEY_PATH`: the PKCS#8 PEM key that signs access tokens.
    #[serde(default = "default_private_key_path")]
    pub jwt_private_key_path: String,
    /// `USERS_JWT_PUBLIC_KEY_PATH`: its public half (served as the JWKS).
    #[serde(default = "platform::config::default_jwt_public_key_path")]
    pub jwt_public_key_path: String,
    /// `USERS_JWT_PRIVATE_KEY_PEM`: the private key itself; wins over the path.
    #[serde(default)]
    pub jwt_private_key_pem: Option<String>,
    /// `USERS_JWT_PUBLIC_KEY_PEM`: the public key itself; wins over the path.
    #[serde(default)]
    pub jwt_public_key_pem: Option<String>,
    /// `USERS_JWT_PREVIOUS_PUBLIC_KEYS_PEM`: public keys that signed tokens
    /// before the current one (PEM blocks, one after the other); published in
    /// the JWKS after a rotation so that their tokens stay valid until they expire.
    #[serde(default)]
    pub jwt_previous_public_keys_pem: Option<String>,
    /// `USERS_ACCESS_TOKEN_TTL_SECS`: access token lifetime (default 900).
    #[serde(default = "default_access_ttl")]
    pub access_token_ttl_secs: u64,
    /// `USERS_REFRESH_TOKEN_TTL_SECS`: refresh token lifetime (default 30 days).
    #[serde(default = "default_refresh_ttl")]
    pub refresh_token_ttl_secs: u64,
    /// `USERS_REFRESH_FAMILY_MAX_SECS`: how long a sign-in lasts at most, however
    /// often its refresh token rotates (default 90 days).
    #[serde(default = "default_refresh_family_max_secs")]
    pub refresh_family_max_secs: u64,
    /// `USERS_THROTTLE_STEP_MS`: how much longer each sign-in or sign-up past a
    /// throttle's first bound waits (default 200).
    #[serde(default = "default_throttle_step_ms")]
    pub throttle_step_ms: u64,
    /// `USERS_SIGNUPS_PER_ADDRESS`: sign-ups one client address may make in an
    /// hour before it is refused (default 20).
    #[serde(default = "default_signups_per_address")]
    pub signups_per_address: i32,
    /// `USERS_BOOTSTRAP_ADMIN_EMAIL`: an administrator created (or promoted) at start-up.
    #[serde(default)]
    pub bootstrap_admin_email: Option<String>,
    /// `USERS_BOOTSTRAP_ADMIN_PASSWORD`: that administrator's password.
    #[serde(default)]
    pub bootstrap_admin_password: Option<String>,
    /// `USERS_AMQP_URL`: the RabbitMQ broker.
    #[serde(default = "platform::config::default_amqp_url")]
    pub amqp_url: String,
    /// `USERS_EVENTS_PREFIX`: prefix of exchange and queue names (tests).
    #[serde(default)]
    pub events_prefix: String,
    /// `USERS_EVENT_WORKERS`: run the outbox relay in this process (default true).
    #[serde(default = "default_true")]
    pub event_workers: bool,
}

fn default_port() -> u16 {
    4001
}
fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/users".into()
}
fn default_db_max_connections() -> u32 {
    10
}
fn default_private_key_path() -> String {
    ".dev/keys/jwt-private.pem".into()
}
fn default_access_ttl() -> u64 {
    900
}
fn default_refresh_ttl() -> u64 {
    30 * 24 * 3600
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
            jwt_private_key_path: default_private_key_path(),
            jwt_public_key_path: platform::config::default_jwt_public_key_path(),
            jwt_private_key_pem: None,
            jwt_public_key_pem: None,
            jwt_previous_public_keys_pem: None,
            access_token_ttl_secs: default_access_ttl(),
            refresh_token_ttl_secs: default_refresh_ttl(),
            throttle_step_ms: default_throttle_step_ms(),
            refresh_family_max_secs: default_refresh_family_max_secs(),
            signups_per_address: default_signups_per_address(),
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
            amqp_url: platform::config::default_amqp_url(),
            events_prefix: String::new(),
            event_workers: true,
        }
    }
}

fn default_throttle_step_ms() -> u64 {
    200
}

fn default_signups_per_address() -> i32 {
    20
}

fn default_refresh_family_max_secs() -> u64 {
    90 * 24 * 3600
}
