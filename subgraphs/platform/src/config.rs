//! Configuration from environment variables with a per-service prefix
//! (`USERS_PORT`, `ORDERS_DATABASE_URL`, ...), layered over defaults that work on
//! the local machine. Each service's `Config` embeds the settings every
//! service has ([`ServiceConfig`]: the variables keep their names) beside its
//! own `#[serde(default)]` values; this module reads the environment into
//! both. The profile (`SHOP_ENV`) is read once by `main` ([`Profile::from_env`])
//! and passed to telemetry and to [`load`].

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sqlx::migrate::Migrator;

use crate::auth::JwtVerifier;
use crate::service::ServiceBuilder;

/// Loads the [`ServiceConfig`] and the service's own settings `T` from the
/// environment variables that start with `{prefix}_`, over `local`'s port and
/// database (the service's defaults on this machine), with `profile`. (`T` holds the `ServiceConfig` as a field skipped by serde, so
/// that its own fields stay listed by introspection.)
///
/// `USERS_DATABASE_URL` fills the field `database_url` of the users config.
pub fn load<T: DeserializeOwned>(
    prefix: &str,
    local: &ServiceConfig,
    profile: Profile,
) -> anyhow::Result<(ServiceConfig, T)> {
    let settings = config::Config::builder()
        .set_default("port", local.port)?
        .set_default("database_url", local.database_url.expose_secret())?
        .add_source(
            config::Environment::with_prefix(prefix)
                .prefix_separator("_")
                .try_parsing(true),
        )
        .set_override("profile", profile.as_str())?
        .build()?;
    let invalid = |e: config::ConfigError| {
        anyhow::Error::new(e).context(format!("invalid {prefix}_* configuration"))
    };
    let service = settings.clone().try_deserialize().map_err(invalid)?;
    Ok((service, settings.try_deserialize().map_err(invalid)?))
}

/// Development (the default: GraphiQL, introspection, readable logs) or
/// production (`SHOP_ENV=production`). Read once at start-up and passed in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Local development, tests, staging: anything but production.
    #[default]
    Development,
    /// Deployed to production.
    Production,
}

impl Profile {
    /// The profile `SHOP_ENV` names: `production` (any case) is production,
    /// anything else (unset, `development`, `staging`, ...) development, as
    /// the router reads it too.
    pub fn from_env() -> Profile {
        match std::env::var("SHOP_ENV") {
            Ok(v) if v.trim().eq_ignore_ascii_case("production") => Profile::Production,
            _ => Profile::Development,
        }
    }

    /// `development` or `production`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Production => "production",
        }
    }

    /// Whether this is production.
    pub fn is_production(self) -> bool {
        self == Profile::Production
    }
}

/// The settings every service has, embedded in each service's `Config`; read
/// as `{PREFIX}_HOST`, `{PREFIX}_DATABASE_URL`, ... (see [`load`]).
/// Secrets (URLs that may carry passwords) never print.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceConfig {
    /// `*_HOST`: interface to listen on (default `0.0.0.0`).
    #[serde(default = "default_host")]
    pub host: String,
    /// `*_PORT`: port (each service has its own default; 0 picks a free one).
    pub port: u16,
    /// `*_DATABASE_URL`: the service's own database.
    pub database_url: SecretString,
    /// `*_DB_MAX_CONNECTIONS`: pool size (default 10).
    #[serde(default = "default_db_max_connections")]
    pub db_max_connections: u32,
    /// `*_JWT_PUBLIC_KEY_PATH`: PEM public key verifying access tokens.
    #[serde(default = "default_jwt_public_key_path")]
    pub jwt_public_key_path: String,
    /// `*_JWT_PUBLIC_KEY_PEM`: the PEM itself; wins over the path.
    #[serde(default)]
    pub jwt_public_key_pem: Option<String>,
    /// `*_JWKS_URL`: the users service's key set
    /// (`http://users:4001/.well-known/jwks.json`); when set, token keys follow
    /// it (a rotated key is fetched when first seen), the PEM above seeds it.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// `*_AMQP_URL`: the RabbitMQ broker.
    #[serde(default = "default_amqp_secret")]
    pub amqp_url: SecretString,
    /// `*_EVENTS_PREFIX`: prefix of exchange and queue names (tests).
    #[serde(default)]
    pub events_prefix: String,
    /// `*_EVENT_WORKERS`: run the outbox relay and the event consumer in this
    /// process (default true).
    #[serde(default = "default_true")]
    pub event_workers: bool,
    /// `SHOP_ENV`: development (default) or production.
    #[serde(default)]
    pub profile: Profile,
    /// `*_GRAPHQL_MAX_DEPTH`: deepest operation the subgraph accepts (default:
    /// the service's own limit, fitted to its schema).
    #[serde(default)]
    pub graphql_max_depth: Option<usize>,
    /// `*_GRAPHQL_MAX_COMPLEXITY`: most complex operation the subgraph accepts
    /// (default: the service's own limit).
    #[serde(default)]
    pub graphql_max_complexity: Option<usize>,
}

