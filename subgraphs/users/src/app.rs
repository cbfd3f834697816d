//! The use cases of accounts, shared by GraphQL and REST: signing up, signing
//! in, rotating refresh tokens, profiles, addresses and the admin listing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use events::catalogue::UserRegistered;
use events::UnitOfWork;
use platform::auth::{Jwks, TokenSigner, Viewer};
use platform::pagination::PageRequest;
use platform::{Error, Result};
use uuid::Uuid;

use crate::config::NAME;
use crate::credentials::{
    dummy_hash, hash_password, new_refresh_token, refresh_token_hash, verify_password,
};
use crate::domain::throttle::{Policy, Scope};
use crate::domain::{Address, AddressDraft, Email, Name, Password, User};
use crate::error::AccountError;
use crate::store::{self, UserStore};

/// What signing in yields.
#[derive(Debug, Clone)]
pub struct AuthTokens {
    /// A short-lived RS256 access token.
    pub access_token: String,
    /// A single-use refresh token.
    pub refresh_token: String,
    /// When the access token expires (UTC).
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub user: User,
}

/// Accounts and tokens.
#[derive(Clone)]
pub struct Accounts {
    store: UserStore,
    signer: Arc<TokenSigner>,
    refresh_ttl: Duration,
    throttle_step: Duration,
    signups_per_address: i32,
    refresh_family_lifetime: Duration,
}

/// How long a sign-in lasts at most, however often its refresh token rotates.
pub const DEFAULT_REFRESH_FAMILY_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// How much longer each attempt past a throttle's first bound waits.
pub const DEFAULT_THROTTLE_STEP: Duration = Duration::from_millis(200);

/// The caller's address for the throttles (`unknown` when there is none).
fn client_address() -> String {
    platform::context::RequestContext::current()
        .client_address
        .unwrap_or_else(|| "unknown".into())
}

fn invalid_credentials() -> Error {
    AccountError::InvalidCredentials.into()
}

impl Accounts {
    /// Use cases over `store`, signing with `signer`.
    pub fn new(store: UserStore, signer: Arc<TokenSigner>, refresh_ttl: Duration) -> Self {
        Accounts {
            store,
            signer,
            refresh_ttl,
            throttle_step: DEFAULT_THROTTLE_STEP,
            signups_per_address: Scope::SignupAddress.policy().lock_after,
            refresh_family_lifetime: DEFAULT_REFRESH_FAMILY_LIFETIME,
        }
    }

