//! The users subgraph: `User @key(id)`, `me`, the admin listing, and the
//! account mutations. Users and their addresses load through DataLoaders.

use platform::graphql::{Limits, SchemaSettings};
use std::collections::HashMap;
use std::time::Duration;

use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, InputObject, Object, ResultExt, Schema,
    SimpleObject, ID,
};
use chrono::{DateTime, Utc};
use platform::auth::{self, Role};
use platform::pagination::{connection, PageRequest};
use uuid::Uuid;

use crate::app::{Accounts, AuthTokens};
use crate::domain::{Address, AddressDraft, User};
use crate::store::UserStore;

/// The users schema.
pub type UsersSchema = Schema<Query, Mutation, EmptySubscription>;

/// How long loaders collect keys before one batched query.
pub const LOADER_DELAY: Duration = Duration::from_millis(2);

/// The operations this subgraph accepts, unless the configuration overrides them.
pub const LIMITS: Limits = Limits {
    depth: 12,
    complexity: 2000,
};

/// Builds the schema over the use cases.
pub fn build_schema(accounts: Accounts, settings: impl Into<SchemaSettings>) -> UsersSchema {
    build_schema_with(accounts, settings, LOADER_DELAY)
}

/// Builds the schema with loaders that wait `loader_delay` to collect keys.
pub fn build_schema_with(
    accounts: Accounts,
    settings: impl Into<SchemaSettings>,
    loader_delay: Duration,
) -> UsersSchema {
    let store = accounts.store().clone();
    platform::graphql::configure(
        Schema::build(Query, Mutation, EmptySubscription),
        settings,
        LIMITS,
    )
    .enable_federation()
    .data(DataLoader::new(UsersById(store.clone()), tokio::spawn).delay(loader_delay))
    .data(DataLoader::new(AddressesByUser(store), tokio::spawn).delay(loader_delay))
    .data(accounts)
    .extension(OneSignInPerRequest)
    .finish()
}

/// The mutations that check a password or a refresh token.
pub const SIGN_IN_FIELDS: [&str; 3] = ["login", "register", "refreshToken"];

/// Refuses a request that carries more than one of [`SIGN_IN_FIELDS`]
/// (aliases included): one request is one guess, never thirty.
pub struct OneSignInPerRequest;

impl async_graphql::extensions::ExtensionFactory for OneSignInPerRequest {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(OneSignInPerRequest)
    }
}

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for OneSignInPerRequest {
    async fn parse_query(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        query: &str,
        variables: &async_graphql::Variables,
        next: async_graphql::extensions::NextParseQuery<'_>,
    ) -> async_graphql::ServerResult<async_graphql::parser::types::ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if sign_in_fields(&document) > 1 {
            let mut error = async_graphql::ServerError::new(
                "a request may carry at most one login, register or refreshToken",
                None,
            );
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", "BAD_USER_INPUT");
            error.extensions = Some(extensions);
            return Err(error);
        }
        Ok(document)
    }
}

/// How many sign-in fields the operations of `document` select at their root
/// (through inline fragments and fragment spreads, each named fragment
/// counted wherever it is spread).
fn sign_in_fields(document: &async_graphql::parser::types::ExecutableDocument) -> usize {
    use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
    fn count(set: &SelectionSet, document: &ExecutableDocument, path: &mut Vec<String>) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => {
                    usize::from(SIGN_IN_FIELDS.contains(&f.node.name.node.as_str()))
                }
                Selection::InlineFragment(inline) => {
                    count(&inline.node.selection_set.node, document, path)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.to_string();
                    // A fragment spreading itself is invalid anyway: do not loop.
                    if path.contains(&name) {
                        return 0;
                    }
                    let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    else {
                        return 0;
                    };
                    path.push(name);
                    let n = count(&fragment.node.selection_set.node, document, path);
                    path.pop();
                    n
                }
            })
            .sum()
    }
    document
        .operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node, document, &mut Vec::new()))
        .sum()
}

/// Users by id.
pub struct UsersById(UserStore);
/// Addresses of users.
pub struct AddressesByUser(UserStore);