impl ServiceConfig {
    /// A service on this machine: listening on `port`, its database `database`
    /// on the local PostgreSQL, the development keys and the local broker.
    pub fn local(port: u16, database: &str) -> Self {
        ServiceConfig {
            host: default_host(),
            port,
            database_url: format!("postgres://postgres@127.0.0.1:5432/{database}").into(),
            db_max_connections: default_db_max_connections(),
            jwt_public_key_path: default_jwt_public_key_path(),
            jwt_public_key_pem: None,
            jwks_url: None,
            amqp_url: default_amqp_secret(),
            events_prefix: String::new(),
            event_workers: true,
            profile: Profile::Development,
            graphql_max_depth: None,
            graphql_max_complexity: None,
        }
    }

    /// What the subgraph's schema takes from the configuration: the profile
    /// and any override of its limits.
    pub fn schema_settings(&self) -> crate::graphql::SchemaSettings {
        crate::graphql::SchemaSettings {
            profile: self.profile,
            max_depth: self.graphql_max_depth,
            max_complexity: self.graphql_max_complexity,
        }
    }

    /// The access-token verifier: the configured public key, following the
    /// JWKS when one is configured.
    pub fn verifier(&self) -> anyhow::Result<Arc<JwtVerifier>> {
        Ok(Arc::new(
            JwtVerifier::from_pem_or_file(
                self.jwt_public_key_pem.as_deref(),
                &self.jwt_public_key_path,
            )?
            .with_jwks_url(self.jwks_url.as_deref()),
        ))
    }

    /// The service's PostgreSQL pool, the database created and migrated with
    /// `migrators` first.
    pub async fn postgres(&self, migrators: &[&Migrator]) -> anyhow::Result<sqlx::PgPool> {
        crate::db::connect_with(
            self.expose_database_url(),
            migrators,
            self.db_max_connections,
        )
        .await
    }

    /// The database URL (it may carry a password: never log it).
    pub fn expose_database_url(&self) -> &str {
        self.database_url.expose_secret()
    }

    /// The broker URL (it may carry a password: never log it).
    pub fn amqp_url(&self) -> &str {
        self.amqp_url.expose_secret()
    }

    /// A builder for the service, listening where configured.
    pub fn builder(&self) -> ServiceBuilder {
        ServiceBuilder::new(&self.host, self.port, self.profile)
    }
}

fn default_db_max_connections() -> u32 {
    10
}

fn default_true() -> bool {
    true
}

fn default_amqp_secret() -> SecretString {
    default_amqp_url().into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Own {
        #[serde(default)]
        retries: u32,
    }

    #[test]
    fn the_common_and_the_own_settings_are_read_and_secrets_never_print() {
        std::env::set_var("CFGTEST_PORT", "4100");
        std::env::set_var("CFGTEST_DATABASE_URL", "postgres://svc:hunter2@db/x");
        std::env::set_var("CFGTEST_AMQP_URL", "amqp://svc:hunter3@mq");
        std::env::set_var("CFGTEST_EVENT_WORKERS", "false");
        std::env::set_var("CFGTEST_RETRIES", "7");
        std::env::set_var("CFGTEST_GRAPHQL_MAX_COMPLEXITY", "900");
        std::env::set_var("SHOP_ENV", "Production");
        let loaded = load::<Own>(
            "CFGTEST",
            &ServiceConfig::local(4999, "x"),
            Profile::from_env(),
        );
        let (service, own) = loaded.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(service.port, 4100);
        assert_eq!(service.expose_database_url(), "postgres://svc:hunter2@db/x");
        assert_eq!(service.amqp_url(), "amqp://svc:hunter3@mq");
        assert!(!service.event_workers);
        assert_eq!(service.profile, Profile::Production);
        assert_eq!(own.retries, 7);
        let schema = service.schema_settings();
        assert_eq!(
            (schema.profile, schema.max_depth, schema.max_complexity),
            (Profile::Production, None, Some(900)),
            "the schema's limits are the service's own unless set"
        );
        let printed = format!("{service:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("hunter3"),
            "{printed}"
        );

        std::env::remove_var("CFGTEST_PORT");
        // Kubernetes' base deployment says `staging`: not production, and no error.
        std::env::set_var("SHOP_ENV", "staging");
        std::env::set_var("CFGTEST_PROFILE", "production");
        let (service, _) = load::<Own>(
            "CFGTEST",
            &ServiceConfig::local(4999, "x"),
            Profile::from_env(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(service.port, 4999, "the service's own default");
        assert_eq!(
            service.profile,
            Profile::Development,
            "SHOP_ENV alone sets it"
        );
        std::env::remove_var("SHOP_ENV");
        std::env::set_var("CFGTEST_PORT", "not a port");
        let refused = load::<Own>(
            "CFGTEST",
            &ServiceConfig::local(4999, "x"),
            Profile::from_env(),
        );
        assert!(refused.is_err_and(|e| e.to_string().contains("CFGTEST_")));
    }
}
