//! One contract for [`CatalogStore`], run against PostgreSQL always and against
//! MongoDB when `MONGODB_URL` is set (each test on a fresh database). Without
//! `MONGODB_URL` the MongoDB variants print a note and pass.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use platform::pagination::PageRequest;
use platform::{Currency, Money};
use products::domain::{
    now, Attribute, Category, Product, ProductChanges, ProductCursor, ProductFilter,
    ProductFilterDraft, ProductListing, ProductPatch, ProductSort, StockLevel,
};
use products::store::mongo::MongoCatalogStore;
use products::store::postgres::PgCatalogStore;
use products::store::{CatalogStore, StockChange};
use testkit::fresh_database_url;
use uuid::Uuid;

type Store = Arc<dyn CatalogStore>;

async fn postgres_store() -> Store {
    Arc::new(
        PgCatalogStore::connect(&fresh_database_url("products"), 3)
            .await
            .expect("postgres store"),
    )
}

async fn mongo_store() -> Option<Store> {
    let url = std::env::var("MONGODB_URL").ok()?;
    let database = format!("t_products_{}", Uuid::now_v7().simple());
    Some(Arc::new(
        MongoCatalogStore::connect(&url, &database)
            .await
            .expect("mongodb store"),
    ))
}

/// Declares each contract function as a PostgreSQL test and a MongoDB test.
macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::postgres_store().await).await;
                }
            )*
        }
        mod mongodb {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = super::mongo_store().await else {
                        eprintln!("skipped: set MONGODB_URL to run the store contract on MongoDB");
                        return;
                    };
                    super::$name(store).await;
                }
            )*
        }
    };
}

contract_tests!(
    created_products_and_categories_read_back_unchanged,
    a_duplicate_sku_or_slug_is_a_conflict,
    listings_filter_by_category_price_and_stock,
    every_sort_orders_the_whole_catalogue,
    paging_visits_every_product_exactly_once,
    search_finds_words_in_names_and_descriptions,
    stock_can_be_set_but_never_below_what_is_reserved,
    archived_products_leave_listings_but_resolve_by_id,
    updates_change_only_the_given_fields,
    inserting_missing_rows_is_idempotent,
    the_newest_products_of_many_categories_come_in_one_call,
);

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

struct Fixture {
    lamps: Category,
    mugs: Category,
    products: Vec<Product>,
}

/// Two categories and twelve products with shared prices, names and creation
/// times, so every sort has ties broken by id.
async fn fixture(store: &Store) -> Fixture {
    let t = now();
    let lamps = category("lamps", t);
    let mugs = category("mugs", t);
    store.insert_category(&lamps).await.unwrap();
    store.insert_category(&mugs).await.unwrap();
    let specs: [(&str, &str, i64, bool, i32, i64); 12] = [
        ("LAMP-0001", "Oak Desk Lamp", 4999, true, 5, 0),
        ("LAMP-0002", "Brass Floor Lamp", 12999, true, 0, 1),
        ("LAMP-0003", "Paper Pendant", 2999, true, 3, 1),
        ("LAMP-0004", "Oak Desk Lamp", 4999, true, 1, 2),
        ("LAMP-0005", "anglepoise lamp", 8999, true, 0, 3),
        ("LAMP-0006", "Zinc Wall Light", 2999, true, 7, 3),
        ("MUG-0001", "Stoneware Mug", 1299, false, 20, 4),
        ("MUG-0002", "Espresso Cup", 899, false, 0, 5),
        ("MUG-0003", "Travel Tumbler", 2499, false, 8, 5),
        ("MUG-0004", "Stoneware Mug", 1299, false, 2, 6),
        ("MUG-0005", "Enamel Camp Mug", 1599, false, 4, 7),
        ("MUG-0006", "Glass Tea Cup", 1099, false, 9, 7),
    ];
    let mut products = Vec::new();
    for (sku, name, amount, is_lamp, stock, minutes) in specs {
        let c = if is_lamp { &lamps } else { &mugs };
        let p = product(
            sku,
            name,
            amount,
            c,
            stock,
            t - Duration::minutes(10 - minutes),
        );
        store.insert_product(&p).await.unwrap();
        products.push(p);
    }
    Fixture {
        lamps,
        mugs,
        products,
    }
}