impl Loader<Uuid> for UsersById {
    type Value = User;
    type Error = async_graphql::Error;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, User>, Self::Error> {
        Ok(self
            .0
            .users_by_ids(keys)
            .await
            .map_err(|e| e.extend())?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }
}

impl Loader<Uuid> for AddressesByUser {
    type Value = Vec<Address>;
    type Error = async_graphql::Error;
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Address>>, Self::Error> {
        let mut by_user: HashMap<Uuid, Vec<Address>> = HashMap::new();
        for a in self.0.addresses_of(keys).await.map_err(|e| e.extend())? {
            by_user.entry(a.user_id).or_default().push(a);
        }
        Ok(by_user)
    }
}

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
pub struct AuthPayload(AuthTokens);

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

/// Queries.
#[derive(Default)]
pub struct Query;

#[Object]
impl Query {
    /// The signed-in user (nullable, so that an error here leaves the rest of
    /// a query standing).
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserObject>> {
        let viewer = auth::viewer(ctx).extend()?;
        let user = ctx.data::<Accounts>()?.me(&viewer).await.extend()?;
        Ok(Some(UserObject::new(user)))
    }

    /// Every account in sign-up order (administrators).
    #[graphql(complexity = "platform::pagination::page_cost(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        let viewer = auth::viewer(ctx).extend()?;
        let page = PageRequest::<Uuid>::parse(first, after).extend()?;
        let rows = ctx
            .data::<Accounts>()?
            .users_page(&viewer, &page)
            .await
            .extend()?;
        Ok(connection(&page, rows, |u| u.id, UserObject::new))
    }

    /// One account (administrators).
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<UserObject>> {
        auth::admin(ctx).extend()?;
        let id = parse_id(&id)?;
        Ok(ctx
            .data::<DataLoader<UsersById>>()?
            .load_one(id)
            .await?
            .map(UserObject::new))
    }

    /// Resolves a `User` reference, for the user themself or an admin only:
    /// anyone else (or an anonymous caller) learns nothing, not even whether
    /// the account exists.
    #[graphql(entity)]
    async fn find_user_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<UserObject>> {
        let id = parse_id(&id)?;
        let visible = auth::viewer(ctx).is_ok_and(|v| v.ensure_can_access(id).is_ok());
        if !visible {
            return Ok(None);
        }
        Ok(ctx
            .data::<DataLoader<UsersById>>()?
            .load_one(id)
            .await?
            .map(UserObject::new))
    }
}

fn parse_id(id: &str) -> async_graphql::Result<Uuid> {
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

/// Mutations.
#[derive(Default)]
pub struct Mutation;

#[Object]
impl Mutation {
    /// Signs up a customer and signs them in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<AuthPayload> {
        let accounts = ctx.data::<Accounts>()?;
        Ok(AuthPayload(
            accounts
                .register(&input.email, &input.password, &input.name)
                .await
                .map_err(|e| e.at("input"))
                .extend()?,
        ))
    }

    /// Signs in.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(AuthPayload(
            ctx.data::<Accounts>()?
                .login(&email, &password)
                .await
                .extend()?,
        ))
    }

    /// Trades a refresh token for a new pair (each refresh token works once).
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(AuthPayload(
            ctx.data::<Accounts>()?
                .refresh(&refresh_token)
                .await
                .extend()?,
        ))
    }

    /// Ends the login the refresh token belongs to.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<bool> {
        ctx.data::<Accounts>()?
            .logout(&refresh_token)
            .await
            .extend()
    }

    /// Changes the signed-in user's profile.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> async_graphql::Result<UserObject> {
        let viewer = auth::viewer(ctx).extend()?;
        Ok(UserObject::new(
            ctx.data::<Accounts>()?
                .update_profile(&viewer, &input.name)
                .await
                .extend()?,
        ))
    }

    /// Adds an address to the signed-in user's account.
    async fn add_address(
        &self,
        ctx: &Context<'_>,
        input: AddAddressInput,
    ) -> async_graphql::Result<AddressObject> {
        let viewer = auth::viewer(ctx).extend()?;
        let draft = AddressDraft::parse(
            &input.line1,
            input.line2.as_deref(),
            &input.city,
            &input.postal_code,
            &input.country,
        )
        .map_err(|e| e.at("input"))
        .extend()?;
        Ok(ctx
            .data::<Accounts>()?
            .add_address(&viewer, draft)
            .await
            .extend()?
            .into())
    }

    /// Removes one of the signed-in user's addresses.
    async fn remove_address(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let viewer = auth::viewer(ctx).extend()?;
        ctx.data::<Accounts>()?
            .remove_address(&viewer, &id)
            .await
            .extend()?;
        Ok(true)
    }
}
