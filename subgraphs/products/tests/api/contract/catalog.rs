//! The catalogue's contract: what every `CatalogStore` does.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use platform::pagination::PageRequest;
use products::domain::{
    now, Attribute, Category, Product, ProductChanges, ProductCursor, ProductFilter,
    ProductFilterDraft, ProductListing, ProductPatch, ProductSort, StockLevel,
};
use products::store::postgres::PgCatalogStore;
use products::store::{CatalogStore, StockChange};
use testkit::fresh_database_url;
use uuid::Uuid;

use super::{category, mongo_database, product};

type Store = Arc<dyn CatalogStore>;

async fn postgres() -> Store {
    Arc::new(
        PgCatalogStore::connect(&fresh_database_url("products"), 3)
            .await
            .expect("postgres store"),
    )
}

async fn mongodb() -> Option<Store> {
    let url = std::env::var("MONGODB_URL").ok()?;
    let (catalog, _) = products::store::mongo::connect(&url, &mongo_database())
        .await
        .expect("mongodb store");
    Some(Arc::new(catalog))
}

on_both_stores!(
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
