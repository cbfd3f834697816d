//! Administrators managing the catalogue through GraphQL, and everyone else
//! being kept out; invalid input and conflicts get precise error codes.

use products::store::StockChange;
use serde_json::{json, Value};
use testkit::first_error_code;

use crate::helpers::{product_input, spawn_app, TestApp, CREATE_PRODUCT};

const UPDATE: &str = "mutation($id: ID!, $input: UpdateProductInput!) {
  updateProduct(id: $id, input: $input) { id sku name description price { amount currency } category { slug } images attributes { name value } }
}";
const SET_STOCK: &str = "mutation($id: ID!, $q: Int!) { setStock(productId: $id, quantity: $q) { id availableQuantity } }";
const ARCHIVE: &str = "mutation($id: ID!) { archiveProduct(id: $id) { id archived } }";
const CREATE_CATEGORY: &str =
    "mutation($input: CreateCategoryInput!) { createCategory(input: $input) { id name slug description } }";

fn code(res: &Value) -> String {
    first_error_code(res).unwrap_or_else(|| format!("no error in {res}"))
}

/// Asserts that `res` is a `CONFLICT` whose message mentions `words`.
#[track_caller]
fn assert_conflict_saying(res: &Value, words: &str) {
    assert_eq!(code(res), "CONFLICT");
    let message = res["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{res}");
}

async fn app_with_product() -> (TestApp, String, String) {
    let app = spawn_app().await;
    let lamps = app.create_category("lamps").await;
    let id = app
        .create_product(product_input("LAMP-0001", "Oak Desk Lamp", 4999, &lamps, 5))
        .await;
    (app, lamps, id)
}

#[tokio::test]
async fn an_admin_builds_and_maintains_the_catalogue() {
    let app = spawn_app().await;
    let res = app
        .as_admin(
            CREATE_CATEGORY,
            json!({"input": {"name": "Desk Lamps", "slug": "desk-lamps", "description": "Lamps for desks."}}),
        )
        .await;
    let category = &res["data"]["createCategory"];
    assert_eq!(category["slug"], "desk-lamps", "{res}");
    let category_id = category["id"].as_str().unwrap().to_string();

    let res = app
        .as_admin(
            CREATE_PRODUCT,
            json!({"input": product_input("LAMP-0001", "Oak Desk Lamp", 4999, &category_id, 5)}),
        )
        .await;
    let product = &res["data"]["createProduct"];
    assert_eq!(product["sku"], "LAMP-0001", "{res}");
    assert_eq!(product["price"], json!({"amount": 4999, "currency": "EUR"}));
    assert_eq!(product["category"]["slug"], "desk-lamps");
    assert_eq!(product["availableQuantity"], 5);
    assert_eq!(product["archived"], false);
    let id = product["id"].as_str().unwrap().to_string();

    let other = app.create_category("floor-lamps").await;
    let res = app
        .as_admin(
            UPDATE,
            json!({"id": id, "input": {"name": "Oak Floor Lamp", "price": {"amount": 8999, "currency": "EUR"}, "categoryId": other}}),
        )
        .await;
    let updated = &res["data"]["updateProduct"];
    assert_eq!(updated["name"], "Oak Floor Lamp", "{res}");
    assert_eq!(updated["price"]["amount"], 8999);
    assert_eq!(updated["category"]["slug"], "floor-lamps");
    assert_eq!(updated["sku"], "LAMP-0001", "untouched fields stay");
    assert_eq!(updated["description"], "Oak Desk Lamp, described.");

    let res = app.as_admin(SET_STOCK, json!({"id": id, "q": 12})).await;
    assert_eq!(res["data"]["setStock"]["availableQuantity"], 12, "{res}");

    let res = app.as_admin(ARCHIVE, json!({"id": id})).await;
    assert_eq!(res["data"]["archiveProduct"]["archived"], true, "{res}");
    let res = app
        .anonymous("{ products { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(res["data"]["products"]["edges"], json!([]));
}

/// Every admin mutation with valid variables.
fn every_mutation(category: &str, product: &str) -> Vec<(&'static str, Value)> {
    vec![
        (
            CREATE_CATEGORY,
            json!({"input": {"name": "Chairs", "slug": "chairs"}}),
        ),
        (
            CREATE_PRODUCT,
            json!({"input": product_input("CHAIR-0001", "Chair", 100, category, 1)}),
        ),
        (
            UPDATE,
            json!({"id": product, "input": {"name": "New name"}}),
        ),
        (SET_STOCK, json!({"id": product, "q": 3})),
        (ARCHIVE, json!({"id": product})),
    ]
}

#[tokio::test]
async fn a_customer_cannot_change_the_catalogue() {
    let (app, lamps, id) = app_with_product().await;
    for (mutation, variables) in every_mutation(&lamps, &id) {
        let res = app
            .gql
            .query(mutation, variables, Some(&app.customer_token))
            .await;
        assert_eq!(code(&res), "FORBIDDEN", "{mutation}");
    }
}

#[tokio::test]
async fn an_anonymous_visitor_cannot_change_the_catalogue() {
    let (app, lamps, id) = app_with_product().await;
    for (mutation, variables) in every_mutation(&lamps, &id) {
        let res = app.anonymous(mutation, variables).await;
        assert_eq!(code(&res), "UNAUTHENTICATED", "{mutation}");
    }
    let res = app
        .gql
        .query(
            CREATE_CATEGORY,
            json!({"input": {"name": "X", "slug": "x"}}),
            Some("not-a-token"),
        )
        .await;
    assert_eq!(code(&res), "UNAUTHENTICATED");
}

#[tokio::test]
async fn invalid_input_is_bad_user_input() {
    let (app, lamps, id) = app_with_product().await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut input = product_input("LAMP-0002", "Lamp", 100, &lamps, 1);
        change(&mut input);
        json!({"input": input})
    };
    let bad_products = [
        with(&|i| i["sku"] = json!("lamp 2")),
        with(&|i| i["sku"] = json!("AB")),
        with(&|i| i["price"]["amount"] = json!(-1)),
        with(&|i| i["price"]["currency"] = json!("EURO")),
        with(&|i| i["price"]["currency"] = json!("eur")),
        with(&|i| i["name"] = json!("   ")),
        with(&|i| i["images"] = json!(["javascript:alert(1)"])),
        with(&|i| i["stockOnHand"] = json!(-5)),
        with(&|i| i["categoryId"] = json!("lamps")),
    ];
    for variables in bad_products {
        let res = app.as_admin(CREATE_PRODUCT, variables.clone()).await;
        assert_eq!(code(&res), "BAD_USER_INPUT", "{variables}");
    }
    let bad_other = [
        (
            CREATE_CATEGORY,
            json!({"input": {"name": "Lamps", "slug": "Desk Lamps"}}),
        ),
        (
            CREATE_CATEGORY,
            json!({"input": {"name": "", "slug": "desk"}}),
        ),
        (UPDATE, json!({"id": id, "input": {}})),
        (
            UPDATE,
            json!({"id": id, "input": {"price": {"amount": -10, "currency": "EUR"}}}),
        ),
        (UPDATE, json!({"id": "nope", "input": {"name": "x"}})),
        (SET_STOCK, json!({"id": id, "q": -1})),
        (ARCHIVE, json!({"id": "nope"})),
    ];
    for (mutation, variables) in bad_other {
        let res = app.as_admin(mutation, variables.clone()).await;
        assert_eq!(code(&res), "BAD_USER_INPUT", "{mutation} {variables}");
    }
}

