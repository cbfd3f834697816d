//! Authentication and authorisation shared by every service.
//!
//! The users service signs RS256 access tokens with [`TokenSigner`]; every service
//! (users included) verifies the bearer token it receives — forwarded by the router
//! or Kong — with [`JwtVerifier`] and puts the outcome, an [`Auth`], into each
//! GraphQL request. Resolvers call [`viewer`] or [`admin`] to enforce it.

use std::time::Duration;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Error;

/// The issuer every access token carries.
pub const ISSUER: &str = "shop-users";
/// The audience every access token carries.
pub const AUDIENCE: &str = "shop";

/// What a user may do.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// A shopper: sees and changes only their own data.
    Customer,
    /// Staff: manages the catalogue, orders and payments of everyone.
    Admin,
}

impl Role {
    /// The role's name as stored and as carried in tokens.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Customer => "CUSTOMER",
            Role::Admin => "ADMIN",
        }
    }

    /// Parses a stored role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "CUSTOMER" => Some(Role::Customer),
            "ADMIN" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The user's role.
    pub role: Role,
    /// Issuer, always [`ISSUER`].
    pub iss: String,
    /// Audience, always [`AUDIENCE`].
    pub aud: String,
    /// Issued at (seconds since the epoch, UTC).
    pub iat: i64,
    /// Expires at (seconds since the epoch, UTC).
    pub exp: i64,
    /// A unique token id.
    pub jti: Uuid,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    /// The user's id.
    pub user_id: Uuid,
    /// The user's role.
    pub role: Role,
}

impl Viewer {
    /// Whether the viewer is staff.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Succeeds when the viewer is an administrator (`FORBIDDEN` otherwise).
    pub fn ensure_admin(&self) -> Result<(), Error> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::Forbidden("administrators only".into()))
        }
    }

    /// Succeeds when the viewer is `owner` or an admin (`FORBIDDEN` otherwise):
    /// for what is named by its owner (a user's orders, a user's profile).
    pub fn ensure_can_access(&self, owner: Uuid) -> Result<(), Error> {
        if self.can_see(owner) {
            Ok(())
        } else {
            Err(Error::Forbidden("this belongs to another user".into()))
        }
    }

    /// Whether the viewer owns what `owner` owns, or is an admin.
    pub fn can_see(&self, owner: Uuid) -> bool {
        self.user_id == owner || self.is_admin()
    }

    /// For a resource looked up by its own id (an order, a payment): succeeds
    /// when the viewer owns it or is an admin, and otherwise answers exactly
    /// as for an unknown id (`NOT_FOUND`), so a stranger cannot tell whether
    /// the id exists.
    pub fn ensure_owns(
        &self,
        owner: Uuid,
        kind: &str,
        id: impl std::fmt::Display,
    ) -> Result<(), Error> {
        if self.can_see(owner) {
            Ok(())
        } else {
            Err(Error::not_found(kind, id))
        }
    }
}

/// The authentication outcome of one request.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credentials were sent.
    Anonymous,
    /// A valid token was sent.
    User(Viewer),
    /// A token was sent but is not valid; why, in words safe for the client.
    Invalid(String),
}

impl Auth {
    /// Reads `Authorization: Bearer <token>` and verifies it.
    pub fn from_headers(headers: &http::HeaderMap, verifier: &JwtVerifier) -> Auth {
        match bearer(headers) {
            Err(auth) => auth,
            Ok(None) => Auth::Anonymous,
            Ok(Some(token)) => Auth::from_verified(verifier.verify(token)),
        }
    }

    /// Like [`Auth::from_headers`], bringing the verifier's keys up to date
    /// first when needed (see [`JwtVerifier::verify_fresh`]).
    pub async fn from_headers_fresh(headers: &http::HeaderMap, verifier: &JwtVerifier) -> Auth {
        match bearer(headers) {
            Err(auth) => auth,
            Ok(None) => Auth::Anonymous,
            Ok(Some(token)) => Auth::from_verified(verifier.verify_fresh(token).await),
        }
    }

    fn from_verified(verified: Result<Viewer, Error>) -> Auth {
        match verified {
            Ok(viewer) => Auth::User(viewer),
            Err(e) => Auth::Invalid(e.to_string()),
        }
    }

