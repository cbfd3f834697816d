//! Shoppers browsing the catalogue through GraphQL: by category page by page,
//! searching, filtering by price and stock, and sorting.

use serde_json::json;
use testkit::first_error_code;

use crate::helpers::{field, nodes, product_input, spawn_app, TestApp};

const LIST: &str = "query($filter: ProductFilter, $sort: ProductSort, $first: Int, $after: String) {
  products(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { cursor node { id sku name price { amount currency } availableQuantity category { slug } } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}";

/// Lists products anonymously; the connection, or a panic showing the errors.
async fn list(app: &TestApp, variables: serde_json::Value) -> serde_json::Value {
    let res = app.anonymous(LIST, variables).await;
    assert!(res["errors"].is_null(), "{res}");
    res["data"]["products"].clone()
}

/// A small shop: lamps (5) and mugs (3) with distinct prices and some sold out.
async fn shop() -> (TestApp, String, String) {
    let app = spawn_app().await;
    let lamps = app.create_category("lamps").await;
    let mugs = app.create_category("mugs").await;
    let items = [
        ("LAMP-0001", "Oak Desk Lamp", 4999, &lamps, 5),
        ("LAMP-0002", "Brass Floor Lamp", 12999, &lamps, 0),
        ("LAMP-0003", "Paper Pendant Lamp", 2999, &lamps, 3),
        ("LAMP-0004", "Arc Floor Lamp", 15999, &lamps, 1),
        ("LAMP-0005", "Clip Reading Light", 1999, &lamps, 0),
        ("MUG-0001", "Stoneware Mug", 1299, &mugs, 20),
        ("MUG-0002", "Espresso Cup", 899, &mugs, 0),
        ("MUG-0003", "Travel Tumbler", 2499, &mugs, 8),
    ];
    for (sku, name, amount, category, stock) in items {
        app.create_product(product_input(sku, name, amount, category, stock))
            .await;
    }
    (app, lamps, mugs)
}

#[tokio::test]
async fn a_shopper_browses_a_category_page_by_page() {
    let (app, lamps, _) = shop().await;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let res = app
            .anonymous(
                LIST,
                json!({"filter": {"categoryId": lamps}, "first": 2, "after": after}),
            )
            .await;
        let conn = &res["data"]["products"];
        let page = nodes(conn);
        assert!(page.len() <= 2, "{res}");
        assert!(page.iter().all(|n| n["category"]["slug"] == "lamps"));
        seen.extend(field(&page, "sku"));
        pages += 1;
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], json!(after.is_some()));
        if conn["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(pages, 3);
    // Newest first by default.
    assert_eq!(
        seen,
        [
            "LAMP-0005",
            "LAMP-0004",
            "LAMP-0003",
            "LAMP-0002",
            "LAMP-0001"
        ]
    );

    // The same through the category itself.
    let res = app
        .anonymous(
            "query($slug: String) { category(slug: $slug) { name products(first: 10) { edges { node { sku } } } } }",
            json!({"slug": "lamps"}),
        )
        .await;
    let category = &res["data"]["category"];
    assert_eq!(category["name"], "LAMPS");
    assert_eq!(nodes(&category["products"]).len(), 5);
}

#[tokio::test]
async fn a_shopper_searches_for_products() {
    let (app, _, _) = shop().await;
    let res = app
        .anonymous(
            LIST,
            json!({"filter": {"search": "floor lamps"}, "sort": "NAME_ASC"}),
        )
        .await;
    assert_eq!(
        field(&nodes(&res["data"]["products"]), "sku"),
        ["LAMP-0004", "LAMP-0002"],
        "{res}"
    );
    let res = app
        .anonymous(LIST, json!({"filter": {"search": "mug -travel"}}))
        .await;
    assert_eq!(field(&nodes(&res["data"]["products"]), "sku"), ["MUG-0001"]);
}

