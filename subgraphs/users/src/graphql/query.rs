//! The users subgraph's queries.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Object, ResultExt, ID};
use platform::auth;
use platform::pagination::{connection, PageRequest};
use uuid::Uuid;

use super::loaders::UsersById;
use super::types::{parse_id, UserConnection, UserObject};
use crate::app::Accounts;

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