    /// The viewer, or `UNAUTHENTICATED`.
    pub fn viewer(&self) -> Result<Viewer, Error> {
        match self {
            Auth::User(v) => Ok(*v),
            Auth::Anonymous => Err(Error::Unauthenticated("sign in required".into())),
            Auth::Invalid(why) => Err(Error::Unauthenticated(why.clone())),
        }
    }

    /// The viewer if an admin, `FORBIDDEN` if another user, `UNAUTHENTICATED` if none.
    pub fn admin(&self) -> Result<Viewer, Error> {
        let v = self.viewer()?;
        v.ensure_admin()?;
        Ok(v)
    }
}

/// The bearer token of a request (`None` without an `Authorization` header),
/// or the [`Auth`] to answer when the header is malformed.
fn bearer(headers: &http::HeaderMap) -> Result<Option<&str>, Auth> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Ok(value) = value.to_str() else {
        return Err(Auth::Invalid(
            "the Authorization header is not valid text".into(),
        ));
    };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim())),
        _ => Err(Auth::Invalid(
            "the Authorization header must be `Bearer <token>`".into(),
        )),
    }
}

/// A verified caller's bearer token, kept for calls made on their behalf to
/// another service (which verifies it again). Never printed.
#[derive(Clone)]
pub struct BearerToken(String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

impl BearerToken {
    /// The token of `Authorization: Bearer <token>`, if well formed.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<BearerToken> {
        bearer(headers)
            .ok()
            .flatten()
            .map(|t| BearerToken(t.to_string()))
    }

    /// The token of the current GraphQL request's verified caller.
    pub fn of(ctx: &async_graphql::Context<'_>) -> Option<BearerToken> {
        ctx.data_opt::<BearerToken>().cloned()
    }

    /// The token itself.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

/// REST: the signed-in caller of a handler, from its bearer token (the keys
/// brought up to date when needed); otherwise the request is answered `401`
/// problem+json. The handler's state gives the verifier: a field
/// `Arc<JwtVerifier>` and `#[derive(FromRef)]`.
#[derive(Debug, Clone, Copy)]
pub struct SignedIn(pub Viewer);

/// REST: an administrator calling a handler; otherwise `401` (no valid token)
/// or `403` (another user), as problem+json. See [`SignedIn`].
#[derive(Debug, Clone, Copy)]
pub struct AdminOnly(pub Viewer);

/// `FromRequestParts` for a REST caller extractor: `$ty` wraps what
/// `Auth::$check` gives, or the request is answered with its error.
macro_rules! rest_caller {
    ($ty:ident, $check:ident) => {
        impl<S> axum::extract::FromRequestParts<S> for $ty
        where
            std::sync::Arc<JwtVerifier>: axum::extract::FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = Error;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                state: &S,
            ) -> Result<Self, Error> {
                rest_auth(parts, state).await.$check().map($ty)
            }
        }
    };
}

rest_caller!(SignedIn, viewer);
rest_caller!(AdminOnly, admin);

/// The [`Auth`] of a REST request, verified with the state's verifier.
async fn rest_auth<S>(parts: &http::request::Parts, state: &S) -> Auth
where
    std::sync::Arc<JwtVerifier>: axum::extract::FromRef<S>,
{
    let verifier: std::sync::Arc<JwtVerifier> = axum::extract::FromRef::from_ref(state);
    Auth::from_headers_fresh(&parts.headers, &verifier).await
}

/// The viewer of the current GraphQL request, or `UNAUTHENTICATED`.
pub fn viewer(ctx: &async_graphql::Context<'_>) -> Result<Viewer, Error> {
    ctx.data_opt::<Auth>().unwrap_or(&Auth::Anonymous).viewer()
}

/// The admin viewer of the current GraphQL request, or `FORBIDDEN`/`UNAUTHENTICATED`.
pub fn admin(ctx: &async_graphql::Context<'_>) -> Result<Viewer, Error> {
    ctx.data_opt::<Auth>().unwrap_or(&Auth::Anonymous).admin()
}

