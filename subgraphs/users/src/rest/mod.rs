//! The REST fallback: `POST /api/v1/users` (sign up), `POST /api/v1/auth/token`
//! (sign in), `POST /api/v1/auth/refresh`, `GET /api/v1/users/me`, and the JWKS
//! at `/.well-known/jwks.json`. Same use cases as GraphQL; problem details.

use platform::openapi::BearerAuth;
use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use platform::auth::{Jwks, JwtVerifier, SignedIn};
use platform::http::JsonBody;
use platform::Result;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::app::{Accounts, AuthTokens};
use crate::domain::User;

#[derive(Clone, FromRef)]
struct RestState {
    accounts: Accounts,
    verifier: Arc<JwtVerifier>,
}

/// The REST routes.
pub fn routes(accounts: Accounts, verifier: Arc<JwtVerifier>) -> Router {
    Router::new()
        .route("/api/v1/users", post(register))
        .route("/api/v1/users/me", get(me))
        .route("/api/v1/auth/token", post(token))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(RestState { accounts, verifier })
        .merge(platform::http::openapi_router(ApiDoc::openapi()))
}

/// The users REST API (OpenAPI 3.1).
#[derive(OpenApi)]
#[openapi(
    info(title = "Shop users", description = "Accounts and tokens"),
    paths(register, token, refresh, me, jwks),
    components(schemas(
        UserJson,
        TokensJson,
        RegisterBody,
        TokenBody,
        RefreshBody,
        platform::error::Problem
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// A user in JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserJson {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// `CUSTOMER` or `ADMIN`.
    pub role: &'static str,
    /// Signed up (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserJson {
    fn from(u: User) -> Self {
        UserJson {
            id: u.id.to_string(),
            email: u.email,
            name: u.name,
            role: u.role.as_str(),
            created_at: u.created_at,
        }
    }
}

/// Tokens in JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensJson {
    /// Access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Refresh token.
    pub refresh_token: String,
    /// Access token expiry (UTC).
    pub expires_at: DateTime<Utc>,
    /// The user.
    pub user: UserJson,
}

impl From<AuthTokens> for TokensJson {
    fn from(t: AuthTokens) -> Self {
        TokensJson {
            access_token: t.access_token,
            token_type: "Bearer",
            refresh_token: t.refresh_token,
            expires_at: t.expires_at,
            user: t.user.into(),
        }
    }
}

// The patterns state the edge's text rule (platform::input: no control
// character but tab, line feed and carriage return) and the domain's own rules
// (users::domain): `\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F` are those control
// characters; `[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]`
// is the white space a value is trimmed of (Unicode `White_Space` less the
// control characters).

/// Sign-up body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// Email (RFC 5322 addr-spec whose domain has a dot; at most 254
    /// characters once trimmed).
    #[schema(format = "email", min_length = 3, max_length = 254)]
    pub email: String,
    /// Password: 10 to 128 characters, at least one letter and one digit.
    #[schema(
        min_length = 10,
        max_length = 128,
        pattern = r"^(?=[\s\S]*[0-9])(?=[\s\S]*[^\W\d_])[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub password: String,
    /// Name: 1 to 100 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\x00-\x1F\x7F-\x9F]{0,98}[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: String,
}

/// Sign-in body. Credentials that fit nowhere are refused like wrong ones
/// (`401`), so the bounds below only say what can ever succeed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// Email.
    #[schema(
        min_length = 1,
        max_length = 320,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub email: String,
    /// Password.
    #[schema(
        min_length = 1,
        max_length = 1024,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub password: String,
}

/// Refresh body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The refresh token (an unknown one is `401`).
    #[schema(
        min_length = 1,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub refresh_token: String,
}

/// Signs up a customer and signs them in.
#[utoipa::path(post, path = "/api/v1/users", request_body = RegisterBody,
    responses((status = 201, body = TokensJson),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 413, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 415, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 429, body = platform::error::Problem, content_type = "application/problem+json"),))]
async fn register(
    State(s): State<RestState>,
    JsonBody(b): JsonBody<RegisterBody>,
) -> Result<(StatusCode, Json<TokensJson>)> {
    let tokens = s.accounts.register(&b.email, &b.password, &b.name).await?;
    Ok((StatusCode::CREATED, Json(tokens.into())))
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/token", request_body = TokenBody,
    responses((status = 200, body = TokensJson),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 413, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 415, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = platform::error::Problem, content_type = "application/problem+json"),))]
async fn token(
    State(s): State<RestState>,
    JsonBody(b): JsonBody<TokenBody>,
) -> Result<Json<TokensJson>> {
    Ok(Json(s.accounts.login(&b.email, &b.password).await?.into()))
}

/// Trades a refresh token (single use) for a new pair.
#[utoipa::path(post, path = "/api/v1/auth/refresh", request_body = RefreshBody,
    responses((status = 200, body = TokensJson),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 413, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 415, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = platform::error::Problem, content_type = "application/problem+json"),))]
async fn refresh(
    State(s): State<RestState>,
    JsonBody(b): JsonBody<RefreshBody>,
) -> Result<Json<TokensJson>> {
    Ok(Json(s.accounts.refresh(&b.refresh_token).await?.into()))
}

/// The signed-in user (Bearer token).
#[utoipa::path(get, path = "/api/v1/users/me", security(("bearer" = [])),
    responses((status = 200, body = UserJson),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),))]
async fn me(State(s): State<RestState>, SignedIn(viewer): SignedIn) -> Result<Json<UserJson>> {
    Ok(Json(s.accounts.me(&viewer).await?.into()))
}

/// The public keys (JWKS) that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", responses((status = 200, description = "A JSON Web Key Set")))]
async fn jwks(State(s): State<RestState>) -> Json<Jwks> {
    Json(s.accounts.jwks())
}
