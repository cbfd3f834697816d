//! The orders side of the saga on the real RabbitMQ: the test plays products
//! and payments, answering the events orders publishes.

use std::time::Duration;

use events::catalogue::{
    OrderCancelled, OrderPaid, OrderPlaced, PaymentFailed, PaymentRefunded, PaymentRequested,
    PaymentSucceeded, RejectedLine, ReservedLine, StockRejected, StockReserved,
};
use orders::domain::OrderStatus;
use platform::{Currency, Money};
use testkit::bus::TestBus;
use uuid::Uuid;

use crate::helpers::{order_id, place, spawn_app_with, test_config, TestApp};

const WAIT: Duration = Duration::from_secs(10);

async fn saga() -> (TestApp, TestBus) {
    let bus = TestBus::new().await;
    let mut config = test_config();
    config.service.event_workers = true;
    config.service.events_prefix = bus.prefix();
    (spawn_app_with(config).await, bus)
}

/// Products' answer: `quantity` lamps (25.00 EUR each) of order `order_id`
/// are held for `hold`.
fn lamps_reserved(
    order_id: Uuid,
    lamp: Uuid,
    quantity: i64,
    hold: chrono::Duration,
) -> StockReserved {
    StockReserved {
        order_id,
        lines: vec![ReservedLine {
            product_id: lamp,
            quantity,
            unit_price: Money::new(2500, Currency::EUR),
        }],
        expires_at: chrono::Utc::now() + hold,
    }
}

async fn status_of(app: &TestApp, id: Uuid) -> OrderStatus {
    app.orders
        .store()
        .orders_by_ids(&[id])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .status
}

async fn wait_for(app: &TestApp, id: Uuid, status: OrderStatus) {
    for _ in 0..200 {
        if status_of(app, id).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "order {id} never became {status:?}, is {:?}",
        status_of(app, id).await
    );
}

#[tokio::test]
async fn a_reserved_and_paid_order_becomes_paid_and_says_so() {
    let (app, bus) = saga().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let id = order_id(&place(&app, &app.ada, &[(lamp, 2)], "k").await);

    let placed = bus
        .next_for("products", WAIT)
        .await
        .expect("order.placed")
        .decode::<OrderPlaced>()
        .unwrap();
    assert_eq!(
        (placed.payload.order_id, placed.payload.items[0].quantity),
        (id, 2)
    );
    bus.publish(
        "products",
        lamps_reserved(id, lamp, 2, chrono::Duration::minutes(15)),
    )
    .await;
    let requested = bus
        .next_for("payments", WAIT)
        .await
        .expect("payment.requested")
        .decode::<PaymentRequested>()
        .unwrap();
    assert_eq!(
        (
            requested.payload.amount.amount,
            requested.payload.payment_token.as_str()
        ),
        (5000, "tok_visa")
    );
    wait_for(&app, id, OrderStatus::AwaitingPayment).await;

    let payment_id = Uuid::now_v7();
    bus.publish(
        "payments",
        PaymentSucceeded {
            order_id: id,
            payment_id,
            amount: requested.payload.amount,
        },
    )
    .await;
    let paid = bus
        .next_for("products", WAIT)
        .await
        .expect("order.paid")
        .decode::<OrderPaid>()
        .unwrap();
    assert_eq!(paid.payload.payment_id, payment_id);
    wait_for(&app, id, OrderStatus::Paid).await;
}

#[tokio::test]
async fn rejected_stock_cancels_and_a_declined_card_cancels_and_releases() {
    let (app, bus) = saga().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let first = order_id(&place(&app, &app.ada, &[(lamp, 1)], "a").await);
    bus.publish(
        "products",
        StockRejected {
            order_id: first,
            lines: vec![RejectedLine {
                product_id: lamp,
                requested: 1,
                available: 0,
            }],
        },
    )
    .await;
    wait_for(&app, first, OrderStatus::Cancelled).await;

    let second = order_id(&place(&app, &app.ada, &[(lamp, 1)], "b").await);
    bus.publish(
        "products",
        lamps_reserved(second, lamp, 1, chrono::Duration::zero()),
    )
    .await;
    wait_for(&app, second, OrderStatus::AwaitingPayment).await;
    bus.publish(
        "payments",
        PaymentFailed {
            order_id: second,
            payment_id: Uuid::now_v7(),
            reason: "card_declined".into(),
        },
    )
    .await;
    wait_for(&app, second, OrderStatus::Cancelled).await;
    // products hears about the cancellation (to release the stock).
    let mut kinds = Vec::new();
    while let Some(e) = bus.next_for("products", Duration::from_secs(2)).await {
        if e.kind == "order.cancelled" {
            assert_eq!(
                e.decode::<OrderCancelled>().unwrap().payload.order_id,
                second
            );
        }
        kinds.push(e.kind);
    }
    assert_eq!(
        kinds,
        vec!["order.placed", "order.placed", "order.cancelled"]
    );
}