/// The key id of an RSA public key: the RFC 7638 JWK thumbprint, base64url.
pub fn key_id(public_pem: &str) -> anyhow::Result<String> {
    let jwk = Jwk::from_public_pem(public_pem, "")?;
    let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, jwk.e, jwk.n);
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// One RSA public key as a JSON Web Key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `RSA`.
    pub kty: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Always `RS256`.
    pub alg: String,
    /// The key id tokens name in their header.
    pub kid: String,
    /// Modulus, base64url.
    pub n: String,
    /// Exponent, base64url.
    pub e: String,
}

impl Jwk {
    /// The JWK of a PEM (SPKI) RSA public key.
    pub fn from_public_pem(public_pem: &str, kid: &str) -> anyhow::Result<Jwk> {
        let key = rsa::RsaPublicKey::from_public_key_pem(public_pem)?;
        Ok(Jwk {
            kty: "RSA".into(),
            use_: "sig".into(),
            alg: "RS256".into(),
            kid: kid.into(),
            n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        })
    }
}

impl Jwk {
    /// The PEM (SPKI) of this key.
    pub fn to_public_pem(&self) -> anyhow::Result<String> {
        let n = rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(&self.n)?);
        let e = rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(&self.e)?);
        Ok(rsa::RsaPublicKey::new(n, e)?.to_public_key_pem(rsa::pkcs8::LineEnding::LF)?)
    }
}

/// A JSON Web Key Set, as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Verifies RS256 access tokens against one or more public keys, picked by
/// the token's `kid`. With a JWKS URL (the users service's
/// `/.well-known/jwks.json`) the key set follows the issuer: a token naming a
/// key not seen yet makes the verifier fetch the set again (at most every
/// few seconds), and the set is refreshed when older than a few minutes, so a
/// key rotation (a new current key, the old one kept as previous) invalidates
/// no valid token.
#[derive(Clone)]
pub struct JwtVerifier {
    keys: std::sync::Arc<std::sync::RwLock<Vec<(String, DecodingKey)>>>,
    validation: Validation,
    remote: Option<std::sync::Arc<RemoteJwks>>,
}

/// Where a verifier refreshes its keys from.
struct RemoteJwks {
    url: String,
    http: reqwest::Client,
    fetched: tokio::sync::Mutex<Option<std::time::Instant>>,
}

/// How often an unknown key id may trigger a fetch of the key set.
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(5);
/// How old a fetched key set may get before it is fetched again.
const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let kids: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("JwtVerifier").field("kids", &kids).finish()
    }
}

impl JwtVerifier {
    /// A verifier for tokens signed by the private half of a PEM (SPKI) public key.
    pub fn from_public_pem(public_pem: &str) -> anyhow::Result<Self> {
        let kid = key_id(public_pem)?;
        let key = DecodingKey::from_rsa_pem(public_pem.as_bytes())?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Ok(JwtVerifier {
            keys: std::sync::Arc::new(std::sync::RwLock::new(vec![(kid, key)])),
            validation,
            remote: None,
        })
    }

    /// From the PEM given inline (tests, secrets injected as values) or else
    /// from the file at `path`.
    pub fn from_pem_or_file(pem: Option<&str>, path: &str) -> anyhow::Result<Self> {
        match pem {
            Some(pem) => Self::from_public_pem(pem),
            None => Self::from_public_pem_file(path),
        }
    }

    /// Reads the public key from a file.
    pub fn from_public_pem_file(path: &str) -> anyhow::Result<Self> {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read JWT public key {path}"))?;
        Self::from_public_pem(&pem)
    }

