//! The users subgraph's objects and inputs.

use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, InputObject, Object, ResultExt, SimpleObject, ID};
use chrono::{DateTime, Utc};
use platform::auth::{self, Role};
use uuid::Uuid;

use super::loaders::AddressesByUser;
use crate::app::AuthTokens;
use crate::domain::{Address, User};

/// An account. `email` and `addresses` are visible to the user and admins only.
pub struct UserObject(pub User, SignedIn);

/// Whether the user was just signed in by this very request (a `register`,
/// `login` or `refreshToken` payload), whose caller holds no token yet but
/// may see the user's private fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn(bool);

impl UserObject {
    /// A user as any caller may see it (private fields checked per caller).
    pub fn new(user: User) -> Self {
        UserObject(user, SignedIn(false))
    }

    /// The user a sign-in just authenticated.
    pub fn signed_in(user: User) -> Self {
        UserObject(user, SignedIn(true))
    }

    /// `FORBIDDEN`/`UNAUTHENTICATED` unless the caller may see private fields.
    fn ensure_private_access(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if self.1 .0 {
            return Ok(());
        }
        auth::viewer(ctx)
            .extend()?
            .ensure_can_access(self.0.id)
            .extend()
    }
}

/// A postal address.
#[derive(SimpleObject)]
#[graphql(name = "Address")]
pub struct AddressObject {
    /// Id.
    pub id: ID,
    /// Street and number.
    pub line1: String,
    /// More.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
}

impl From<Address> for AddressObject {
    fn from(a: Address) -> Self {
        AddressObject {
            id: ID(a.id.to_string()),
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
}

#[Object(name = "User")]
impl UserObject {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Their email (the user themself and admins only).
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        self.ensure_private_access(ctx)?;
        Ok(&self.0.email)
    }
    /// Their display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What they may do.
    async fn role(&self) -> Role {
        self.0.role
    }
    /// Their addresses, oldest first (the user themself and admins only).
    async fn addresses(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AddressObject>> {
        self.ensure_private_access(ctx)?;
        let found = ctx
            .data::<DataLoader<AddressesByUser>>()?
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(found.into_iter().map(AddressObject::from).collect())
    }
    /// When they signed up (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Tokens after signing up, in or refreshing.
pub struct AuthPayload(pub(super) AuthTokens);

#[Object]
impl AuthPayload {
    /// RS256 access token for `Authorization: Bearer ...` (15 minutes).
    async fn access_token(&self) -> &str {
        &self.0.access_token
    }
    /// Single-use token for `refreshToken` (rotating).
    async fn refresh_token(&self) -> &str {
        &self.0.refresh_token
    }
    /// When the access token expires (UTC).
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// Who signed in.
    async fn user(&self) -> UserObject {
        UserObject::signed_in(self.0.user.clone())
    }
}

/// A page of users.
pub type UserConnection = Connection<OpaqueCursor<Uuid>, UserObject>;

pub(super) fn parse_id(id: &str) -> async_graphql::Result<Uuid> {
    platform::input::parse_id("id", id).extend()
}

/// Sign-up details.
#[derive(InputObject)]
pub struct RegisterInput {
    /// Email address.
    pub email: String,
    /// 10 to 128 characters, a letter and a digit.
    pub password: String,
    /// Display name.
    pub name: String,
}

/// Profile changes.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// New display name.
    pub name: String,
}

/// An address to add.
#[derive(InputObject)]
pub struct AddAddressInput {
    /// Street and number.
    pub line1: String,
    /// More.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
}