#[tokio::test]
async fn a_payment_after_a_cancellation_is_refunded() {
    let (app, bus) = saga().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let id = order_id(&place(&app, &app.ada, &[(lamp, 1)], "k").await);
    bus.publish(
        "products",
        lamps_reserved(id, lamp, 1, chrono::Duration::zero()),
    )
    .await;
    wait_for(&app, id, OrderStatus::AwaitingPayment).await;
    app.orders
        .cancel_order(&app.ada.viewer, &id.to_string(), Some("too slow"))
        .await
        .unwrap();
    bus.publish(
        "payments",
        PaymentSucceeded {
            order_id: id,
            payment_id: Uuid::now_v7(),
            amount: Money::new(2500, Currency::EUR),
        },
    )
    .await;
    wait_for(&app, id, OrderStatus::RefundPending).await;
    let mut refund_asked = false;
    while let Some(e) = bus.next_for("payments", Duration::from_secs(2)).await {
        if let Ok(c) = e.decode::<OrderCancelled>() {
            refund_asked |= c.payload.refund;
        }
    }
    assert!(
        refund_asked,
        "payments was asked to refund the late payment"
    );
}

#[tokio::test]
async fn the_same_event_twice_changes_nothing_the_second_time() {
    let (app, bus) = saga().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let id = order_id(&place(&app, &app.ada, &[(lamp, 1)], "k").await);
    let reserved = bus
        .publish(
            "products",
            lamps_reserved(id, lamp, 1, chrono::Duration::zero()),
        )
        .await;
    bus.publish_raw(&reserved).await;
    wait_for(&app, id, OrderStatus::AwaitingPayment).await;
    assert!(bus.next_for("payments", WAIT).await.is_some());
    assert!(
        bus.next_for("payments", Duration::from_secs(1))
            .await
            .is_none(),
        "payment requested once"
    );
    let history: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_status_history WHERE order_id = $1")
            .bind(id)
            .fetch_one(app.orders.store().pool())
            .await
            .unwrap();
    assert_eq!(history, 2, "PENDING, AWAITING_PAYMENT");
}