    /// A verifier for every key of `jwks` (the issuer's own set, current and
    /// previous keys).
    pub fn from_jwks(jwks: &Jwks) -> anyhow::Result<Self> {
        let first = jwks
            .keys
            .first()
            .ok_or_else(|| anyhow::anyhow!("an empty key set"))?;
        let mut verifier = Self::from_public_pem(&first.to_public_pem()?)?;
        let keys = jwks
            .keys
            .iter()
            .map(|k| Ok((k.kid.clone(), DecodingKey::from_rsa_components(&k.n, &k.e)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        verifier.keys = std::sync::Arc::new(std::sync::RwLock::new(keys));
        Ok(verifier)
    }

    /// The same verifier, following the key set at `url` (if any) from now on.
    pub fn with_jwks_url(mut self, url: Option<&str>) -> Self {
        self.remote = url.filter(|u| !u.is_empty()).map(|url| {
            std::sync::Arc::new(RemoteJwks {
                url: url.to_string(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(3))
                    .build()
                    .unwrap_or_default(),
                fetched: tokio::sync::Mutex::new(None),
            })
        });
        self
    }

    /// Verifies a token against the keys known now and returns its viewer.
    pub fn verify(&self, token: &str) -> Result<Viewer, Error> {
        let invalid = |why: &str| Error::Unauthenticated(format!("invalid token: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
        let kid = header.kid.ok_or_else(|| invalid("no key id"))?;
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let (_, key) = keys
            .iter()
            .find(|(k, _)| *k == kid)
            .ok_or_else(|| invalid("unknown key id"))?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => invalid("expired"),
                    _ => invalid("signature or claims rejected"),
                }
            })?;
        Ok(Viewer {
            user_id: data.claims.sub,
            role: data.claims.role,
        })
    }

    /// Like [`JwtVerifier::verify`], first bringing the key set up to date
    /// when it is old, or when the token names a key not known yet.
    pub async fn verify_fresh(&self, token: &str) -> Result<Viewer, Error> {
        let Some(remote) = &self.remote else {
            return self.verify(token);
        };
        // Only an unknown key waits for a fetch; a merely old set is refreshed
        // by one request while the others go on with the keys they have.
        let stale = remote
            .fetched
            .try_lock()
            .is_ok_and(|fetched| fetched.is_none_or(|at| at.elapsed() > JWKS_MAX_AGE));
        if stale {
            self.refresh(remote, JWKS_MAX_AGE).await;
        }
        match self.verify(token) {
            Err(Error::Unauthenticated(why)) if why.ends_with("unknown key id") => {
                self.refresh(remote, JWKS_MIN_REFETCH).await;
                self.verify(token)
            }
            other => other,
        }
    }

    /// Fetches the key set unless it was fetched less than `min_age` ago. A
    /// failed fetch keeps the keys known so far.
    async fn refresh(&self, remote: &RemoteJwks, min_age: Duration) {
        let mut fetched = remote.fetched.lock().await;
        if fetched.is_some_and(|at| at.elapsed() < min_age) {
            return;
        }
        *fetched = Some(std::time::Instant::now());
        let jwks = async {
            remote
                .http
                .get(&remote.url)
                .send()
                .await?
                .error_for_status()?
                .json::<Jwks>()
                .await
        }
        .await;
        match jwks {
            Ok(jwks) => {
                let keys: Vec<(String, DecodingKey)> = jwks
                    .keys
                    .iter()
                    .filter(|k| k.kty == "RSA" && k.alg == "RS256")
                    .filter_map(|k| {
                        DecodingKey::from_rsa_components(&k.n, &k.e)
                            .ok()
                            .map(|key| (k.kid.clone(), key))
                    })
                    .collect();
                if !keys.is_empty() {
                    *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, url = %remote.url, "cannot fetch the JWKS; keeping the keys known")
            }
        }
    }
}

/// Signs RS256 access tokens (used by the users service, and by tests).
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    kid: String,
    jwk: Jwk,
    previous: Vec<Jwk>,
    ttl: Duration,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer from a PKCS#8 PEM private key and its PEM public key.
    pub fn from_pem(private_pem: &str, public_pem: &str, ttl: Duration) -> anyhow::Result<Self> {
        let kid = key_id(public_pem)?;
        let jwk = Jwk::from_public_pem(public_pem, &kid)?;
        let key = EncodingKey::from_rsa_pem(private_pem.as_bytes())?;
        Ok(TokenSigner {
            key,
            kid,
            jwk,
            previous: Vec::new(),
            ttl,
        })
    }

    /// The same signer, also publishing earlier public keys (PEMs) in its key
    /// set, so that tokens they signed stay valid after a rotation.
    pub fn with_previous_keys(mut self, public_pems: &[String]) -> anyhow::Result<Self> {
        for pem in public_pems {
            let kid = key_id(pem)?;
            if kid != self.kid {
                self.previous.push(Jwk::from_public_pem(pem, &kid)?);
            }
        }
        Ok(self)
    }

    /// The public key set that verifies this signer's tokens: the current key
    /// first, then the previous ones.
    pub fn jwks(&self) -> Jwks {
        let mut keys = vec![self.jwk.clone()];
        keys.extend(self.previous.iter().cloned());
        Jwks { keys }
    }

    /// How long an access token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs an access token for a user; returns it with its expiry.
    pub fn sign(&self, user_id: Uuid, role: Role) -> anyhow::Result<(String, DateTime<Utc>)> {
        let now = Utc::now();
        let expires = now + self.ttl;
        let claims = Claims {
            sub: user_id,
            role,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
            jti: Uuid::now_v7(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok((jsonwebtoken::encode(&header, &claims, &self.key)?, expires))
    }
}

/// Encodes a public key to PEM (SPKI); used when generating keys.
pub fn public_pem_of(key: &rsa::RsaPrivateKey) -> anyhow::Result<String> {
    Ok(key
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::test_keys;

    fn signer(ttl: Duration) -> TokenSigner {
        let keys = test_keys();
        TokenSigner::from_pem(&keys.private_pem, &keys.public_pem, ttl).expect("signer")
    }

    #[test]
    fn a_signed_token_verifies_to_its_viewer() {
        let keys = test_keys();
        let verifier = JwtVerifier::from_public_pem(&keys.public_pem).expect("verifier");
        let user = Uuid::now_v7();
        let (token, _) = signer(Duration::from_secs(60))
            .sign(user, Role::Admin)
            .expect("sign");
        let viewer = verifier.verify(&token).expect("valid");
        assert_eq!(
            viewer,
            Viewer {
                user_id: user,
                role: Role::Admin
            }
        );
    }

    #[test]
    fn tampered_and_garbage_tokens_are_rejected() {
        let keys = test_keys();
        let verifier = JwtVerifier::from_public_pem(&keys.public_pem).expect("verifier");
        let (token, _) = signer(Duration::from_secs(60))
            .sign(Uuid::now_v7(), Role::Customer)
            .expect("sign");
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        // Claim to be an admin without re-signing.
        let claims = URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64");
        let forged = String::from_utf8(claims)
            .expect("utf8")
            .replace("CUSTOMER", "ADMIN");
        parts[1] = URL_SAFE_NO_PAD.encode(forged);
        assert!(verifier.verify(&parts.join(".")).is_err());
        assert!(verifier.verify("not-a-token").is_err());
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let keys = test_keys();
        let verifier = JwtVerifier::from_public_pem(&keys.public_pem).expect("verifier");
        let signer = signer(Duration::from_secs(60));
        let an_hour_ago = Claims {
            sub: Uuid::now_v7(),
            role: Role::Customer,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: Utc::now().timestamp() - 7200,
            exp: Utc::now().timestamp() - 3600,
            jti: Uuid::now_v7(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(signer.kid.clone());
        let token = jsonwebtoken::encode(&header, &an_hour_ago, &signer.key).expect("encode");
        let err = verifier.verify(&token).expect_err("expired");
        assert!(err.to_string().contains("expired"), "{err}");
    }

    #[test]
    fn the_bearer_scheme_is_required() {
        let keys = test_keys();
        let verifier = JwtVerifier::from_public_pem(&keys.public_pem).expect("verifier");
        let mut headers = http::HeaderMap::new();
        assert!(matches!(
            Auth::from_headers(&headers, &verifier),
            Auth::Anonymous
        ));
        headers.insert(
            http::header::AUTHORIZATION,
            "Basic abc".parse().expect("header"),
        );
        assert!(matches!(
            Auth::from_headers(&headers, &verifier),
            Auth::Invalid(_)
        ));
    }

    #[test]
    fn only_owners_and_admins_may_access() {
        let owner = Uuid::now_v7();
        let customer = Viewer {
            user_id: Uuid::now_v7(),
            role: Role::Customer,
        };
        let admin = Viewer {
            user_id: Uuid::now_v7(),
            role: Role::Admin,
        };
        assert!(customer.ensure_can_access(owner).is_err());
        assert!(admin.ensure_can_access(owner).is_ok());
        assert!(Viewer {
            user_id: owner,
            role: Role::Customer
        }
        .ensure_can_access(owner)
        .is_ok());
    }
}
