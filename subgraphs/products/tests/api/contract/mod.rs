//! One contract per store port, run against PostgreSQL always and against
//! MongoDB when `MONGODB_URL` is set (each test on a fresh database):
//! [`catalog`] for `CatalogStore`, [`ledger`] for the stock rules over each
//! store's ledger. Without `MONGODB_URL` the MongoDB variants print a note and
//! pass; `scripts/test` counts them in a SKIPPED line.

use chrono::{DateTime, Utc};
use platform::{Currency, Money};
use products::domain::{Attribute, Category, Product};
use uuid::Uuid;

/// Declares each contract function as a PostgreSQL test and a MongoDB test,
/// given the module's `postgres()` and `mongodb()` (`None` without
/// `MONGODB_URL`).
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::postgres().await).await;
                }
            )*
        }
        mod mongodb {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = super::mongodb().await else {
                        eprintln!("skipped: set MONGODB_URL to run the store contract on MongoDB");
                        return;
                    };
                    super::$name(store).await;
                }
            )*
        }
    };
}

mod catalog;
mod ledger;

/// A fresh MongoDB database's name.
fn mongo_database() -> String {
    format!("t_products_{}", Uuid::now_v7().simple())
}

fn category(slug: &str, at: DateTime<Utc>) -> Category {
    Category {
        id: Uuid::now_v7(),
        name: slug.to_uppercase(),
        slug: slug.into(),
        description: format!("All the {slug}."),
        created_at: at,
    }
}

fn product(
    sku: &str,
    name: &str,
    amount: i64,
    category: &Category,
    stock: i32,
    created_at: DateTime<Utc>,
) -> Product {
    Product {
        id: Uuid::now_v7(),
        sku: sku.into(),
        name: name.into(),
        description: format!("{name} for everyday use."),
        price: Money::new(amount, Currency::EUR),
        category_id: category.id,
        images: vec![format!("https://picsum.photos/seed/{sku}/400")],
        attributes: vec![Attribute {
            name: "material".into(),
            value: "oak".into(),
        }],
        archived: false,
        stock_on_hand: stock,
        reserved: 0,
        created_at,
        updated_at: created_at,
    }
}
