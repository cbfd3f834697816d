//! PostgreSQL pools: the database is created when missing (so the run command and
//! tests need no manual step) and migrated before the pool is handed out.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// Creates the database named in `url` if it does not exist yet.
///
/// A service that owns its database (least privilege: a role that may not
/// create databases, see `deploy/postgres/provision.sh`) only connects to it;
/// the database is created only when it is missing, which the run command's
/// and the tests' superuser may do. Safe to race: several replicas starting at
/// once all succeed.
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let options = PgConnectOptions::from_str(url)?;
    match options.connect().await {
        Ok(conn) => return Ok(conn.close().await?),
        // 3D000 invalid_catalog_name: the database does not exist yet.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {}
        Err(e) => return Err(e.into()),
    }
    let name = options
        .get_database()
        .ok_or_else(|| anyhow::anyhow!("the database URL names no database"))?
        .to_string();
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        anyhow::bail!("database name {name:?} must be letters, digits, '_' or '-'");
    }
    let mut admin = options.clone().database("postgres").connect().await?;
    // The name is checked above; identifiers cannot be bound parameters.
    let created = sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
        .execute(&mut admin)
        .await;
    match created {
        Ok(_) => tracing::info!(database = %name, "created database"),
        // 42P04 duplicate_database / 23505: another replica won the race.
        Err(sqlx::Error::Database(e))
            if matches!(e.code().as_deref(), Some("42P04") | Some("23505")) => {}
        Err(e) => return Err(e.into()),
    }
    admin.close().await?;
    Ok(())
}

/// Connects a pool to `url`, creating and migrating the database first.
pub async fn connect(
    url: &str,
    migrator: &Migrator,
    max_connections: u32,
) -> anyhow::Result<PgPool> {
    connect_with(url, &[migrator], max_connections).await
}

/// Like [`connect`], running several migration sets (a service's own and the
/// `events` crate's outbox/inbox tables) as one ordered set.
pub async fn connect_with(
    url: &str,
    migrators: &[&Migrator],
    max_connections: u32,
) -> anyhow::Result<PgPool> {
    let mut migrations: Vec<sqlx::migrate::Migration> = migrators
        .iter()
        .flat_map(|m| m.migrations.iter().cloned())
        .collect();
    migrations.sort_by_key(|m| m.version);
    let migrator = Migrator {
        migrations: std::borrow::Cow::Owned(migrations),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    };
    ensure_database(url).await?;
    let options = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?;
    migrator.run(&pool).await?;
    Ok(pool)
}
