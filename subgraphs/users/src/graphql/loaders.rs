//! The users subgraph's DataLoaders: one query for many keys.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::ErrorExtensions;
use uuid::Uuid;

use crate::domain::{Address, User};
use crate::store::UserStore;

/// Users by id.
pub struct UsersById(pub(super) UserStore);
/// Addresses of users.
pub struct AddressesByUser(pub(super) UserStore);

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
