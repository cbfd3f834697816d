//! The MongoDB adapter, by concern:
//! - [`catalog`]: the catalogue (`products` and `categories`, with unique
//!   indexes on `sku` and `slug` and a text index on name and description),
//!   keyset pagination with `$or` on `(sort key, _id)`, and atomic conditional
//!   updates (`find_one_and_update` with the precondition in the filter);
//! - [`ledger`]: the stock ledger's primitives and transactions (`inbox`,
//!   `reservations`, `outbox`), over `session`'s transactions and retries;
//! - [`outbox`]: the relay's view of the `outbox` collection;
//! - `session`: MongoDB transactions (begin, commit, abort), which driver
//!   errors are worth retrying, and running again after a write conflict;
//! - `documents`: every stored document's shape and codec, and the
//!   collections' names.
//!
//! The modules depend downwards only: catalogue and ledger on documents and
//! session, the ledger on the outbox; this file only assembles them.
//!
//! Ids are stored as hyphenated lower-case UUID strings, which sort in the same
//! order as the UUIDs themselves; dates are BSON dates (milliseconds, which is
//! why the domain truncates every timestamp to milliseconds); names compare by
//! bytes, like PostgreSQL's `"C"` collation the other adapter sorts names with.

pub mod catalog;
mod documents;
pub mod ledger;
pub mod outbox;
mod session;

use mongodb::Client;

pub use catalog::MongoCatalogStore;
pub use ledger::MongoLedger;
pub use outbox::MongoOutbox;

/// Connects to `url` and opens database `database` as catalogue and ledger,
/// creating what they need (collections, indexes; what exists is left as is,
/// so replicas may start together).
pub async fn connect(
    url: &str,
    database: &str,
) -> anyhow::Result<(MongoCatalogStore, MongoLedger)> {
    let database = Client::with_uri_str(url).await?.database(database);
    Ok((
        MongoCatalogStore::open(database.clone()).await?,
        MongoLedger::open(database).await?,
    ))
}
