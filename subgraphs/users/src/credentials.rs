//! Secrets: argon2id password hashes (computed off the async runtime) and
//! refresh tokens (random, stored only as SHA-256 hashes).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use platform::{Error, Result};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::AccountError;

/// How many argon2 computations (19 MiB each) may run at once; the rest wait
/// their turn, so a burst of sign-ups or sign-ins cannot exhaust memory. Two:
/// each takes a core for ~50 ms, so more at once would not finish sooner on
/// the two cores a replica gets, only hold more memory (README "Performance").
pub const MAX_CONCURRENT_HASHES: usize = 2;

/// How long a request waits for its turn before it is told to come back.
const HASH_QUEUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn hashing_permit() -> Result<tokio::sync::SemaphorePermit<'static>> {
    static PERMITS: tokio::sync::Semaphore =
        tokio::sync::Semaphore::const_new(MAX_CONCURRENT_HASHES);
    match tokio::time::timeout(HASH_QUEUE_TIMEOUT, PERMITS.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AccountError::HashingBusy.into()),
    }
}

/// Hashes a password with argon2id (the crate's default parameters).
pub async fn hash_password(password: String) -> Result<String> {
    let _permit = hashing_permit().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

/// Whether `password` matches `hash`.
pub async fn verify_password(password: String, hash: String) -> Result<bool> {
    let _permit = hashing_permit().await?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| Error::Internal(anyhow::anyhow!("bad stored hash: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

/// A hash of a password nobody has, verified when an email is unknown so that
/// the answer takes as long as for a known one.
pub async fn dummy_hash() -> Result<String> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| hash_password("not-a-real-password-0".into()))
        .await
        .cloned()
}

/// A new refresh token: 32 random bytes, base64url.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a refresh token.
pub fn refresh_token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_argon2id_hash_only() {
        let hash = hash_password("correct horse 1".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse 1".into(), hash.clone())
            .await
            .expect("verify"));
        assert!(!verify_password("wrong horse 1".into(), hash)
            .await
            .expect("verify"));
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, b) = (new_refresh_token(), new_refresh_token());
        assert_ne!(a, b);
        assert_eq!(refresh_token_hash(&a).len(), 32);
        assert_ne!(refresh_token_hash(&a), refresh_token_hash(&b));
    }
}
