//! The users subgraph's mutations.

use async_graphql::{Context, Object, ResultExt, ID};
use platform::auth;

use super::types::{
    AddAddressInput, AddressObject, AuthPayload, RegisterInput, UpdateProfileInput, UserObject,
};
use crate::app::Accounts;
use crate::domain::AddressDraft;

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