#[tokio::test]
async fn the_correlation_id_of_a_request_travels_with_its_events() {
    let (app, bus) = saga().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let res = reqwest::Client::new()
        .post(&app.gql.url)
        .bearer_auth(&app.ada.token)
        .header("x-correlation-id", "corr-42")
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .json(&serde_json::json!({
            "query": crate::helpers::PLACE_ORDER,
            "variables": {"input": {"shippingAddress": crate::helpers::address(), "paymentToken": "tok_visa",
                          "items": [{"productId": lamp, "quantity": 1}]}, "key": "k"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-correlation-id"], "corr-42", "echoed back");
    let (placed, props) = bus
        .next_message_for("products", WAIT)
        .await
        .expect("order.placed");
    assert_eq!(placed.correlation_id.as_deref(), Some("corr-42"));
    assert_eq!(
        events::amqp::header(&props, events::amqp::CORRELATION_HEADER).as_deref(),
        Some("corr-42")
    );
    assert_eq!(
        events::amqp::header(&props, events::amqp::TRACEPARENT_HEADER).as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    // The answer to it keeps the correlation: orders requests payment under the same id.
    let id = placed.decode::<OrderPlaced>().unwrap().payload.order_id;
    let mut reserved = events::Envelope::new(
        "products",
        lamps_reserved(id, lamp, 1, chrono::Duration::zero()),
        events::EventMeta::caused_by(&placed),
    )
    .into_raw()
    .unwrap();
    reserved.source = "products".into();
    bus.publish_raw(&reserved).await;
    let requested = bus
        .next_for("payments", WAIT)
        .await
        .expect("payment.requested");
    assert_eq!(requested.correlation_id.as_deref(), Some("corr-42"));
    assert_eq!(requested.causation_id, Some(reserved.id));
}

/// An order of two lamps (5000) taken to PAID through the bus.
async fn paid_order(app: &TestApp, bus: &TestBus, key: &str) -> Uuid {
    let lamp = app.catalog.add("lamp", 2500, 10);
    let id = order_id(&place(app, &app.ada, &[(lamp, 2)], key).await);
    bus.publish(
        "products",
        lamps_reserved(id, lamp, 2, chrono::Duration::minutes(15)),
    )
    .await;
    wait_for(app, id, OrderStatus::AwaitingPayment).await;
    bus.publish(
        "payments",
        PaymentSucceeded {
            order_id: id,
            payment_id: Uuid::now_v7(),
            amount: Money::new(5000, Currency::EUR),
        },
    )
    .await;
    wait_for(app, id, OrderStatus::Paid).await;
    id
}

async fn refunded(bus: &TestBus, id: Uuid, amount: i64) {
    bus.publish(
        "payments",
        PaymentRefunded {
            order_id: id,
            payment_id: Uuid::now_v7(),
            amount: Money::new(amount, Currency::EUR),
        },
    )
    .await;
}

const SHIP: &str = "mutation($id: ID!) { shipOrder(id: $id) { status } }";

#[tokio::test]
async fn an_admin_refund_moves_a_paid_order_and_a_refunded_order_is_never_shipped() {
    let (app, bus) = saga().await;
    let id = paid_order(&app, &bus, "k").await;
    refunded(&bus, id, 1000).await;
    wait_for(&app, id, OrderStatus::PartiallyRefunded).await;
    let res = app
        .gql
        .query(
            "query($id: ID!) { order(id: $id) { status } }",
            serde_json::json!({"id": id}),
            Some(&app.ada.token),
        )
        .await;
    assert_eq!(
        res["data"]["order"]["status"], "PARTIALLY_REFUNDED",
        "{res}"
    );
    // The rest of it: the order is over, and the sold stock comes back.
    refunded(&bus, id, 4000).await;
    wait_for(&app, id, OrderStatus::Refunded).await;
    let res = app
        .gql
        .query(SHIP, serde_json::json!({"id": id}), Some(&app.admin.token))
        .await;
    assert_eq!(
        testkit::first_error_code(&res).as_deref(),
        Some("CONFLICT"),
        "{res}"
    );
    let mut restock = None;
    while let Some(e) = bus.next_for("products", Duration::from_secs(2)).await {
        if let Ok(c) = e.decode::<OrderCancelled>() {
            restock = Some((c.payload.refund, c.payload.restock, c.payload.items.len()));
        }
    }
    assert_eq!(
        restock,
        Some((false, true, 1)),
        "products restocks, payments refunds nothing more"
    );

    // A partially refunded order may still be shipped.
    let other = paid_order(&app, &bus, "k2").await;
    refunded(&bus, other, 500).await;
    wait_for(&app, other, OrderStatus::PartiallyRefunded).await;
    let res = app
        .gql
        .query(
            SHIP,
            serde_json::json!({"id": other}),
            Some(&app.admin.token),
        )
        .await;
    assert_eq!(res["data"]["shipOrder"]["status"], "SHIPPED", "{res}");
}

#[tokio::test]
async fn a_cancelled_paid_order_ends_refunded_even_when_the_refund_is_announced_twice() {
    let (app, bus) = saga().await;
    let id = paid_order(&app, &bus, "k").await;
    // An admin refunds everything while the customer cancels: both reach
    // payments, which announces the (already) full refund twice.
    app.orders
        .cancel_order(&app.ada.viewer, &id.to_string(), None)
        .await
        .unwrap();
    wait_for(&app, id, OrderStatus::RefundPending).await;
    refunded(&bus, id, 5000).await;
    wait_for(&app, id, OrderStatus::Refunded).await;
    refunded(&bus, id, 5000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status_of(&app, id).await, OrderStatus::Refunded);
    let refunded_amount: i64 =
        sqlx::query_scalar("SELECT refunded_amount FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(app.orders.store().pool())
            .await
            .unwrap();
    assert_eq!(refunded_amount, 5000, "never more than the total");
}
