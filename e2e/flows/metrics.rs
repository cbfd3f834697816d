//! What `/metrics` tells an operator moves while an order goes through the
//! saga: GraphQL operation latency by name (the router forwards the client's
//! operation name), orders by status and the time from placement to PAID,
//! events published and handled, the outbox, and the database pools.

use e2e::Shop;
use serde_json::json;
use uuid::Uuid;

/// The sum of the samples of `metric` whose labels contain each of `labels`.
fn value(text: &str, metric: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| {
            l.split(['{', ' ']).next() == Some(metric) && labels.iter().all(|x| l.contains(x))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn the_named_metrics_move_while_an_order_is_paid() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let lamp = shop
        .create_product(&admin, "METRIC-1", "Metric lamp", 1200, 10)
        .await;
    let customer = shop.customer("metrics@example.com").await;
    // The services of a test share one process, and so one registry: any
    // service's /metrics shows them all.
    let before = scrape(shop.orders.port).await;

    let placed = shop
        .query(
            "mutation PlaceOrder($p: ID!, $key: String!) {
               placeOrder(input: {
                 shippingAddress: {name: \"Ada\", line1: \"1 Loop St\", city: \"London\", postalCode: \"N1\", country: \"GB\"},
                 paymentToken: \"tok_visa\", items: [{productId: $p, quantity: 1}]
               }, idempotencyKey: $key) { id }
             }",
            json!({"p": lamp, "key": Uuid::now_v7().to_string()}),
            Some(&customer),
        )
        .await;
    let order = placed["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("placed: {placed}"))
        .to_string();
    shop.wait_for_status(&customer, &order, "PAID").await;
    let after = scrape(shop.orders.port).await;

    let moved = |metric: &str, labels: &[&str]| {
        let (b, a) = (
            value(&before, metric, labels),
            value(&after, metric, labels),
        );
        assert!(a > b, "{metric}{labels:?} did not move: {b} -> {a}");
    };
    moved(
        "graphql_operation_duration_seconds_count",
        &["operation=\"PlaceOrder\"", "outcome=\"ok\""],
    );
    moved("orders_status_changes_total", &["status=\"PENDING\""]);
    moved("orders_status_changes_total", &["status=\"PAID\""]);
    moved("order_saga_duration_seconds_count", &["outcome=\"PAID\""]);
    moved(
        "order_saga_duration_seconds_bucket",
        &["outcome=\"PAID\"", "le=\"+Inf\""],
    );
    moved("outbox_events_published_total", &[]);
    moved("events_handled_total", &[]);
    moved("http_requests_total", &["route=\"/graphql\""]);
    for metric in [
        "db_pool_connections",
        "db_pool_max_connections",
        "outbox_pending_events",
        "outbox_oldest_pending_seconds",
    ] {
        assert!(
            after.lines().any(|l| l.starts_with(metric)),
            "{metric} is exposed"
        );
    }
    shop.stop().await;
}
