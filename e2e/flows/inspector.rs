//! The saga inspector: `orderEvents(orderId)` through the router shows an
//! order's events across orders, products and payments in causal order, with
//! each one's outbox state and its handling by every consumer, and says where
//! the saga waits; `replaySagaEvent` sends a dead-lettered event back.

use std::time::Duration;

use e2e::processes::ProcessStack;
use e2e::token;
use platform::auth::Role;
use serde_json::{json, Value};
use testkit::GraphqlClient;
use uuid::Uuid;

const ORDER_EVENTS: &str = "query($id: ID!) { orderEvents(orderId: $id) {
  orderId unavailable waitingOn
  events { id type service occurredAt causedBy correlationId traceId outbox publishAttempts
           deliveries { consumer state handledAt } }
} }";

async fn order_events(gql: &GraphqlClient, admin: &str, order: &str) -> Value {
    let res = gql
        .query(ORDER_EVENTS, json!({"id": order}), Some(admin))
        .await;
    assert!(res["errors"].is_null(), "orderEvents: {res}");
    res["data"]["orderEvents"].clone()
}

/// Polls `orderEvents` until `done` holds (up to 60 s).
async fn order_events_until(
    gql: &GraphqlClient,
    admin: &str,
    order: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let trail = order_events(gql, admin, order).await;
        if done(&trail) {
            return trail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "orderEvents never showed {what}: {trail:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn types(trail: &Value) -> Vec<&str> {
    trail["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default()
}

fn event<'a>(trail: &'a Value, kind: &str) -> &'a Value {
    trail["events"]
        .as_array()
        .and_then(|events| events.iter().find(|e| e["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} in {trail:#}"))
}

async fn place(stack: &ProcessStack, customer: &str, product: &str, card: &str) -> String {
    let res = stack
        .gql
        .query(
            "mutation($p: ID!, $card: String!, $key: String!) { placeOrder(input: {
                shippingAddress: {name: \"Ines\", line1: \"1 Trail Rd\", city: \"Lyon\", postalCode: \"69001\", country: \"FR\"},
                paymentToken: $card, items: [{productId: $p, quantity: 1}]
              }, idempotencyKey: $key) { id } }",
            json!({"p": product, "card": card, "key": Uuid::now_v7().to_string()}),
            Some(customer),
        )
        .await;
    res["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("placeOrder: {res}"))
        .to_string()
}

