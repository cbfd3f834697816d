//! The MongoDB adapter, by concern:
//! - [`catalog`]: the catalogue (`products` and `categories`, with unique
//!   indexes on `sku` and `slug` and a text index on name and description),
//!   keyset pagination with `$or` on `(sort key, _id)`, and atomic conditional
//!   updates (`find_one_and_update` with the precondition in the filter);
//! - `ledger`: the stock ledger's primitives and transactions (`inbox`,
//!   `reservations`, `outbox`), over `session`'s transactions and retries;
//! - [`outbox`]: the relay's view of the `outbox` collection;
//! - `documents`: every stored document's shape and codec.
//!
//! Ids are stored as hyphenated lower-case UUID strings, which sort in the same
//! order as the UUIDs themselves; dates are BSON dates (milliseconds, which is
//! why the domain truncates every timestamp to milliseconds); names compare by
//! bytes, like PostgreSQL's `"C"` collation the other adapter sorts names with.

pub mod catalog;
mod documents;
mod ledger;
pub mod outbox;
mod session;

use mongodb::bson::doc;
use mongodb::options::IndexOptions;
use mongodb::{Client, Collection, Database, IndexModel};

use documents::{CategoryDoc, ProductDoc};
pub use outbox::MongoOutbox;

/// The collection of products.
const PRODUCTS: &str = "products";
/// The collection of categories.
const CATEGORIES: &str = "categories";
/// The collection of applied event ids.
const INBOX: &str = "inbox";
/// The collection of events waiting for the relay.
const OUTBOX: &str = "outbox";
/// The collection of reservations, one per order.
const RESERVATIONS: &str = "reservations";

/// The catalogue in MongoDB.
#[derive(Debug, Clone)]
pub struct MongoCatalogStore {
    database: Database,
    products: Collection<ProductDoc>,
    categories: Collection<CategoryDoc>,
}

impl MongoCatalogStore {
    /// Connects to `url`, uses database `database` and creates the indexes (an
    /// existing identical index is left as is, so replicas may start together).
    pub async fn connect(url: &str, database: &str) -> anyhow::Result<Self> {
        let client = Client::with_uri_str(url).await?;
        let database = client.database(database);
        let store = MongoCatalogStore {
            products: database.collection(PRODUCTS),
            categories: database.collection(CATEGORIES),
            database,
        };
        store.create_indexes().await?;
        Ok(store)
    }

    /// The database (for the stock ledger).
    fn database(&self) -> &Database {
        &self.database
    }

    async fn create_indexes(&self) -> anyhow::Result<()> {
        let unique = |name: &str| {
            IndexOptions::builder()
                .unique(true)
                .name(name.to_string())
                .build()
        };
        let named = |name: &str| IndexOptions::builder().name(name.to_string()).build();
        self.categories
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "slug": 1 })
                    .options(unique("slug_unique"))
                    .build(),
            )
            .await?;
        let product_indexes = vec![
            IndexModel::builder()
                .keys(doc! { "sku": 1 })
                .options(unique("sku_unique"))
                .build(),
            IndexModel::builder()
                .keys(doc! { "name": "text", "description": "text" })
                .options(
                    IndexOptions::builder()
                        .name("search_text".to_string())
                        .default_language("english".to_string())
                        .weights(doc! { "name": 10, "description": 1 })
                        .build(),
                )
                .build(),
            IndexModel::builder()
                .keys(doc! { "archived": 1, "created_at": -1, "_id": -1 })
                .options(named("newest"))
                .build(),
            IndexModel::builder()
                .keys(doc! { "archived": 1, "price_amount": 1, "_id": 1 })
                .options(named("price"))
                .build(),
            IndexModel::builder()
                .keys(doc! { "archived": 1, "name": 1, "_id": 1 })
                .options(named("name"))
                .build(),
            IndexModel::builder()
                .keys(doc! { "category_id": 1, "archived": 1, "created_at": -1, "_id": -1 })
                .options(named("category_newest"))
                .build(),
        ];
        self.products.create_indexes(product_indexes).await?;
        ledger::prepare(&self.database).await?;
        Ok(())
    }
}
