//! The service's configuration, read from `USERS_*` environment variables;
//! every field has a default that works on the local machine.

use platform::config::ServiceConfig;
use std::time::Duration;

use anyhow::Context as _;
use platform::auth::TokenSigner;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The service's name: in event envelopes, the inbox, queues, logs and metrics.
pub const NAME: &str = "users";
/// The prefix of its environment variables (`USERS_PORT`, ...).
pub const ENV_PREFIX: &str = "USERS";

/// The users service's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// What every service has (`USERS_HOST`, `USERS_PORT` (default 4001),
    /// `USERS_DATABASE_URL`, `USERS_AMQP_URL`, ...).
    #[serde(skip, default = "local")]
    pub service: ServiceConfig,
    /// `USERS_JWT_PRIVATE_KEY_PATH`: the PKCS#8 PEM key that signs access tokens.
    #[serde(default = "default_private_key_path")]
    pub jwt_private_key_path: String,
    /// `USERS_JWT_PRIVATE_KEY_PEM`: the private key itself; wins over the path.
    #[serde(default)]
    pub jwt_private_key_pem: Option<SecretString>,
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
    pub bootstrap_admin_password: Option<SecretString>,
}

impl Config {
    /// Reads `USERS_*` for `profile` (read once, from `SHOP_ENV`, by `main`).
    pub fn load(profile: platform::config::Profile) -> anyhow::Result<Config> {
        let (service, config) = platform::config::load(ENV_PREFIX, &local(), profile)?;
        Ok(Config { service, ..config })
    }

    /// The token signer: the configured key pair, with the previous public
    /// keys still published (and trusted) after a rotation.
    pub fn signer(&self) -> anyhow::Result<TokenSigner> {
        let private = match &self.jwt_private_key_pem {
            Some(pem) => pem.expose_secret().to_string(),
            None => read_key(&self.jwt_private_key_path, "private")?,
        };
        let public = match &self.service.jwt_public_key_pem {
            Some(pem) => pem.clone(),
            None => read_key(&self.service.jwt_public_key_path, "public")?,
        };
        let previous = split_pems(self.jwt_previous_public_keys_pem.as_deref().unwrap_or(""));
        let ttl = Duration::from_secs(self.access_token_ttl_secs);
        TokenSigner::from_pem(&private, &public, ttl)?.with_previous_keys(&previous)
    }
}

fn read_key(path: &str, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!("cannot read the JWT {what} key at {path} (scripts/run generates development keys)")
    })
}

/// The PEM blocks of `text`, one after the other.
fn split_pems(text: &str) -> Vec<String> {
    text.split_inclusive("-----END PUBLIC KEY-----")
        .map(str::trim)
        .filter(|block| block.contains("-----BEGIN PUBLIC KEY-----"))
        .map(|block| format!("{block}\n"))
        .collect()
}

/// On this machine: port 4001, database `users`.
fn local() -> ServiceConfig {
    ServiceConfig::local(4001, NAME)
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
impl Default for Config {
    fn default() -> Self {
        Config {
            service: local(),
            jwt_private_key_path: default_private_key_path(),
            jwt_private_key_pem: None,
            jwt_previous_public_keys_pem: None,
            access_token_ttl_secs: default_access_ttl(),
            refresh_token_ttl_secs: default_refresh_ttl(),
            throttle_step_ms: default_throttle_step_ms(),
            refresh_family_max_secs: default_refresh_family_max_secs(),
            signups_per_address: default_signups_per_address(),
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
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
