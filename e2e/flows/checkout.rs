//! Buying through the router: the order saga end to end.

use e2e::Shop;
use serde_json::json;

#[tokio::test]
async fn a_customer_registers_buys_and_sees_everything_in_one_query() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "LAMP-1", "Desk lamp", 2500, 10)
        .await;

    let res = shop
        .query(
            "mutation { register(input: {email: \"ada@example.com\", password: \"correct horse 1\", name: \"Ada\"}) { user { id } } }",
            json!({}),
            None,
        )
        .await;
    assert!(res["errors"].is_null(), "{res}");
    let res = shop
        .query("mutation { login(email: \"ada@example.com\", password: \"correct horse 1\") { accessToken } }", json!({}), None)
        .await;
    let token = res["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    let res = shop
        .query(
            "mutation($p: ID!) { addToCart(productId: $p, quantity: 2) { subtotal { amount } } }",
            json!({"p": lamp}),
            Some(&token),
        )
        .await;
    assert_eq!(
        res["data"]["addToCart"]["subtotal"]["amount"], 5000,
        "{res}"
    );
    let res = shop
        .query(
            "mutation { placeOrder(input: {shippingAddress: {name: \"Ada\", line1: \"1 Loop St\", city: \"London\", postalCode: \"N1\", country: \"GB\"}, paymentToken: \"tok_visa\"}, idempotencyKey: \"checkout-1\") { id status } }",
            json!({}),
            Some(&token),
        )
        .await;
    let order = res["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_string();
    shop.wait_for_status(&token, &order, "PAID").await;

    let res = shop
        .query(
            "{ me { name orders { edges { node { number status total { amount }
                 items { quantity product { name price { amount } } }
                 payment { status card { brand last4 } amount { amount } } } } } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert!(res["errors"].is_null(), "{res}");
    let node = &res["data"]["me"]["orders"]["edges"][0]["node"];
    assert_eq!(res["data"]["me"]["name"], "Ada");
    assert_eq!(node["status"], "PAID");
    assert_eq!(node["total"]["amount"], 5000);
    assert_eq!(
        node["items"][0]["product"],
        json!({"name": "Desk lamp", "price": {"amount": 2500}})
    );
    assert_eq!(node["payment"]["status"], "SUCCEEDED");
    assert_eq!(
        node["payment"]["card"],
        json!({"brand": "VISA", "last4": "4242"})
    );
    assert_eq!(shop.available(&lamp).await, 8, "two sold");
    shop.stop().await;
}

#[tokio::test]
async fn a_declined_card_cancels_the_order_and_restores_stock() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "LAMP-2", "Desk lamp", 2500, 5)
        .await;
    let token = shop.customer("bob@example.com").await;
    let res = shop
        .place_order(&token, &lamp, 3, "tok_chargeDeclined", "k")
        .await;
    let order = res["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_string();
    shop.wait_for_status(&token, &order, "CANCELLED").await;
    let res = shop
        .query("query($id: ID!) { order(id: $id) { statusHistory { status reason } payment { status failureReason } } }", json!({"id": order}), Some(&token))
        .await;
    assert_eq!(
        res["data"]["order"]["payment"],
        json!({"status": "FAILED", "failureReason": "card_declined"}),
        "{res}"
    );
    for _ in 0..100 {
        if shop.available(&lamp).await == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        shop.available(&lamp).await,
        5,
        "the reservation was released"
    );
    shop.stop().await;
}

#[tokio::test]
async fn an_out_of_stock_item_cannot_be_ordered() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "LAMP-3", "Last lamp", 2500, 1)
        .await;
    let token = shop.customer("cy@example.com").await;
    let res = shop.place_order(&token, &lamp, 2, "tok_visa", "k").await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "CONFLICT", "{res}");
    assert_eq!(res["errors"][0]["path"], json!(["placeOrder"]));
    assert_eq!(shop.available(&lamp).await, 1);
    shop.stop().await;
}

#[tokio::test]
async fn a_paid_order_cancelled_is_refunded_and_restocked() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "LAMP-4", "Desk lamp", 2500, 5)
        .await;
    let token = shop.customer("dee@example.com").await;
    let res = shop.place_order(&token, &lamp, 2, "tok_visa", "k").await;
    let order = res["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_string();
    shop.wait_for_status(&token, &order, "PAID").await;
    assert_eq!(shop.available(&lamp).await, 3);
    let res = shop
        .query(
            "mutation($id: ID!) { cancelOrder(id: $id) { status } }",
            json!({"id": order}),
            Some(&token),
        )
        .await;
    assert_eq!(
        res["data"]["cancelOrder"]["status"], "REFUND_PENDING",
        "{res}"
    );
    shop.wait_for_status(&token, &order, "REFUNDED").await;
    let res = shop
        .query("query($id: ID!) { order(id: $id) { payment { status refunds { amount { amount } } } } }", json!({"id": order}), Some(&token))
        .await;
    assert_eq!(
        res["data"]["order"]["payment"]["status"], "REFUNDED",
        "{res}"
    );
    assert_eq!(
        res["data"]["order"]["payment"]["refunds"][0]["amount"]["amount"],
        5000
    );
    assert_eq!(shop.available(&lamp).await, 5, "restocked");
    shop.stop().await;
}