fn listing(
    filter: ProductFilter,
    sort: ProductSort,
    first: usize,
    after: Option<ProductCursor>,
) -> ProductListing {
    ProductListing::new(filter, sort, &PageRequest { first, after }).unwrap()
}

fn filter(draft: ProductFilterDraft) -> ProductFilter {
    ProductFilter::parse(draft).unwrap()
}

/// Lists everything matching `f` in one big page.
async fn list_all(store: &Store, f: ProductFilter, sort: ProductSort) -> Vec<Product> {
    store
        .list_products(&listing(f, sort, 100, None))
        .await
        .unwrap()
}

fn skus(products: &[Product]) -> Vec<&str> {
    products.iter().map(|p| p.sku.as_str()).collect()
}

fn sorted_skus(mut products: Vec<&Product>) -> Vec<String> {
    products.sort_by(|a, b| a.sku.cmp(&b.sku));
    products.iter().map(|p| p.sku.clone()).collect()
}

fn as_set(products: &[Product]) -> Vec<String> {
    sorted_skus(products.iter().collect())
}

/// The expected order of `products` under `sort`, computed in Rust.
fn expected_order(products: &[Product], sort: ProductSort) -> Vec<String> {
    let mut v: Vec<&Product> = products.iter().collect();
    v.sort_by(|a, b| match sort {
        ProductSort::Newest => (b.created_at, b.id).cmp(&(a.created_at, a.id)),
        ProductSort::PriceAsc => (a.price.amount, a.id).cmp(&(b.price.amount, b.id)),
        ProductSort::PriceDesc => (b.price.amount, b.id).cmp(&(a.price.amount, a.id)),
        ProductSort::NameAsc => (a.name.as_bytes(), a.id).cmp(&(b.name.as_bytes(), b.id)),
    });
    v.iter().map(|p| p.sku.clone()).collect()
}

const SORTS: [ProductSort; 4] = [
    ProductSort::Newest,
    ProductSort::PriceAsc,
    ProductSort::PriceDesc,
    ProductSort::NameAsc,
];

async fn created_products_and_categories_read_back_unchanged(store: Store) {
    let f = fixture(&store).await;
    let first = &f.products[0];
    let read = store.products_by_ids(&[first.id]).await.unwrap();
    assert_eq!(read, vec![first.clone()]);
    assert_eq!(read[0].available_quantity(), 5);

    let ids: Vec<Uuid> = f
        .products
        .iter()
        .map(|p| p.id)
        .chain([Uuid::now_v7()])
        .collect();
    assert_eq!(store.products_by_ids(&ids).await.unwrap().len(), 12);

    let cats = store
        .categories_by_ids(&[f.lamps.id, f.mugs.id, Uuid::now_v7()])
        .await
        .unwrap();
    assert_eq!(cats.len(), 2);
    assert_eq!(
        store.category_by_slug("mugs").await.unwrap(),
        Some(f.mugs.clone())
    );
    assert_eq!(store.category_by_slug("chairs").await.unwrap(), None);
    let all = store.list_categories().await.unwrap();
    assert_eq!(all, vec![f.lamps.clone(), f.mugs.clone()], "by name");
    assert_eq!(store.count_products().await.unwrap(), 12);

    let orphan = product(
        "ORPHAN-1",
        "Orphan",
        100,
        &category("none", now()),
        1,
        now(),
    );
    let err = store.insert_product(&orphan).await.unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND", "{err}");
}