#[tokio::test]
async fn duplicates_and_impossible_changes_are_conflicts() {
    let (app, lamps, id) = app_with_product().await;
    let res = app
        .as_admin(
            CREATE_PRODUCT,
            json!({"input": product_input("LAMP-0001", "Copy", 100, &lamps, 1)}),
        )
        .await;
    assert_conflict_saying(&res, "LAMP-0001");

    let res = app
        .as_admin(
            CREATE_CATEGORY,
            json!({"input": {"name": "Again", "slug": "lamps"}}),
        )
        .await;
    assert_eq!(code(&res), "CONFLICT");

    let other = app
        .create_product(product_input("LAMP-0002", "Other", 100, &lamps, 1))
        .await;
    let res = app
        .as_admin(UPDATE, json!({"id": other, "input": {"sku": "LAMP-0001"}}))
        .await;
    assert_eq!(code(&res), "CONFLICT");

    // Stock below what is reserved for orders is refused.
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    let mut reserved = app.store.products_by_ids(&[uuid]).await.unwrap().remove(0);
    reserved.id = uuid::Uuid::now_v7();
    reserved.sku = "LAMP-0003".into();
    reserved.stock_on_hand = 10;
    reserved.reserved = 6;
    app.store.insert_product(&reserved).await.unwrap();
    let res = app
        .as_admin(SET_STOCK, json!({"id": reserved.id, "q": 5}))
        .await;
    assert_eq!(code(&res), "CONFLICT");
    let res = app
        .as_admin(SET_STOCK, json!({"id": reserved.id, "q": 6}))
        .await;
    assert_eq!(res["data"]["setStock"]["availableQuantity"], 0, "{res}");

    let res = app.as_admin(ARCHIVE, json!({"id": id})).await;
    assert!(res["errors"].is_null(), "{res}");
    let res = app.as_admin(ARCHIVE, json!({"id": id})).await;
    assert_eq!(code(&res), "CONFLICT");
}

#[tokio::test]
async fn changing_what_does_not_exist_is_not_found() {
    let (app, _, _) = app_with_product().await;
    let missing = uuid::Uuid::now_v7().to_string();
    let cases = [
        (UPDATE, json!({"id": missing, "input": {"name": "x"}})),
        (SET_STOCK, json!({"id": missing, "q": 1})),
        (ARCHIVE, json!({"id": missing})),
        (
            CREATE_PRODUCT,
            json!({"input": product_input("LAMP-0009", "Lamp", 100, &missing, 1)}),
        ),
    ];
    for (mutation, variables) in cases {
        let res = app.as_admin(mutation, variables).await;
        assert_eq!(code(&res), "NOT_FOUND", "{mutation}");
    }
}