#[tokio::test]
async fn a_shopper_filters_by_price_and_stock() {
    let (app, _, mugs) = shop().await;
    let res = app
        .anonymous(
            LIST,
            json!({"filter": {"minPrice": 2000, "maxPrice": 5000}, "sort": "PRICE_ASC"}),
        )
        .await;
    assert_eq!(
        field(&nodes(&res["data"]["products"]), "sku"),
        ["MUG-0003", "LAMP-0003", "LAMP-0001"]
    );
    let res = app
        .anonymous(LIST, json!({"filter": {"inStock": true}, "first": 100}))
        .await;
    let in_stock = nodes(&res["data"]["products"]);
    assert_eq!(in_stock.len(), 5);
    assert!(in_stock
        .iter()
        .all(|n| n["availableQuantity"].as_i64() > Some(0)));
    let res = app
        .anonymous(
            LIST,
            json!({"filter": {"inStock": false, "categoryId": mugs}}),
        )
        .await;
    assert_eq!(field(&nodes(&res["data"]["products"]), "sku"), ["MUG-0002"]);

    let res = app
        .anonymous(LIST, json!({"filter": {"minPrice": 10, "maxPrice": 5}}))
        .await;
    assert_eq!(first_error_code(&res).as_deref(), Some("BAD_USER_INPUT"));
    let res = app.anonymous(LIST, json!({"first": 101})).await;
    assert_eq!(first_error_code(&res).as_deref(), Some("BAD_USER_INPUT"));
    let res = app.anonymous(LIST, json!({"after": "garbage"})).await;
    assert_eq!(first_error_code(&res).as_deref(), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn a_shopper_sorts_products() {
    let (app, _, _) = shop().await;
    let skus = |sort: &'static str| {
        let app = &app;
        async move {
            let res = app.anonymous(LIST, json!({"sort": sort, "first": 3})).await;
            field(&nodes(&res["data"]["products"]), "sku")
        }
    };
    assert_eq!(skus("NEWEST").await, ["MUG-0003", "MUG-0002", "MUG-0001"]);
    assert_eq!(
        skus("PRICE_ASC").await,
        ["MUG-0002", "MUG-0001", "LAMP-0005"]
    );
    assert_eq!(
        skus("PRICE_DESC").await,
        ["LAMP-0004", "LAMP-0002", "LAMP-0001"]
    );
    assert_eq!(
        skus("NAME_ASC").await,
        ["LAMP-0004", "LAMP-0002", "LAMP-0005"]
    );

    // A cursor only continues the order it was issued for.
    let res = app
        .anonymous(LIST, json!({"sort": "PRICE_ASC", "first": 1}))
        .await;
    let cursor = res["data"]["products"]["pageInfo"]["endCursor"].clone();
    let res = app
        .anonymous(LIST, json!({"sort": "PRICE_DESC", "after": cursor}))
        .await;
    assert_eq!(first_error_code(&res).as_deref(), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn a_shopper_looks_up_products_and_categories() {
    let (app, lamps, _) = shop().await;
    let res = app.anonymous("{ categories { slug } }", json!({})).await;
    assert_eq!(
        res["data"]["categories"],
        json!([{"slug": "lamps"}, {"slug": "mugs"}])
    );
    let res = app
        .anonymous(
            "query($id: ID) { category(id: $id) { slug } }",
            json!({"id": lamps}),
        )
        .await;
    assert_eq!(res["data"]["category"]["slug"], "lamps");
    let res = app
        .anonymous("{ category(slug: \"x\", id: \"y\") { slug } }", json!({}))
        .await;
    assert_eq!(first_error_code(&res).as_deref(), Some("BAD_USER_INPUT"));

    let listed = list(&app, json!({"first": 1})).await;
    let id = nodes(&listed)[0]["id"].clone();
    let res = app
        .anonymous(
            "query($id: ID!) { product(id: $id) { sku images attributes { name value } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(res["data"]["product"]["sku"], "MUG-0003");
    assert_eq!(
        res["data"]["product"]["attributes"],
        json!([{"name": "colour", "value": "green"}])
    );
    let res = app
        .anonymous(
            "query($id: ID!) { product(id: $id) { sku } }",
            json!({"id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(res["data"]["product"], json!(null));
    let res = app
        .anonymous("{ product(id: \"42\") { sku } }", json!({}))
        .await;
    assert_eq!(first_error_code(&res).as_deref(), Some("BAD_USER_INPUT"));
}
