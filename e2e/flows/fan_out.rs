//! Federation cost: a list of 100 orders with their products and payments
//! makes one `_entities` request per subgraph per plan step, not one per order.

use e2e::{token, Shop};
use platform::auth::Role;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_hundred_orders_with_products_and_payments_cost_one_entity_request_per_subgraph() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "LAMP-F", "Desk lamp", 100, 1000)
        .await;
    let rug = shop.create_product(&admin, "RUG-F", "Rug", 300, 1000).await;
    let customer = shop.customer("many@example.com").await;
    let mut orders = Vec::new();
    for i in 0..100 {
        let product = if i % 2 == 0 { &lamp } else { &rug };
        let res = shop
            .place_order(&customer, product, 1, "tok_visa", &format!("k{i}"))
            .await;
        orders.push(
            res["data"]["placeOrder"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{res}"))
                .to_string(),
        );
    }
    for o in &orders {
        shop.wait_for_status(&customer, o, "PAID").await;
    }
    for s in [&shop.users, &shop.products, &shop.orders, &shop.payments] {
        s.traffic.reset();
    }
    let res = shop
        .query(
            "{ me { orders(first: 100) { edges { node { id items { product { name price { amount } } } payment { status } } } } } }",
            json!({}),
            Some(&customer),
        )
        .await;
    assert!(res["errors"].is_null(), "{res}");
    let edges = res["data"]["me"]["orders"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 100);
    assert!(edges
        .iter()
        .all(|e| e["node"]["payment"]["status"] == "SUCCEEDED"));
    assert!(edges
        .iter()
        .all(|e| e["node"]["items"][0]["product"]["name"].is_string()));

    // users answers `me`; orders resolves that User's orders; products and
    // payments each resolve all 100 orders' references in one request.
    assert_eq!(shop.users.traffic.counts(), (1, 0));
    assert_eq!(shop.orders.traffic.counts(), (1, 1));
    assert_eq!(shop.products.traffic.counts(), (1, 1));
    assert_eq!(shop.payments.traffic.counts(), (1, 1));
    let _ = token(Uuid::now_v7(), Role::Customer);
    shop.stop().await;
}