    /// The same use cases, ending every sign-in `lifetime` after it began,
    /// however often its refresh token was rotated.
    pub fn with_refresh_family_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_family_lifetime = lifetime;
        self
    }

    /// The same use cases, locking an address out after `limit` sign-ups in
    /// an hour.
    pub fn with_signups_per_address(mut self, limit: i32) -> Self {
        self.signups_per_address = limit.max(1);
        self
    }

    fn policy(&self, scope: Scope) -> Policy {
        let mut policy = scope.policy();
        if scope == Scope::SignupAddress {
            policy.lock_after = self.signups_per_address;
            policy.slow_after = policy.slow_after.max(self.signups_per_address / 4);
        }
        policy
    }

    /// The same use cases, slowing throttled callers by `step` per attempt.
    pub fn with_throttle_step(mut self, step: Duration) -> Self {
        self.throttle_step = step;
        self
    }

    /// Counts this attempt against the throttles of `keys` (first, so that
    /// parallel attempts are counted too), then waits as long as they say;
    /// `true` if any locks the caller out.
    async fn throttle(&self, keys: &[(Scope, &str)]) -> Result<bool> {
        let mut delay = Duration::ZERO;
        let mut locked = false;
        for (scope, key) in keys {
            let policy = self.policy(*scope);
            let (attempts, was_locked) =
                store::record_attempt(self.store.pool(), *scope, &policy, key).await?;
            // The attempts before this one decide whether it is one too many.
            let over = policy.locks(attempts - 1);
            if over {
                store::lock_out(self.store.pool(), *scope, key, policy.lock_for).await?;
            }
            locked |= was_locked || over;
            // The attempt being made does not slow itself down.
            delay = delay.max(policy.delay(attempts - 1, self.throttle_step));
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(locked)
    }

    /// The store (for loaders).
    pub fn store(&self) -> &UserStore {
        &self.store
    }

    /// The public keys that verify access tokens.
    pub fn jwks(&self) -> Jwks {
        self.signer.jwks()
    }

    /// Signs up a customer and signs them in; announces `user.registered`.
    pub async fn register(&self, email: &str, password: &str, name: &str) -> Result<AuthTokens> {
        let email = Email::parse(email).map_err(|e| e.at("email"))?;
        let password = Password::parse(password).map_err(|e| e.at("password"))?;
        let name = Name::parse(name).map_err(|e| e.at("name"))?;
        // Every sign-up from one address counts, so "already registered"
        // cannot be used to enumerate accounts at scale.
        let address = client_address();
        let keys = [(Scope::SignupAddress, address.as_str())];
        if self.throttle(&keys).await? {
            return Err(AccountError::TooManySignUps.into());
        }
        let hash = hash_password(password.expose().to_string()).await?;
        let mut tx = UnitOfWork::begin(self.store.pool(), NAME).await?;
        let user = store::insert_user(
            &mut tx,
            Uuid::now_v7(),
            email.as_str(),
            name.as_str(),
            &hash,
        )
        .await?;
        let event = UserRegistered {
            user_id: user.id,
            email: user.email.clone(),
        };
        tx.publish(event).await?;
        let tokens = self.issue(&mut tx, user, Uuid::now_v7()).await?;
        tx.commit().await?;
        tracing::info!(user = %tokens.user.id, "registered");
        Ok(tokens)
    }

    /// Signs in with email and password. An unknown email and a wrong password
    /// get the same answer, in the same time.
    pub async fn login(&self, email: &str, password: &str) -> Result<AuthTokens> {
        if password.is_empty() || password.len() > 1024 || email.len() > 320 {
            return Err(invalid_credentials());
        }
        let account = email.trim().to_lowercase();
        let address = client_address();
        let keys = [
            (Scope::LoginAccount, account.as_str()),
            (Scope::LoginAddress, address.as_str()),
        ];
        // A locked account (or address) answers like any failed sign-in.
        if self.throttle(&keys).await? {
            return Err(invalid_credentials());
        }
        let found = self.store.credentials(email.trim()).await?;
        let (user, hash) = match found {
            Some(found) => found,
            None => {
                let _ = verify_password(password.to_string(), dummy_hash().await?).await?;
                return Err(invalid_credentials());
            }
        };
        if !verify_password(password.to_string(), hash).await? {
            return Err(invalid_credentials());
        }
        store::clear_attempts(self.store.pool(), Scope::LoginAccount, &account).await?;
        store::forgive_attempt(self.store.pool(), Scope::LoginAddress, &address).await?;
        let mut tx = self.store.pool().begin().await?;
        let tokens = self.issue(&mut tx, user, Uuid::now_v7()).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Trades a refresh token for a new pair. A token can be used once:
    /// presenting a used one again revokes every token of its login.
    pub async fn refresh(&self, refresh_token: &str) -> Result<AuthTokens> {
        let invalid = || Error::from(AccountError::InvalidRefreshToken);
        let mut tx = self.store.pool().begin().await?;
        let stored = UserStore::lock_refresh_token(&mut tx, &refresh_token_hash(refresh_token))
            .await?
            .ok_or_else(invalid)?;
        if stored.revoked_at.is_some() {
            store::revoke_family(&mut tx, stored.family_id).await?;
            tx.commit().await?;
            tracing::warn!(user = %stored.user_id, "refresh token reused; its login is revoked");
            return Err(AccountError::RefreshTokenReused.into());
        }
        if stored.expires_at <= Utc::now() {
            return Err(invalid());
        }
        store::revoke_token(&mut tx, stored.id).await?;
        let user = self
            .store
            .users_by_ids(&[stored.user_id])
            .await?
            .pop()
            .ok_or_else(invalid)?;
        let tokens = self.issue(&mut tx, user, stored.family_id).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Revokes the login a refresh token belongs to. Unknown tokens are fine.
    pub async fn logout(&self, refresh_token: &str) -> Result<bool> {
        let mut tx = self.store.pool().begin().await?;
        let stored =
            UserStore::lock_refresh_token(&mut tx, &refresh_token_hash(refresh_token)).await?;
        if let Some(stored) = &stored {
            store::revoke_family(&mut tx, stored.family_id).await?;
        }
        tx.commit().await?;
        Ok(stored.is_some())
    }

    async fn issue(
        &self,
        conn: &mut sqlx::PgConnection,
        user: User,
        family: Uuid,
    ) -> Result<AuthTokens> {
        let (access_token, expires_at) = self.signer.sign(user.id, user.role)?;
        let refresh_token = new_refresh_token();
        // Each rotation extends the sign-in, but never past the family's end.
        let began = store::family_began(conn, family).await?;
        let now = Utc::now();
        let family_ends = began.unwrap_or(now) + self.refresh_family_lifetime;
        if family_ends <= now {
            return Err(AccountError::SignInEnded.into());
        }
        let refresh_expires = (now + self.refresh_ttl).min(family_ends);
        store::insert_refresh_token(
            conn,
            user.id,
            family,
            &refresh_token_hash(&refresh_token),
            refresh_expires,
        )
        .await?;
        Ok(AuthTokens {
            access_token,
            refresh_token,
            expires_at,
            user,
        })
    }

    /// The viewer's account.
    pub async fn me(&self, viewer: &Viewer) -> Result<User> {
        self.store
            .users_by_ids(&[viewer.user_id])
            .await?
            .pop()
            .ok_or_else(|| AccountError::UserNotFound(viewer.user_id).into())
    }

    /// Renames the viewer.
    pub async fn update_profile(&self, viewer: &Viewer, name: &str) -> Result<User> {
        let name = Name::parse(name).map_err(|e| e.at("name"))?;
        self.store.rename(viewer.user_id, name.as_str()).await
    }

    /// Adds an address to the viewer's account.
    pub async fn add_address(&self, viewer: &Viewer, draft: AddressDraft) -> Result<Address> {
        self.store.add_address(viewer.user_id, &draft).await
    }

    /// Removes one of the viewer's addresses.
    pub async fn remove_address(&self, viewer: &Viewer, id: &str) -> Result<()> {
        let id = Uuid::parse_str(id.trim())
            .map_err(|_| Error::invalid(format!("{id:?} is not a valid id")))?;
        self.store.remove_address(viewer.user_id, id).await
    }

    /// A page of all accounts (administrators).
    pub async fn users_page(&self, viewer: &Viewer, page: &PageRequest<Uuid>) -> Result<Vec<User>> {
        viewer.ensure_admin()?;
        self.store.users_page(page.after, page.fetch_limit()).await
    }

    /// Creates (or promotes) the configured administrator.
    pub async fn bootstrap_admin(&self, email: &str, password: &str) -> Result<()> {
        let email = Email::parse(email)?;
        let password = Password::parse(password)?;
        let hash = hash_password(password.expose().to_string()).await?;
        self.store
            .ensure_admin(email.as_str(), "Administrator", &hash)
            .await?;
        tracing::info!(email = email.as_str(), "administrator ready");
        Ok(())
    }
}
