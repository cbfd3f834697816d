//! The users subgraph: `User @key(id)`, `me`, the admin listing, and the
//! account mutations. Users and their addresses load through DataLoaders.
//! Roots in `query` and `mutation`, objects and inputs in `types`, loaders
//! in `loaders`; this file builds the schema.

use platform::graphql::{Limits, SchemaSettings};
use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, Schema};

use crate::app::Accounts;

mod loaders;
mod mutation;
mod query;
mod types;

pub use loaders::{AddressesByUser, UsersById};
pub use mutation::Mutation;
pub use query::Query;
pub use types::{
    AddAddressInput, AddressObject, AuthPayload, RegisterInput, SignedIn, UpdateProfileInput,
    UserConnection, UserObject,
};

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
