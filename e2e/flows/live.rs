//! Live order status through the router: `orderStatusChanged` over Server-Sent
//! Events and over WebSocket, the current status first (so a reconnect
//! mid-saga misses nothing), the end once the order is settled, a change
//! committed by another orders replica, and other callers refused.

use std::time::Duration;

use e2e::live::{SseSubscription, WsSubscription};
use e2e::{Shop, ShopOptions};
use serde_json::{json, Value};
use testkit::{first_error_code, GraphqlClient};
use uuid::Uuid;

const WATCH: &str = "subscription($id: ID!) {
  orderStatusChanged(id: $id) { id status items { quantity product { name } } payment { status } }
}";
const WAIT: Duration = Duration::from_secs(20);

fn status(event: &Value) -> String {
    event["data"]["orderStatusChanged"]["status"]
        .as_str()
        .unwrap_or_else(|| panic!("an order in {event}"))
        .to_string()
}

/// Places one order of a new product with `card`; returns (customer, order).
async fn order_with(shop: &Shop, card: &str) -> (String, String) {
    let admin = shop.admin_token();
    let sku = format!(
        "LIVE-{}",
        Uuid::new_v4().simple().to_string()[..8].to_uppercase()
    );
    let product = shop
        .create_product(&admin, &sku, "Live lamp", 1500, 10)
        .await;
    let customer = shop
        .customer(&format!("live-{}@example.com", Uuid::now_v7().simple()))
        .await;
    let placed = shop
        .place_order(&customer, &product, 1, card, &Uuid::now_v7().to_string())
        .await;
    let order = placed["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("placed: {placed}"))
        .to_string();
    (customer, order)
}

#[tokio::test]
async fn an_orders_status_streams_over_sse_and_websocket_until_it_is_settled() {
    let shop = Shop::start().await;
    let (customer, order) = order_with(&shop, "tok_visa").await;
    let url = format!("{}/graphql", shop.router_url);

    // SSE: the current status, then each change, up to PAID, with fields the
    // router resolves from products and payments.
    let mut sse = SseSubscription::start(&url, Some(&customer), WATCH, json!({"id": order})).await;
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("PAID") {
        let event = sse
            .next(WAIT)
            .await
            .unwrap_or_else(|| panic!("the stream stopped after {seen:?}"));
        assert!(event["errors"].is_null(), "{event}");
        assert_eq!(
            event["data"]["orderStatusChanged"]["items"][0]["product"]["name"], "Live lamp",
            "{event}"
        );
        seen.push(status(&event));
    }
    let order_of_statuses = ["PENDING", "AWAITING_PAYMENT", "PAID"];
    let positions: Vec<usize> = seen
        .iter()
        .map(|s| {
            order_of_statuses
                .iter()
                .position(|o| o == s)
                .expect("a saga status")
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "each status once, in order: {seen:?}"
    );
    drop(sse);

    // WebSocket: PAID first (the current status), then the cancellation's
    // refund, and the end.
    let ws_url = url.replacen("http://", "ws://", 1);
    let mut ws = WsSubscription::start(&ws_url, &customer, WATCH, json!({"id": order})).await;
    let first = ws.next(WAIT).await.expect("the current status");
    assert_eq!(status(&first), "PAID", "{first}");
    assert_eq!(
        first["data"]["orderStatusChanged"]["payment"]["status"],
        "SUCCEEDED"
    );
    let cancelled = shop
        .query(
            "mutation($id: ID!) { cancelOrder(id: $id) { status } }",
            json!({"id": order}),
            Some(&customer),
        )
        .await;
    assert!(cancelled["errors"].is_null(), "{cancelled}");
    let mut later = Vec::new();
    while let Some(event) = ws.next(WAIT).await {
        later.push(status(&event));
    }
    assert_eq!(
        later.last().map(String::as_str),
        Some("REFUNDED"),
        "{later:?}"
    );
    assert!(
        ws.completed,
        "the subscription ends once the order is settled"
    );
    shop.stop().await;
}

#[tokio::test]
async fn a_reconnect_mid_saga_gets_the_current_status_first_and_then_the_end() {
    // A card that never answers: the order waits for its payment until the
    // reservation runs out (3 s), then it is cancelled.
    let shop = Shop::start_with(ShopOptions {
        reservation_ttl_secs: 3,
        ..Default::default()
    })
    .await;
    let (customer, order) = order_with(&shop, "tok_timeout").await;
    let url = format!("{}/graphql", shop.router_url);
    let mut first =
        SseSubscription::start(&url, Some(&customer), WATCH, json!({"id": order})).await;
    let event = first.next(WAIT).await.expect("the current status");
    let before = status(&event);
    assert!(
        ["PENDING", "AWAITING_PAYMENT"].contains(&before.as_str()),
        "{event}"
    );
    drop(first); // the client goes away mid-saga...

    tokio::time::sleep(Duration::from_millis(500)).await;
    // ...and comes back: the current status first, then the end.
    let mut again =
        SseSubscription::start(&url, Some(&customer), WATCH, json!({"id": order})).await;
    let mut seen = Vec::new();
    while let Some(event) = again.next(WAIT).await {
        seen.push(status(&event));
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("CANCELLED"),
        "{seen:?}"
    );
    assert!(again.completed, "the stream ends at CANCELLED: {seen:?}");
    shop.stop().await;
}

#[tokio::test]
async fn a_change_committed_by_another_orders_replica_reaches_the_subscriber() {
    let shop = Shop::start().await;
    let (customer, order) = order_with(&shop, "tok_timeout").await;
    // A second replica of orders on the same database, without event workers.
    let replica = orders::startup::build(orders::config::Config {
        service: platform::config::ServiceConfig {
            database_url: shop.databases["orders"].clone().into(),
            db_max_connections: 3,
            ..testkit::service_config("orders")
        },
        products_url: format!("http://127.0.0.1:{}", shop.products.port),
        ..Default::default()
    })
    .await
    .expect("a second orders replica");
    let replica_gql = GraphqlClient::local(replica.port());
    tokio::spawn(replica.run(std::future::pending()));

    // Subscribed through the router (served by the first replica).
    let url = format!("{}/graphql", shop.router_url);
    let mut sse = SseSubscription::start(&url, Some(&customer), WATCH, json!({"id": order})).await;
    let event = sse.next(WAIT).await.expect("the current status");
    assert_ne!(status(&event), "CANCELLED");

    // The second replica commits the cancellation.
    let cancelled = replica_gql
        .query(
            "mutation($id: ID!) { cancelOrder(id: $id) { status } }",
            json!({"id": order}),
            Some(&customer),
        )
        .await;
    assert_eq!(
        cancelled["data"]["cancelOrder"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let mut seen = Vec::new();
    while let Some(event) = sse.next(WAIT).await {
        seen.push(status(&event));
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("CANCELLED"),
        "{seen:?}"
    );
    shop.stop().await;
}

#[tokio::test]
async fn another_customer_or_an_anonymous_caller_cannot_watch_an_order() {
    let shop = Shop::start().await;
    let (_, order) = order_with(&shop, "tok_visa").await;
    let stranger = shop.customer("stranger@example.com").await;
    let url = format!("{}/graphql", shop.router_url);
    for (token, expected) in [
        // Like an unknown order: a stranger cannot tell it exists.
        (Some(stranger.as_str()), "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ] {
        let mut sse = SseSubscription::start(&url, token, WATCH, json!({"id": order})).await;
        let event = sse.next(WAIT).await.expect("an answer");
        assert_eq!(
            first_error_code(&event).as_deref(),
            Some(expected),
            "{event}"
        );
        assert!(
            event["data"].is_null() || event["data"]["orderStatusChanged"].is_null(),
            "{event}"
        );
        assert!(sse.next(WAIT).await.is_none(), "nothing after the refusal");
    }
    // Over WebSocket too.
    let ws_url = url.replacen("http://", "ws://", 1);
    let mut ws = WsSubscription::start(&ws_url, &stranger, WATCH, json!({"id": order})).await;
    let event = ws.next(WAIT).await.expect("an answer");
    assert_eq!(
        first_error_code(&event).as_deref(),
        Some("NOT_FOUND"),
        "{event}"
    );
    shop.stop().await;
}