const ADJUST: &str = "mutation($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d) { stockOnHand reservedQuantity availableQuantity } }";
const SET_STOCK_IF: &str = "mutation($id: ID!, $q: Int!, $e: Int) { setStock(productId: $id, quantity: $q, expectedStockOnHand: $e) { stockOnHand availableQuantity } }";
const STOCK: &str = "query($id: ID!) { product(id: $id) { stockOnHand } }";

#[tokio::test]
async fn a_stock_change_made_on_a_stale_read_conflicts_and_adjustments_keep_concurrent_sales() {
    let (app, _, id) = app_with_product().await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    // The admin reads 5 on hand ...
    let res = app.as_admin(STOCK, json!({"id": id})).await;
    assert_eq!(res["data"]["product"]["stockOnHand"], 5, "{res}");
    // ... a sale of 2 commits meanwhile ...
    app.store
        .change_stock(
            uuid,
            StockChange::set_to(products::domain::StockLevel::parse(3).unwrap()),
            products::domain::now(),
        )
        .await
        .unwrap();
    // ... so "5 + 10 received = 15" based on the stale read is refused.
    let res = app
        .as_admin(SET_STOCK_IF, json!({"id": id, "q": 15, "e": 5}))
        .await;
    assert_conflict_saying(&res, "is 3");
    let res = app
        .as_admin(SET_STOCK_IF, json!({"id": id, "q": 13, "e": 3}))
        .await;
    assert_eq!(res["data"]["setStock"]["stockOnHand"], 13, "{res}");
    // Relative changes need no read: ten concurrent deliveries of one unit all count.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let gql = app.gql.clone();
        let token = app.admin_token.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            gql.query(ADJUST, json!({"id": id, "d": 1}), Some(&token))
                .await
        }));
    }
    for t in tasks {
        let res = t.await.unwrap();
        assert!(res["errors"].is_null(), "{res}");
    }
    let res = app.as_admin(STOCK, json!({"id": id})).await;
    assert_eq!(res["data"]["product"]["stockOnHand"], 23, "{res}");
    let res = app.as_admin(ADJUST, json!({"id": id, "d": -3})).await;
    assert_eq!(res["data"]["adjustStock"]["stockOnHand"], 20, "{res}");
}

#[tokio::test]
async fn adjusting_stock_below_what_is_reserved_or_by_nothing_is_refused() {
    let (app, _, id) = app_with_product().await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    let mut reserved = app.store.products_by_ids(&[uuid]).await.unwrap().remove(0);
    reserved.id = uuid::Uuid::now_v7();
    reserved.sku = "LAMP-0009".into();
    reserved.stock_on_hand = 10;
    reserved.reserved = 6;
    app.store.insert_product(&reserved).await.unwrap();
    let res = app
        .as_admin(ADJUST, json!({"id": reserved.id, "d": -5}))
        .await;
    assert_conflict_saying(&res, "6 reserved");
    let res = app.as_admin(ADJUST, json!({"id": id, "d": -6})).await;
    assert_eq!(code(&res), "CONFLICT", "below zero: {res}");
    let res = app
        .as_admin(ADJUST, json!({"id": reserved.id, "d": -4}))
        .await;
    assert_eq!(
        res["data"]["adjustStock"],
        json!({"stockOnHand": 6, "reservedQuantity": 6, "availableQuantity": 0}),
        "{res}"
    );
    let res = app.as_admin(ADJUST, json!({"id": id, "d": 0})).await;
    assert_eq!(code(&res), "BAD_USER_INPUT");
    let res = app
        .as_admin(ADJUST, json!({"id": uuid::Uuid::now_v7(), "d": 1}))
        .await;
    assert_eq!(code(&res), "NOT_FOUND");
    let res = app
        .gql
        .query(ADJUST, json!({"id": id, "d": 1}), Some(&app.customer_token))
        .await;
    assert_eq!(code(&res), "FORBIDDEN");
    let res = app
        .gql
        .query(STOCK, json!({"id": id}), Some(&app.customer_token))
        .await;
    assert_eq!(code(&res), "FORBIDDEN", "stock on hand is for admins");
}

/// The use cases check the viewer themselves, whatever edge calls them: a
/// customer is refused before any input is looked at.
#[tokio::test]
async fn the_catalogues_writes_refuse_a_customer_at_the_use_case() {
    use platform::auth::{Role, Viewer};
    use products::app::Catalog;
    use products::domain::CategoryDraft;

    let app = spawn_app().await;
    let catalog = Catalog::new(app.store.clone());
    let customer = Viewer {
        user_id: uuid::Uuid::now_v7(),
        role: Role::Customer,
    };
    let refused = catalog
        .archive_product(&customer, "not even an id")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "FORBIDDEN", "{refused}");
    let draft = || CategoryDraft {
        name: "Lamps".into(),
        slug: "lamps".into(),
        description: None,
    };
    let refused = catalog
        .create_category(&customer, draft())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "FORBIDDEN");
    let admin = Viewer {
        user_id: uuid::Uuid::now_v7(),
        role: Role::Admin,
    };
    assert!(catalog.create_category(&admin, draft()).await.is_ok());
}