async fn a_duplicate_sku_or_slug_is_a_conflict(store: Store) {
    let f = fixture(&store).await;
    let copy = product("LAMP-0001", "Another Lamp", 100, &f.lamps, 1, now());
    let err = store.insert_product(&copy).await.unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
    assert!(err.to_string().contains("LAMP-0001"), "{err}");

    let err = store
        .insert_category(&category("lamps", now()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CONFLICT");

    let rename = ProductChanges::parse(ProductPatch {
        sku: Some("LAMP-0002".into()),
        ..Default::default()
    })
    .unwrap();
    let err = store
        .update_product(f.products[0].id, &rename, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
}

async fn listings_filter_by_category_price_and_stock(store: Store) {
    let f = fixture(&store).await;
    let all = &f.products;
    let check = |draft: ProductFilterDraft, keep: &dyn Fn(&Product) -> bool| {
        let expected = sorted_skus(all.iter().filter(|p| keep(p)).collect());
        (filter(draft), expected)
    };
    let cases = vec![
        check(
            ProductFilterDraft {
                category_id: Some(f.mugs.id.to_string()),
                ..Default::default()
            },
            &|p| p.category_id == f.mugs.id,
        ),
        check(
            ProductFilterDraft {
                min_price: Some(2999),
                ..Default::default()
            },
            &|p| p.price.amount >= 2999,
        ),
        check(
            ProductFilterDraft {
                max_price: Some(1299),
                ..Default::default()
            },
            &|p| p.price.amount <= 1299,
        ),
        check(
            ProductFilterDraft {
                min_price: Some(1000),
                max_price: Some(5000),
                category_id: Some(f.lamps.id.to_string()),
                ..Default::default()
            },
            &|p| (1000..=5000).contains(&p.price.amount) && p.category_id == f.lamps.id,
        ),
        check(
            ProductFilterDraft {
                in_stock: Some(true),
                ..Default::default()
            },
            &|p| p.available_quantity() > 0,
        ),
        check(
            ProductFilterDraft {
                in_stock: Some(false),
                ..Default::default()
            },
            &|p| p.available_quantity() == 0,
        ),
        check(ProductFilterDraft::default(), &|_| true),
    ];
    for (i, (f, expected)) in cases.into_iter().enumerate() {
        let got = list_all(&store, f, ProductSort::Newest).await;
        assert_eq!(as_set(&got), expected, "case {i}");
    }
}

async fn every_sort_orders_the_whole_catalogue(store: Store) {
    let f = fixture(&store).await;
    for sort in SORTS {
        let got = list_all(&store, ProductFilter::default(), sort).await;
        assert_eq!(skus(&got), expected_order(&f.products, sort), "{sort:?}");
    }
}

async fn paging_visits_every_product_exactly_once(store: Store) {
    let f = fixture(&store).await;
    for sort in SORTS {
        for page_size in [1, 5] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let rows = store
                    .list_products(&listing(
                        ProductFilter::default(),
                        sort,
                        page_size,
                        after.clone(),
                    ))
                    .await
                    .unwrap();
                assert!(rows.len() <= page_size + 1);
                let has_next = rows.len() > page_size;
                let page: Vec<Product> = rows.into_iter().take(page_size).collect();
                after = page.last().map(|p| sort.cursor_of(p));
                seen.extend(page.into_iter().map(|p| p.sku));
                if !has_next {
                    break;
                }
            }
            assert_eq!(
                seen,
                expected_order(&f.products, sort),
                "{sort:?} by {page_size}"
            );
            let unique: HashSet<&String> = seen.iter().collect();
            assert_eq!(unique.len(), f.products.len());
        }
    }
    // Paging within a filter too.
    let mugs = filter(ProductFilterDraft {
        category_id: Some(f.mugs.id.to_string()),
        ..Default::default()
    });
    let first = store
        .list_products(&listing(mugs.clone(), ProductSort::PriceAsc, 2, None))
        .await
        .unwrap();
    let after = ProductSort::PriceAsc.cursor_of(&first[1]);
    let rest = store
        .list_products(&listing(mugs, ProductSort::PriceAsc, 10, Some(after)))
        .await
        .unwrap();
    assert_eq!(first.len() - 1 + rest.len(), 6);
}

async fn search_finds_words_in_names_and_descriptions(store: Store) {
    let _f = fixture(&store).await;
    let search = |s: &str| {
        filter(ProductFilterDraft {
            search: Some(s.into()),
            ..Default::default()
        })
    };
    let got = list_all(&store, search("stoneware"), ProductSort::NameAsc).await;
    assert_eq!(skus(&got).len(), 2);
    assert!(got.iter().all(|p| p.name == "Stoneware Mug"));
    // Stemming: "lamps" finds "Lamp"; descriptions are searched too ("everyday").
    let lamps = list_all(&store, search("lamps"), ProductSort::Newest).await;
    assert_eq!(lamps.len(), 4, "{:?}", skus(&lamps));
    let everyday = list_all(&store, search("everyday"), ProductSort::Newest).await;
    assert_eq!(everyday.len(), 12);
    let none = list_all(&store, search("submarine"), ProductSort::Newest).await;
    assert!(none.is_empty());
    // Search combines with other filters.
    let cheap = filter(ProductFilterDraft {
        search: Some("mug".into()),
        max_price: Some(1299),
        ..Default::default()
    });
    let got = list_all(&store, cheap, ProductSort::PriceAsc).await;
    assert_eq!(got.len(), 2, "{:?}", skus(&got));
}

async fn stock_can_be_set_but_never_below_what_is_reserved(store: Store) {
    let f = fixture(&store).await;
    let mut reserved = product("RES-0001", "Reserved Lamp", 1000, &f.lamps, 10, now());
    reserved.reserved = 4;
    store.insert_product(&reserved).await.unwrap();
    assert_eq!(reserved.available_quantity(), 6);

    let updated = store
        .change_stock(
            reserved.id,
            StockChange::set_to(StockLevel::parse(7).unwrap()),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.stock_on_hand, updated.available_quantity()),
        (7, 3)
    );
    let at_reserved = store
        .change_stock(
            reserved.id,
            StockChange::set_to(StockLevel::parse(4).unwrap()),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(at_reserved.available_quantity(), 0);
    let err = store
        .change_stock(
            reserved.id,
            StockChange::set_to(StockLevel::parse(3).unwrap()),
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
    let read = store.products_by_ids(&[reserved.id]).await.unwrap();
    assert_eq!(read[0].stock_on_hand, 4, "a refused change changes nothing");

    let err = store
        .change_stock(
            Uuid::now_v7(),
            StockChange::set_to(StockLevel::parse(1).unwrap()),
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");

    // A sold-out product becomes available.
    let sold_out = &f.products[1];
    assert_eq!(sold_out.available_quantity(), 0);
    let restocked = store
        .change_stock(
            sold_out.id,
            StockChange::set_to(StockLevel::parse(2).unwrap()),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(restocked.available_quantity(), 2);
}

async fn archived_products_leave_listings_but_resolve_by_id(store: Store) {
    let f = fixture(&store).await;
    let target = &f.products[0];
    let archived = store.archive_product(target.id, now()).await.unwrap();
    assert!(archived.archived);
    let listed = list_all(&store, ProductFilter::default(), ProductSort::Newest).await;
    assert_eq!(listed.len(), 11);
    assert!(listed.iter().all(|p| p.id != target.id));
    let by_id = store.products_by_ids(&[target.id]).await.unwrap();
    assert!(by_id[0].archived);

    let err = store.archive_product(target.id, now()).await.unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
    let err = store
        .archive_product(Uuid::now_v7(), now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
}

async fn updates_change_only_the_given_fields(store: Store) {
    let f = fixture(&store).await;
    let before = f.products[0].clone();
    let later = now() + Duration::seconds(5);
    let changes = ProductChanges::parse(ProductPatch {
        name: Some("Renamed Lamp".into()),
        price: Some((5999, "EUR".into())),
        category_id: Some(f.mugs.id.to_string()),
        attributes: Some(vec![Attribute {
            name: "colour".into(),
            value: "red".into(),
        }]),
        ..Default::default()
    })
    .unwrap();
    let after = store
        .update_product(before.id, &changes, later)
        .await
        .unwrap();
    let mut expected = before.clone();
    changes.apply_to(&mut expected, later);
    assert_eq!(after, expected);
    assert_eq!(
        store.products_by_ids(&[before.id]).await.unwrap(),
        vec![expected]
    );

    let err = store
        .update_product(Uuid::now_v7(), &changes, later)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
    let bad_category = ProductChanges::parse(ProductPatch {
        category_id: Some(Uuid::now_v7().to_string()),
        ..Default::default()
    })
    .unwrap();
    let err = store
        .update_product(before.id, &bad_category, later)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
}

async fn inserting_missing_rows_is_idempotent(store: Store) {
    let t = now();
    let lamps = category("lamps", t);
    let products: Vec<Product> = (1..=30)
        .map(|i| {
            product(
                &format!("SEED-{i:04}"),
                "Seeded Lamp",
                100 * i,
                &lamps,
                1,
                t,
            )
        })
        .collect();
    let first = store
        .insert_missing(std::slice::from_ref(&lamps), &products)
        .await
        .unwrap();
    assert_eq!((first.categories, first.products), (1, 30));
    let again = store
        .insert_missing(std::slice::from_ref(&lamps), &products)
        .await
        .unwrap();
    assert_eq!((again.categories, again.products), (0, 0));
    assert_eq!(store.count_products().await.unwrap(), 30);
}

async fn the_newest_products_of_many_categories_come_in_one_call(store: Store) {
    let f = fixture(&store).await;
    store
        .archive_product(f.products[6].id, now())
        .await
        .unwrap();
    let empty = category("empty", now());
    store.insert_category(&empty).await.unwrap();
    let got = store
        .newest_products_by_category(&[f.lamps.id, f.mugs.id, empty.id], 3)
        .await
        .unwrap();
    let of = |c: &Category| -> Vec<String> {
        got.iter()
            .filter(|p| p.category_id == c.id)
            .map(|p| p.sku.clone())
            .collect()
    };
    let newest = |c: &Category| -> Vec<String> {
        let listed: Vec<Product> = f
            .products
            .iter()
            .filter(|p| p.category_id == c.id && p.sku != "MUG-0001")
            .cloned()
            .collect();
        expected_order(&listed, ProductSort::Newest)
            .into_iter()
            .take(3)
            .collect()
    };
    assert_eq!(of(&f.lamps), newest(&f.lamps));
    assert_eq!(of(&f.mugs), newest(&f.mugs), "archived MUG-0001 left out");
    assert!(of(&empty).is_empty());
}

/// The stock ledger of the order saga (the PostgreSQL reference semantics),
/// run against both stores like the catalogue contract above.
mod ledger {
    use std::sync::Arc;
    use std::time::Duration as StdDuration;

    use chrono::Duration;
    use events::catalogue::{
        OrderCancelled, OrderLine, OrderPaid, OrderPlaced, RejectedLine, ReleaseReason,
        StockRejected, StockReleased, StockReserved,
    };
    use events::consumer::HandlerError;
    use events::outbox::Settlement;
    use events::{Envelope, Event, EventMeta, RawEnvelope};
    use platform::{Currency, Money};
    use products::domain::now;
    use products::store::mongo::MongoCatalogStore;
    use products::store::postgres::PgCatalogStore;
    use products::store::{Applied, CatalogStore, StockLedger};
    use testkit::fresh_database_url;
    use uuid::Uuid;

    struct Stores {
        catalog: Arc<dyn CatalogStore>,
        ledger: Arc<dyn StockLedger>,
    }

    async fn postgres() -> Stores {
        let store = Arc::new(
            PgCatalogStore::connect(&fresh_database_url("products"), 3)
                .await
                .expect("postgres store"),
        );
        Stores {
            catalog: store.clone(),
            ledger: store,
        }
    }

    async fn mongodb() -> Option<Stores> {
        let url = std::env::var("MONGODB_URL").ok()?;
        let database = format!("t_products_{}", Uuid::now_v7().simple());
        let store = Arc::new(
            MongoCatalogStore::connect(&url, &database)
                .await
                .expect("mongodb store"),
        );
        Some(Stores {
            catalog: store.clone(),
            ledger: store,
        })
    }

    macro_rules! ledger_tests {
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
                        let Some(stores) = super::mongodb().await else {
                            eprintln!("skipped: set MONGODB_URL to run the ledger contract on MongoDB");
                            return;
                        };
                        super::$name(stores).await;
                    }
                )*
            }
        };
    }

    ledger_tests!(
        orders_are_reserved_all_or_nothing_and_each_event_applies_once,
        payment_sells_cancellation_restocks_and_lapsed_reservations_are_released,
        saga_events_in_any_order_never_sell_the_stock_of_a_cancelled_order,
    );

    const TTL: i64 = 900;

    /// Two products: A (5 in stock at 49.99) and B (1 in stock at 12.99).
    async fn two_products(stores: &Stores) -> (Uuid, Uuid) {
        let t = now();
        let lamps = super::category("lamps", t);
        stores.catalog.insert_category(&lamps).await.unwrap();
        let a = super::product("LAMP-0001", "Oak Desk Lamp", 4999, &lamps, 5, t);
        let b = super::product("LAMP-0002", "Paper Pendant", 1299, &lamps, 1, t);
        stores.catalog.insert_product(&a).await.unwrap();
        stores.catalog.insert_product(&b).await.unwrap();
        (a.id, b.id)
    }

    fn line(product_id: Uuid, quantity: i64) -> OrderLine {
        OrderLine {
            product_id,
            quantity,
        }
    }

    fn placed(items: Vec<OrderLine>) -> Envelope<OrderPlaced> {
        Envelope::new(
            "orders",
            OrderPlaced {
                order_id: Uuid::now_v7(),
                user_id: Uuid::now_v7(),
                items,
                currency: "EUR".into(),
            },
            EventMeta {
                correlation_id: Some(format!("c-{}", Uuid::now_v7())),
                causation_id: None,
                traceparent: None,
            },
        )
    }

    fn paid(order_id: Uuid) -> Envelope<OrderPaid> {
        Envelope::new(
            "orders",
            OrderPaid {
                order_id,
                payment_id: Uuid::now_v7(),
            },
            EventMeta::default(),
        )
    }

    fn cancelled(order_id: Uuid, restock: bool) -> Envelope<OrderCancelled> {
        Envelope::new(
            "orders",
            OrderCancelled {
                order_id,
                reason: "test".into(),
                refund: restock,
                restock,
                items: Vec::new(),
            },
            EventMeta::default(),
        )
    }

    /// `(stock on hand, reserved)` of a product.
    async fn stock(stores: &Stores, id: Uuid) -> (i32, i32) {
        let found = stores.catalog.products_by_ids(&[id]).await.unwrap();
        (found[0].stock_on_hand, found[0].reserved)
    }

    /// Claims every pending event, marks them published and returns them.
    async fn publish(stores: &Stores) -> Vec<RawEnvelope> {
        let outbox = stores.ledger.outbox();
        let claim = outbox.claim(100, StdDuration::from_secs(30)).await.unwrap();
        let events = claim.events().to_vec();
        let mut settlement = Settlement::default();
        for event in &events {
            settlement.published(event.id);
        }
        claim.settle(settlement).await.unwrap();
        events
    }

    fn only<P: Event>(events: &[RawEnvelope]) -> Envelope<P> {
        assert_eq!(events.len(), 1, "{events:?}");
        events[0].decode::<P>().unwrap()
    }

    async fn orders_are_reserved_all_or_nothing_and_each_event_applies_once(stores: Stores) {
        let (a, b) = two_products(&stores).await;
        let ledger = &stores.ledger;
        let ttl = Duration::seconds(TTL);

        // Lines of one product are merged; the event is applied once.
        let first = placed(vec![line(a, 2), line(b, 1), line(a, 1)]);
        assert_eq!(ledger.reserve(&first, ttl).await.unwrap(), Applied::Done);
        assert_eq!(
            ledger.reserve(&first, ttl).await.unwrap(),
            Applied::Duplicate
        );
        assert_eq!(stock(&stores, a).await, (5, 3));
        assert_eq!(stock(&stores, b).await, (1, 1));
        let reserved = only::<StockReserved>(&publish(&stores).await);
        assert_eq!(reserved.payload.order_id, first.payload.order_id);
        assert_eq!(reserved.source, "products");
        assert_eq!(reserved.causation_id, Some(first.id));
        assert_eq!(reserved.correlation_id, first.correlation_id);
        let lines: Vec<(Uuid, i64, Money)> = reserved
            .payload
            .lines
            .iter()
            .map(|l| (l.product_id, l.quantity, l.unit_price))
            .collect();
        let mut expected = vec![
            (a, 3, Money::new(4999, Currency::EUR)),
            (b, 1, Money::new(1299, Currency::EUR)),
        ];
        expected.sort_by_key(|l| l.0);
        assert_eq!(lines, expected);
        assert!(reserved.payload.expires_at > chrono::Utc::now() + Duration::seconds(TTL - 60));

        // B is gone: nothing of the second order is reserved, A included.
        let second = placed(vec![line(a, 1), line(b, 1)]);
        assert_eq!(ledger.reserve(&second, ttl).await.unwrap(), Applied::Done);
        assert_eq!(stock(&stores, a).await, (5, 3));
        assert_eq!(stock(&stores, b).await, (1, 1));
        let rejected = only::<StockRejected>(&publish(&stores).await);
        assert_eq!(
            rejected.payload,
            StockRejected {
                order_id: second.payload.order_id,
                lines: vec![RejectedLine {
                    product_id: b,
                    requested: 1,
                    available: 0
                }],
            }
        );
        assert_eq!(
            ledger.reserve(&second, ttl).await.unwrap(),
            Applied::Duplicate
        );
        assert!(publish(&stores).await.is_empty());

        // Cancelling releases what the first order held.
        let cancel = cancelled(first.payload.order_id, false);
        assert_eq!(ledger.cancel(&cancel).await.unwrap(), Applied::Done);
        assert_eq!(ledger.cancel(&cancel).await.unwrap(), Applied::Duplicate);
        assert_eq!(stock(&stores, a).await, (5, 0));
        assert_eq!(stock(&stores, b).await, (1, 0));
        let released = only::<StockReleased>(&publish(&stores).await);
        assert_eq!(released.payload.reason, ReleaseReason::Cancelled);
        assert_eq!(released.causation_id, Some(cancel.id));

        // Cancelled before it was placed here: the late order.placed holds nothing.
        let late = placed(vec![line(a, 1)]);
        let early_cancel = cancelled(late.payload.order_id, false);
        assert_eq!(ledger.cancel(&early_cancel).await.unwrap(), Applied::Done);
        assert_eq!(ledger.reserve(&late, ttl).await.unwrap(), Applied::Done);
        assert_eq!(stock(&stores, a).await, (5, 0));
        assert!(publish(&stores).await.is_empty());

        // An unknown product is short too, with nothing available.
        let ghost = Uuid::now_v7();
        let unknown = placed(vec![line(ghost, 1)]);
        assert_eq!(ledger.reserve(&unknown, ttl).await.unwrap(), Applied::Done);
        let rejected = only::<StockRejected>(&publish(&stores).await);
        assert_eq!(rejected.payload.lines[0].available, 0);

        // Invalid lines are a permanent error, and are not recorded as applied.
        let empty = placed(Vec::new());
        let err = ledger.reserve(&empty, ttl).await.unwrap_err();
        assert!(matches!(err, HandlerError::Permanent(_)), "{err}");
        assert!(ledger.reserve(&empty, ttl).await.is_err());
    }

    async fn payment_sells_cancellation_restocks_and_lapsed_reservations_are_released(
        stores: Stores,
    ) {
        let (a, _) = two_products(&stores).await;
        let ledger = &stores.ledger;
        let outbox = ledger.outbox();

        // Paid: the held units are sold; cancelled after payment: restocked.
        let order = placed(vec![line(a, 2)]);
        ledger
            .reserve(&order, Duration::seconds(TTL))
            .await
            .unwrap();
        let pay = paid(order.payload.order_id);
        assert_eq!(ledger.commit(&pay).await.unwrap(), Applied::Done);
        assert_eq!(ledger.commit(&pay).await.unwrap(), Applied::Duplicate);
        assert_eq!(stock(&stores, a).await, (3, 0));
        let refund = cancelled(order.payload.order_id, true);
        assert_eq!(ledger.cancel(&refund).await.unwrap(), Applied::Done);
        assert_eq!(stock(&stores, a).await, (5, 0));
        only::<StockReserved>(&publish(&stores).await);

        // A failed publish gives the event back for the next claim.
        let lapsing = placed(vec![line(a, 4)]);
        ledger
            .reserve(&lapsing, Duration::seconds(-1))
            .await
            .unwrap();
        let claimed = outbox.claim(100, StdDuration::from_secs(30)).await.unwrap();
        assert_eq!(claimed.events().len(), 1);
        let again = outbox.claim(100, StdDuration::from_secs(30)).await.unwrap();
        assert!(
            again.events().is_empty(),
            "a claimed event is not claimed twice"
        );
        again.settle(Settlement::default()).await.unwrap();
        let mut failed = Settlement::default();
        failed.release(claimed.events()[0].id, "broker down");
        claimed.settle(failed).await.unwrap();
        only::<StockReserved>(&publish(&stores).await);

        // Past its expiry the reservation is released, once.
        assert_eq!(stock(&stores, a).await, (5, 4));
        assert_eq!(ledger.expire_due(100).await.unwrap(), 1);
        assert_eq!(ledger.expire_due(100).await.unwrap(), 0);
        assert_eq!(stock(&stores, a).await, (5, 0));
        let expired = only::<StockReleased>(&publish(&stores).await);
        assert_eq!(expired.payload.order_id, lapsing.payload.order_id);
        assert_eq!(expired.payload.reason, ReleaseReason::Expired);

        // Paid after it lapsed: sold from what is available, if there is enough.
        let late_pay = paid(lapsing.payload.order_id);
        assert_eq!(ledger.commit(&late_pay).await.unwrap(), Applied::Done);
        assert_eq!(stock(&stores, a).await, (1, 0));
        assert!(publish(&stores).await.is_empty());

        let short = placed(vec![line(a, 1)]);
        ledger.reserve(&short, Duration::seconds(-1)).await.unwrap();
        assert_eq!(ledger.expire_due(100).await.unwrap(), 1);
        let other = placed(vec![line(a, 1)]);
        ledger
            .reserve(&other, Duration::seconds(TTL))
            .await
            .unwrap();
        publish(&stores).await;
        assert_eq!(
            ledger.commit(&paid(short.payload.order_id)).await.unwrap(),
            Applied::Done
        );
        assert_eq!(stock(&stores, a).await, (1, 1), "nothing sold");
        let rejected = only::<StockRejected>(&publish(&stores).await);
        assert_eq!(
            rejected.payload.lines,
            vec![RejectedLine {
                product_id: a,
                requested: 1,
                available: 0
            }]
        );

        // A payment for an order not reserved here yet waits for the reservation.
        let err = ledger.commit(&paid(Uuid::now_v7())).await.unwrap_err();
        assert!(matches!(err, HandlerError::Transient(_)), "{err}");

        // Published events are pruned once old enough.
        assert!(outbox.prune(StdDuration::from_secs(3600)).await.unwrap() == 0);
        assert!(outbox.prune(StdDuration::ZERO).await.unwrap() > 0);
    }

    async fn saga_events_in_any_order_never_sell_the_stock_of_a_cancelled_order(stores: Stores) {
        let (a, _) = two_products(&stores).await;
        let ledger = &stores.ledger;
        let ttl = Duration::seconds(TTL);

        // The cancellation of a paid order overtakes order.paid: the hold is
        // released, and the late payment sells nothing.
        let overtaken = placed(vec![line(a, 2)]);
        let id = overtaken.payload.order_id;
        ledger.reserve(&overtaken, ttl).await.unwrap();
        assert_eq!(stock(&stores, a).await, (5, 2));
        ledger.cancel(&cancelled(id, true)).await.unwrap();
        assert_eq!(stock(&stores, a).await, (5, 0));
        assert_eq!(ledger.commit(&paid(id)).await.unwrap(), Applied::Done);
        assert_eq!(stock(&stores, a).await, (5, 0), "nothing sold");

        // The hold lapsed, the paid order is cancelled, then the payment lands.
        let lapsed = placed(vec![line(a, 1)]);
        let id = lapsed.payload.order_id;
        ledger
            .reserve(&lapsed, Duration::seconds(-1))
            .await
            .unwrap();
        assert_eq!(ledger.expire_due(100).await.unwrap(), 1);
        ledger.cancel(&cancelled(id, true)).await.unwrap();
        ledger.commit(&paid(id)).await.unwrap();
        assert_eq!(stock(&stores, a).await, (5, 0), "nothing sold");

        // Paid before it was placed here: applied once the reservation exists.
        let early = placed(vec![line(a, 1)]);
        let pay = paid(early.payload.order_id);
        assert!(matches!(
            ledger.commit(&pay).await.unwrap_err(),
            HandlerError::Transient(_)
        ));
        ledger.reserve(&early, ttl).await.unwrap();
        assert_eq!(ledger.commit(&pay).await.unwrap(), Applied::Done);
        assert_eq!(stock(&stores, a).await, (4, 0), "sold once placed");
        ledger
            .cancel(&cancelled(early.payload.order_id, true))
            .await
            .unwrap();
        assert_eq!(stock(&stores, a).await, (5, 0), "restocked");

        // Cancelled first, then paid, then placed: nothing held, nothing sold.
        let late = placed(vec![line(a, 3)]);
        let id = late.payload.order_id;
        ledger.cancel(&cancelled(id, true)).await.unwrap();
        ledger.commit(&paid(id)).await.unwrap();
        ledger.reserve(&late, ttl).await.unwrap();
        assert_eq!(stock(&stores, a).await, (5, 0));
    }
}
