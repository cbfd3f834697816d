//! The demo catalogue: large enough to browse, and seeding twice (or from two
//! replicas at once) changes nothing.

use std::sync::Arc;

use products::seed::{seed_demo, seed_if_empty};
use products::store::postgres::PgCatalogStore;
use products::store::CatalogStore;
use serde_json::json;

use crate::helpers::{nodes, spawn_app_with, test_config};

#[tokio::test]
async fn seeding_yields_a_browsable_catalogue_and_is_idempotent() {
    let mut config = test_config();
    config.seed_demo = true;
    let app = spawn_app_with(config).await;
    let count = app.store.count_products().await.unwrap();
    assert!(count >= 200, "{count}");
    let categories = app.store.list_categories().await.unwrap();
    assert!(categories.len() >= 6);

    // Again: nothing new, and "only when empty" skips it altogether.
    let again = seed_demo(app.store.as_ref()).await.unwrap();
    assert_eq!((again.categories, again.products), (0, 0));
    assert_eq!(seed_if_empty(app.store.as_ref()).await.unwrap(), None);
    assert_eq!(app.store.count_products().await.unwrap(), count);

    let res = app
        .anonymous(
            "{ category(slug: \"lamps\") { products(first: 3) { edges { node { sku images } } } } }",
            json!({}),
        )
        .await;
    let lamps = nodes(&res["data"]["category"]["products"]);
    assert_eq!(lamps.len(), 3, "{res}");
    let sku = lamps[0]["sku"].as_str().unwrap();
    assert!(sku.starts_with("LAMP-"));
    assert_eq!(
        lamps[0]["images"][0],
        format!("https://picsum.photos/seed/{sku}/400")
    );
}

#[tokio::test]
async fn two_replicas_seeding_at_once_insert_the_catalogue_once() {
    let url = test_config().service.expose_database_url().to_string();
    let a: Arc<dyn CatalogStore> = Arc::new(PgCatalogStore::connect(&url, 2).await.unwrap());
    let b: Arc<dyn CatalogStore> = Arc::new(PgCatalogStore::connect(&url, 2).await.unwrap());
    let (x, y) = tokio::join!(seed_if_empty(a.as_ref()), seed_if_empty(b.as_ref()));
    let inserted: u64 = [x.unwrap(), y.unwrap()]
        .into_iter()
        .flatten()
        .map(|o| o.products)
        .sum();
    let count = a.count_products().await.unwrap();
    assert_eq!(inserted, count);
    assert_eq!(count, products::seed::demo_catalogue().1.len() as u64);
}
