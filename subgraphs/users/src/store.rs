//! The users database: the only module with SQL.

use chrono::{DateTime, Utc};
use platform::auth::Role;
use platform::error::unique_violation;
use platform::{Error, Result};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Address, AddressDraft, User};
use crate::error::AccountError;

/// The most addresses one account keeps.
pub const MAX_ADDRESSES: i64 = 20;

/// The migrations of the users database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(r: UserRow) -> Result<User> {
        let role = Role::parse(&r.role)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown role {}", r.role)))?;
        Ok(User {
            id: r.id,
            email: r.email,
            name: r.name,
            role,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AddressRow {
    id: Uuid,
    user_id: Uuid,
    line1: String,
    line2: Option<String>,
    city: String,
    postal_code: String,
    country: String,
}

impl From<AddressRow> for Address {
    fn from(r: AddressRow) -> Address {
        Address {
            id: r.id,
            user_id: r.user_id,
            line1: r.line1,
            line2: r.line2,
            city: r.city,
            postal_code: r.postal_code,
            country: r.country,
        }
    }
}

/// A refresh token as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredRefreshToken {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// The login it descends from.
    pub family_id: Uuid,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
    /// When it was used or revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

const USER_COLUMNS: &str = "id, email, name, role, created_at";

/// Accounts in PostgreSQL.
#[derive(Debug, Clone)]
pub struct UserStore {
    pool: PgPool,
}

impl UserStore {
    /// A store over a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        UserStore { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A user and their password hash, by email.
    pub async fn credentials(&self, email: &str) -> Result<Option<(User, String)>> {
        let row: Option<(Uuid, String, String, String, DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT id, email, name, role, created_at, password_hash FROM users WHERE lower(email) = lower($1)",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, email, name, role, created_at, hash)| {
            Ok((
                UserRow {
                    id,
                    email,
                    name,
                    role,
                    created_at,
                }
                .try_into()?,
                hash,
            ))
        })
        .transpose()
    }

    /// Users by id (one query).
    pub async fn users_by_ids(&self, ids: &[Uuid]) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// A page of users in id (creation) order after `after`.
    pub async fn users_page(&self, after: Option<Uuid>, limit: i64) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// Changes a user's name.
    pub async fn rename(&self, id: Uuid, name: &str) -> Result<User> {
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "UPDATE users SET name = $2, updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}"
        ))
        .bind(id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(AccountError::UserNotFound(id))?.try_into()
    }

    /// Creates the bootstrap administrator. An existing administrator of that
    /// email is left as it is; an existing account that is not an
    /// administrator is never promoted (anyone can sign up with any address):
    /// that is a `CONFLICT`, and the service does not start.
    pub async fn ensure_admin(&self, email: &str, name: &str, password_hash: &str) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, 'ADMIN')
             ON CONFLICT ((lower(email))) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(());
        }
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM users WHERE lower(email) = lower($1)")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
        match role.as_deref() {
            Some("ADMIN") => Ok(()),
            _ => Err(AccountError::BootstrapEmailTaken(email.to_string()).into()),
        }
    }

    /// The addresses of these users (one query), oldest first.
    pub async fn addresses_of(&self, user_ids: &[Uuid]) -> Result<Vec<Address>> {
        let rows: Vec<AddressRow> = sqlx::query_as(
            "SELECT id, user_id, line1, line2, city, postal_code, country FROM addresses
             WHERE user_id = ANY($1) ORDER BY created_at, id",
        )
        .bind(user_ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Address::from).collect())
    }

    /// Adds an address (at most 20 per user, also under concurrent requests:
    /// the user's row is locked while counting).
    pub async fn add_address(&self, user_id: Uuid, draft: &AddressDraft) -> Result<Address> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM addresses WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        if count >= MAX_ADDRESSES {
            return Err(AccountError::TooManyAddresses(MAX_ADDRESSES).into());
        }
        let row: AddressRow = sqlx::query_as(
            "INSERT INTO addresses (id, user_id, line1, line2, city, postal_code, country)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id, user_id, line1, line2, city, postal_code, country",
        )
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(&draft.line1)
        .bind(&draft.line2)
        .bind(&draft.city)
        .bind(&draft.postal_code)
        .bind(&draft.country)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// Removes one of the user's addresses; `NOT_FOUND` if they have no such address.
    pub async fn remove_address(&self, user_id: Uuid, id: Uuid) -> Result<()> {
        let done = sqlx::query("DELETE FROM addresses WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(AccountError::AddressNotFound(id).into());
        }
        Ok(())
    }

    /// A refresh token by hash, locked.
    pub async fn lock_refresh_token(
        conn: &mut PgConnection,
        hash: &[u8],
    ) -> Result<Option<StoredRefreshToken>> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, family_id, expires_at, revoked_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await?)
    }
}

