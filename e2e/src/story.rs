//! What a story does through the router: sign up, create products, place
//! an order and wait for its status; and tokens signed with the test key.

use std::time::Duration;

use platform::auth::{Role, TokenSigner};
use serde_json::{json, Value};
use testkit::{test_keys, GraphqlClient};
use uuid::Uuid;

/// Registers a customer with `email` at `gql`; returns their access token.
pub async fn register_customer(gql: &GraphqlClient, email: &str) -> String {
    let res = gql
        .query(
            "mutation($e: String!) { register(input: {email: $e, password: \"correct horse 1\", name: \"Shopper\"}) { accessToken } }",
            json!({"e": email}),
            None,
        )
        .await;
    res["data"]["register"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("register: {res}"))
        .to_string()
}

/// Creates a category and a product with `stock` units through `gql` (the
/// router or the products subgraph); returns the product id.
pub async fn create_product(
    gql: &GraphqlClient,
    admin: &str,
    sku: &str,
    name: &str,
    price: i64,
    stock: i64,
) -> String {
    let slug = format!("cat-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let res = gql
        .query(
            "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { id } }",
            json!({"i": {"name": slug.clone(), "slug": slug}}),
            Some(admin),
        )
        .await;
    let category = res["data"]["createCategory"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("category: {res}"))
        .to_string();
    create_product_in(gql, admin, &category, sku, name, price, stock).await
}

/// Creates a product in a category through `gql`; returns its id.
pub async fn create_product_in(
    gql: &GraphqlClient,
    admin: &str,
    category: &str,
    sku: &str,
    name: &str,
    price: i64,
    stock: i64,
) -> String {
    let res = gql
        .query(
            "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }",
            json!({"i": {
                "sku": sku, "name": name, "description": format!("{name}, for testing"),
                "price": {"amount": price, "currency": "EUR"}, "categoryId": category,
                "images": [], "attributes": [], "stockOnHand": stock,
            }}),
            Some(admin),
        )
        .await;
    res["data"]["createProduct"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("product: {res}"))
        .to_string()
}

/// Places an order of one product at `gql`; returns the response.
pub async fn place_order(
    gql: &GraphqlClient,
    token: &str,
    product: &str,
    quantity: i64,
    card: &str,
    key: &str,
) -> Value {
    gql.query(
        "mutation($p: ID!, $q: Int!, $card: String!, $key: String!) {
           placeOrder(input: {
             shippingAddress: {name: \"Ada\", line1: \"1 Loop St\", city: \"London\", postalCode: \"N1\", country: \"GB\"},
             paymentToken: $card, items: [{productId: $p, quantity: $q}]
           }, idempotencyKey: $key) { id status total { amount } }
         }",
        json!({"p": product, "q": quantity, "card": card, "key": key}),
        Some(token),
    )
    .await
}

/// Polls an order's status at `gql` until it is `status` (10 s at most).
pub async fn wait_for_status(gql: &GraphqlClient, token: &str, order: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = gql
            .query(
                "query($id: ID!) { order(id: $id) { status } }",
                json!({"id": order}),
                Some(token),
            )
            .await;
        if last["data"]["order"]["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {order} never reached {status}: {last}");
}

/// A token for `user` with `role`, signed with the test key.
pub fn token(user: Uuid, role: Role) -> String {
    let keys = test_keys();
    #[allow(clippy::expect_used)]
    let signer = TokenSigner::from_pem(
        &keys.private_pem,
        &keys.public_pem,
        Duration::from_secs(900),
    )
    .expect("signer");
    #[allow(clippy::expect_used)]
    signer.sign(user, role).expect("sign").0
}
