//! The saga under pressure: concurrency for the last units, expiry.

use e2e::{Shop, ShopOptions};
use serde_json::json;

#[tokio::test]
async fn fifty_concurrent_orders_for_the_last_ten_units_sell_exactly_ten() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "LAMP-L", "Last lamps", 2500, 10)
        .await;
    let mut buyers = Vec::new();
    for i in 0..50 {
        buyers.push(shop.customer(&format!("buyer{i}@example.com")).await);
    }
    let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    let placed = futures::future::join_all(
        buyers
            .iter()
            .zip(&keys)
            .map(|(t, key)| shop.place_order(t, &lamp, 1, "tok_visa", key)),
    )
    .await;
    let mut orders = Vec::new();
    for (res, t) in placed.iter().zip(&buyers) {
        if let Some(id) = res["data"]["placeOrder"]["id"].as_str() {
            orders.push((id.to_string(), t.clone()));
        }
    }
    let mut paid = 0;
    let mut cancelled = 0;
    for (id, t) in &orders {
        let mut status = String::new();
        for _ in 0..400 {
            let res = shop
                .query(
                    "query($id: ID!) { order(id: $id) { status } }",
                    json!({"id": id}),
                    Some(t),
                )
                .await;
            status = res["data"]["order"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if status == "PAID" || status == "CANCELLED" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        match status.as_str() {
            "PAID" => paid += 1,
            "CANCELLED" => cancelled += 1,
            other => panic!("order {id} stuck in {other}"),
        }
    }
    let refused_at_checkout = 50 - orders.len();
    assert_eq!(paid, 10, "exactly ten sold");
    assert_eq!(
        cancelled + refused_at_checkout,
        40,
        "the rest cancelled or refused"
    );
    assert_eq!(
        shop.available(&lamp).await,
        0,
        "stock ends at zero, never below"
    );
    shop.stop().await;
}

#[tokio::test]
async fn an_unpaid_reservation_expires_and_cancels_the_order() {
    let shop = Shop::start_with(ShopOptions {
        reservation_ttl_secs: 1,
        ..Default::default()
    })
    .await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "LAMP-X", "Desk lamp", 2500, 3)
        .await;
    let token = shop.customer("gus@example.com").await;
    // The provider never answers this card: the payment stays pending until
    // the reservation lapses.
    let res = shop.place_order(&token, &lamp, 3, "tok_timeout", "k").await;
    let order = res["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_string();
    let res = shop.wait_for_status(&token, &order, "CANCELLED").await;
    let _ = res;
    let history = shop
        .query(
            "query($id: ID!) { order(id: $id) { statusHistory { status reason } } }",
            json!({"id": order}),
            Some(&token),
        )
        .await;
    let reasons: Vec<String> = history["data"]["order"]["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["reason"].as_str().map(str::to_string))
        .collect();
    assert!(reasons.iter().any(|r| r.contains("expired")), "{history}");
    assert_eq!(shop.available(&lamp).await, 3);
    shop.stop().await;
}

#[tokio::test]
async fn sagas_complete_once_when_the_broker_drops_every_connection_midway() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "LAMP-B", "Desk lamp", 1000, 100)
        .await;
    let token = shop.customer("hal@example.com").await;
    let mut orders = Vec::new();
    for i in 0..10 {
        let res = shop
            .place_order(&token, &lamp, 1, "tok_visa", &format!("a{i}"))
            .await;
        orders.push(
            res["data"]["placeOrder"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{res}"))
                .to_string(),
        );
    }
    // Mid-saga: the broker closes every connection of this shop's services.
    let prefix = shop.bus.prefix();
    let closed = tokio::task::spawn_blocking(move || testkit::bus::close_connections(&prefix))
        .await
        .unwrap();
    assert!(
        closed >= 6,
        "relays and consumers were disconnected ({closed})"
    );
    for i in 0..10 {
        let res = shop
            .place_order(&token, &lamp, 1, "tok_visa", &format!("b{i}"))
            .await;
        orders.push(
            res["data"]["placeOrder"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{res}"))
                .to_string(),
        );
    }
    for o in &orders {
        shop.wait_for_status(&token, o, "PAID").await;
    }
    // Each order charged once, and exactly 20 units sold.
    for o in &orders {
        let res = shop
            .query("query($id: ID!) { order(id: $id) { payment { status amount { amount } refunds { id } } } }", json!({"id": o}), Some(&token))
            .await;
        assert_eq!(
            res["data"]["order"]["payment"]["status"], "SUCCEEDED",
            "{res}"
        );
        assert_eq!(res["data"]["order"]["payment"]["amount"]["amount"], 1000);
    }
    assert_eq!(shop.available(&lamp).await, 80);
    shop.stop().await;
}