/// Inserts a user; a taken email is `CONFLICT`.
pub async fn insert_user(
    conn: &mut PgConnection,
    id: Uuid,
    email: &str,
    name: &str,
    hash: &str,
) -> Result<User> {
    let row: std::result::Result<UserRow, sqlx::Error> = sqlx::query_as(&format!(
        "INSERT INTO users (id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, 'CUSTOMER')
         RETURNING {USER_COLUMNS}"
    ))
    .bind(id)
    .bind(email)
    .bind(name)
    .bind(hash)
    .fetch_one(&mut *conn)
    .await;
    match row {
        Ok(row) => row.try_into(),
        Err(e) if unique_violation(&e) == Some("users_email_key") => {
            Err(AccountError::EmailTaken.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// When the sign-in a family of refresh tokens belongs to began (`None`: a
/// new family).
pub async fn family_began(
    conn: &mut PgConnection,
    family_id: Uuid,
) -> Result<Option<DateTime<Utc>>> {
    Ok(
        sqlx::query_scalar("SELECT min(created_at) FROM refresh_tokens WHERE family_id = $1")
            .bind(family_id)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Stores a new refresh token of a family.
pub async fn insert_refresh_token(
    conn: &mut PgConnection,
    user_id: Uuid,
    family_id: Uuid,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(family_id)
        .bind(hash)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Revokes one token.
pub async fn revoke_token(conn: &mut PgConnection, id: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Revokes every token of a family.
pub async fn revoke_family(conn: &mut PgConnection, family_id: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Counts one more attempt of `scope`/`key` (a new window if the last one is
/// over) in one statement, and returns the attempts in the window with this
/// one and whether an earlier lock still holds. Counting before checking means
/// parallel attempts cannot all slip through on the same reading.
pub async fn record_attempt(
    pool: &PgPool,
    scope: crate::domain::throttle::Scope,
    policy: &crate::domain::throttle::Policy,
    key: &str,
) -> Result<(i32, bool)> {
    let (attempts, locked): (i32, bool) = sqlx::query_as(
        "INSERT INTO auth_throttle AS t (scope, key, failures, window_started_at)
         VALUES ($1, $2, 1, now())
         ON CONFLICT (scope, key) DO UPDATE SET
             failures = CASE WHEN t.window_started_at > now() - make_interval(secs => $3)
                             THEN t.failures + 1 ELSE 1 END,
             window_started_at = CASE WHEN t.window_started_at > now() - make_interval(secs => $3)
                             THEN t.window_started_at ELSE now() END
         RETURNING failures, COALESCE(locked_until > now(), false)",
    )
    .bind(scope.as_str())
    .bind(key)
    .bind(policy.window.as_secs_f64())
    .fetch_one(pool)
    .await?;
    Ok((attempts, locked))
}

/// Locks `scope`/`key` out for `lock_for` (an earlier, longer lock stands).
pub async fn lock_out(
    pool: &PgPool,
    scope: crate::domain::throttle::Scope,
    key: &str,
    lock_for: std::time::Duration,
) -> Result<()> {
    sqlx::query(
        "UPDATE auth_throttle
         SET locked_until = GREATEST(locked_until, now() + make_interval(secs => $3))
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope.as_str())
    .bind(key)
    .bind(lock_for.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

/// Takes back one attempt of `scope`/`key` (it succeeded: an address is
/// throttled on failures, not on sign-ins that worked).
pub async fn forgive_attempt(
    pool: &PgPool,
    scope: crate::domain::throttle::Scope,
    key: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE auth_throttle SET failures = GREATEST(failures - 1, 0) WHERE scope = $1 AND key = $2",
    )
    .bind(scope.as_str())
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

/// [`prune_attempts`] older than any throttle remembers, for the periodic
/// worker (safe on every replica at once), which reports its own outcome.
pub async fn prune_old_attempts(pool: PgPool) {
    let older_than = crate::domain::throttle::Scope::longest_memory();
    match prune_attempts(&pool, older_than).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(rows = n, "pruned old sign-in attempts"),
        Err(e) => tracing::warn!(error = %e, "could not prune old sign-in attempts"),
    }
}

/// Deletes the attempts that count for nothing any more: counted before
/// `older_than` and not locked now. Returns how many went.
pub async fn prune_attempts(pool: &PgPool, older_than: std::time::Duration) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM auth_throttle
         WHERE window_started_at < now() - make_interval(secs => $1)
           AND (locked_until IS NULL OR locked_until < now())",
    )
    .bind(older_than.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets the attempts of `scope`/`key` (a successful sign-in).
pub async fn clear_attempts(
    pool: &PgPool,
    scope: crate::domain::throttle::Scope,
    key: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM auth_throttle WHERE scope = $1 AND key = $2")
        .bind(scope.as_str())
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}