#[tokio::test]
async fn order_events_show_a_paid_a_declined_and_a_stuck_order_and_replay_unsticks_it() {
    let stack = ProcessStack::start(&[], &[]).await;
    let admin = token(Uuid::now_v7(), Role::Admin);
    let customer = token(Uuid::now_v7(), Role::Customer);
    let product = e2e::create_product(&stack.gql, &admin, "TRAIL-1", "Lamp", 1500, 10).await;

    // Paid: the whole chain, every event published and handled by each consumer.
    let paid = place(&stack, &customer, &product, "tok_visa").await;
    e2e::wait_for_status(&stack.gql, &customer, &paid, "PAID").await;
    let trail = order_events_until(&stack.gql, &admin, &paid, "a settled saga", |t| {
        t["waitingOn"].is_null()
    })
    .await;
    assert_eq!(
        types(&trail),
        [
            "order.placed",
            "stock.reserved",
            "payment.requested",
            "payment.succeeded",
            "order.paid"
        ],
        "causal order: {trail:#}"
    );
    for e in trail["events"].as_array().expect("events") {
        assert_eq!(e["outbox"], "PUBLISHED", "{e}");
        let deliveries = e["deliveries"].as_array().expect("deliveries");
        assert!(!deliveries.is_empty(), "every event has a consumer: {e}");
        assert!(deliveries.iter().all(|d| d["state"] == "HANDLED"), "{e}");
    }
    let placed = event(&trail, "order.placed");
    assert_eq!(placed["service"], "orders");
    assert_eq!(event(&trail, "stock.reserved")["causedBy"], placed["id"]);
    assert_eq!(event(&trail, "stock.reserved")["service"], "products");
    assert_eq!(
        event(&trail, "order.placed")["deliveries"][0]["consumer"],
        "products"
    );
    assert_eq!(trail["unavailable"], json!([]));

    // Declined: the payment fails, the order is cancelled and the stock released.
    let declined = place(&stack, &customer, &product, "tok_chargeDeclined").await;
    e2e::wait_for_status(&stack.gql, &customer, &declined, "CANCELLED").await;
    let trail = order_events_until(&stack.gql, &admin, &declined, "a settled saga", |t| {
        t["waitingOn"].is_null() && types(t).contains(&"stock.released")
    })
    .await;
    let kinds = types(&trail);
    for kind in [
        "order.placed",
        "stock.reserved",
        "payment.requested",
        "payment.failed",
        "order.cancelled",
        "stock.released",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let at = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or(usize::MAX);
    assert!(at("payment.failed") < at("order.cancelled"));
    assert!(at("order.cancelled") < at("stock.released"));

    // Stuck: payments is down, so payment.requested waits in its queue.
    let payments = stack
        .services
        .iter()
        .position(|s| s.name == "payments")
        .expect("payments");
    let mut stack = stack;
    stack.services[payments].kill().await;
    let stuck = place(&stack, &customer, &product, "tok_visa").await;
    let trail = order_events_until(&stack.gql, &admin, &stuck, "payment.requested", |t| {
        types(t).contains(&"payment.requested")
    })
    .await;
    assert_eq!(trail["unavailable"], json!(["payments"]), "{trail:#}");
    assert_eq!(
        event(&trail, "payment.requested")["deliveries"][0]["state"],
        "UNKNOWN"
    );
    // Its consumer gives up on it (moved to its dead-letter queue, as after the
    // last redelivery), and payments comes back.
    let requested = stack
        .bus
        .dead_letter_next("payments", Duration::from_secs(10))
        .await
        .expect("payment.requested queued for payments");
    assert_eq!(requested.kind, "payment.requested");
    stack.services[payments].start().await;
    let trail = order_events_until(&stack.gql, &admin, &stuck, "the dead letter", |t| {
        t["unavailable"] == json!([])
    })
    .await;
    let delivery = &event(&trail, "payment.requested")["deliveries"][0];
    assert_eq!(
        (&delivery["consumer"], &delivery["state"]),
        (&json!("payments"), &json!("DEAD_LETTERED"))
    );
    let waiting = trail["waitingOn"].as_str().unwrap_or_default();
    assert!(
        waiting.contains("payment.requested") && waiting.contains("dead-lettered by payments"),
        "{waiting}"
    );

    // The operator replays it; the saga goes on to PAID.
    let res = stack
        .gql
        .query(
            "mutation($id: ID!) { replaySagaEvent(service: \"payments\", eventId: $id) { unparked redelivered } }",
            json!({"id": requested.id}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        res["data"]["replaySagaEvent"],
        json!({"unparked": false, "redelivered": 1}),
        "{res}"
    );
    e2e::wait_for_status(&stack.gql, &customer, &stuck, "PAID").await;
    order_events_until(&stack.gql, &admin, &stuck, "a settled saga", |t| {
        t["waitingOn"].is_null()
    })
    .await;

    // Customers cannot inspect; unknown orders are NOT_FOUND.
    let res = stack
        .gql
        .query(ORDER_EVENTS, json!({"id": paid}), Some(&customer))
        .await;
    assert_eq!(
        testkit::first_error_code(&res).as_deref(),
        Some("FORBIDDEN"),
        "{res}"
    );
    let res = stack
        .gql
        .query(
            ORDER_EVENTS,
            json!({"id": Uuid::now_v7().to_string()}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        testkit::first_error_code(&res).as_deref(),
        Some("NOT_FOUND"),
        "{res}"
    );
}
