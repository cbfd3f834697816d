//! The payments side of the order saga on the real RabbitMQ: the test plays the
//! orders service.

use std::time::Duration;

use events::catalogue::{
    OrderCancelled, PaymentFailed, PaymentRefunded, PaymentRequested, PaymentSucceeded,
};
use events::testing::TestBus;
use platform::{Currency, Money};
use uuid::Uuid;

use crate::helpers::{spawn_app_with, test_config, TestApp};

const WAIT: Duration = Duration::from_secs(10);

async fn saga() -> (TestApp, TestBus) {
    let bus = TestBus::new().await;
    let mut config = test_config();
    config.event_workers = true;
    config.events_prefix = bus.prefix();
    (spawn_app_with(config).await, bus)
}

fn request(token: &str) -> PaymentRequested {
    PaymentRequested {
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        amount: Money::new(4200, Currency::EUR),
        payment_token: token.into(),
    }
}

#[tokio::test]
async fn a_requested_payment_is_charged_and_announced() {
    let (_app, bus) = saga().await;
    let req = request("tok_visa");
    let cause = bus.publish("orders", req.clone()).await;
    let reply = bus
        .next_for("orders", WAIT)
        .await
        .expect("payments answered");
    let ok = reply
        .decode::<PaymentSucceeded>()
        .expect("payment.succeeded");
    assert_eq!(
        (ok.payload.order_id, ok.payload.amount.amount),
        (req.order_id, 4200)
    );
    assert_eq!(ok.causation_id, Some(cause.id));
}

#[tokio::test]
async fn a_declined_card_is_announced_as_failed() {
    let (_app, bus) = saga().await;
    bus.publish("orders", request("tok_chargeDeclined")).await;
    let failed = bus
        .next_for("orders", WAIT)
        .await
        .expect("answer")
        .decode::<PaymentFailed>()
        .expect("payment.failed");
    assert_eq!(failed.payload.reason, "card_declined");
}

#[tokio::test]
async fn the_same_request_delivered_twice_charges_once() {
    let (app, bus) = saga().await;
    let req = request("tok_visa");
    let cause = bus.publish("orders", req.clone()).await;
    bus.publish_raw(&cause).await;
    bus.next_for("orders", WAIT)
        .await
        .expect("answer")
        .decode::<PaymentSucceeded>()
        .expect("succeeded");
    assert!(
        bus.next_for("orders", Duration::from_secs(1))
            .await
            .is_none(),
        "one answer"
    );
    assert_eq!(
        app.payments
            .store()
            .payments_by_order_ids(&[req.order_id])
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_cancelled_paid_order_is_refunded_and_an_order_cancelled_first_is_never_charged() {
    let (_app, bus) = saga().await;
    let req = request("tok_visa");
    bus.publish("orders", req.clone()).await;
    bus.next_for("orders", WAIT)
        .await
        .expect("answer")
        .decode::<PaymentSucceeded>()
        .expect("succeeded");
    bus.publish(
        "orders",
        OrderCancelled {
            order_id: req.order_id,
            reason: "customer asked".into(),
            refund: true,
            restock: true,
            items: vec![],
        },
    )
    .await;
    let refunded = bus
        .next_for("orders", WAIT)
        .await
        .expect("answer")
        .decode::<PaymentRefunded>()
        .expect("refunded");
    assert_eq!(refunded.payload.amount.amount, 4200);

    let late = request("tok_visa");
    bus.publish(
        "orders",
        OrderCancelled {
            order_id: late.order_id,
            reason: "too slow".into(),
            refund: false,
            restock: false,
            items: vec![],
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    bus.publish("orders", late).await;
    let failed = bus
        .next_for("orders", WAIT)
        .await
        .expect("answer")
        .decode::<PaymentFailed>()
        .expect("failed");
    assert_eq!(failed.payload.reason, "order_cancelled");
}

#[tokio::test]
async fn cancelling_an_order_whose_payment_was_refunded_in_full_still_announces_the_refund() {
    let (app, bus) = saga().await;
    let req = request("tok_visa");
    bus.publish("orders", req.clone()).await;
    let paid = bus
        .next_for("orders", WAIT)
        .await
        .expect("answer")
        .decode::<PaymentSucceeded>()
        .expect("succeeded");
    // An administrator refunds everything...
    let res = app
        .gql
        .query(
            "mutation($id: ID!) { refundPayment(paymentId: $id, reason: \"goodwill\") { status } }",
            serde_json::json!({"id": paid.payload.payment_id}),
            Some(&app.admin.token),
        )
        .await;
    assert_eq!(res["data"]["refundPayment"]["status"], "REFUNDED", "{res}");
    let first = bus
        .next_for("orders", WAIT)
        .await
        .expect("answer")
        .decode::<PaymentRefunded>()
        .expect("refunded");
    assert_eq!(first.payload.amount.amount, 4200);
    // ... then the customer cancels: nothing is left to refund, but orders
    // (waiting in REFUND_PENDING) hears that the payment is refunded.
    bus.publish(
        "orders",
        OrderCancelled {
            order_id: req.order_id,
            reason: "customer asked".into(),
            refund: true,
            restock: true,
            items: vec![],
        },
    )
    .await;
    let again = bus
        .next_for("orders", WAIT)
        .await
        .expect("payment.refunded announced again")
        .decode::<PaymentRefunded>()
        .expect("refunded");
    assert_eq!(
        (again.payload.order_id, again.payload.amount.amount),
        (req.order_id, 4200)
    );
}

#[tokio::test]
async fn a_free_order_is_paid_without_a_charge_and_its_cancellation_settles() {
    let (app, bus) = saga().await;
    let mut req = request("tok_visa");
    req.amount = Money::new(0, Currency::EUR);
    bus.publish("orders", req.clone()).await;
    let ok = bus
        .next_for("orders", WAIT)
        .await
        .expect("answered, not dead-lettered")
        .decode::<PaymentSucceeded>()
        .expect("payment.succeeded");
    assert_eq!(ok.payload.amount.amount, 0);
    assert_eq!(
        app.provider.calls.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    bus.publish(
        "orders",
        OrderCancelled {
            order_id: req.order_id,
            reason: "changed my mind".into(),
            refund: true,
            restock: true,
            items: vec![],
        },
    )
    .await;
    let refunded = bus
        .next_for("orders", WAIT)
        .await
        .expect("answer")
        .decode::<PaymentRefunded>()
        .expect("payment.refunded");
    assert_eq!(refunded.payload.amount.amount, 0);
}
