//! The payments side of the order saga on the real RabbitMQ: the test plays the
//! orders service.

use std::sync::atomic::Ordering;
use std::time::Duration;

use events::catalogue::{PaymentFailed, PaymentRefunded, PaymentSucceeded};
use platform::{Currency, Money};

use crate::helpers::{answer, cancel_order, payment_request, send_as_orders, spawn_saga};

#[tokio::test]
async fn a_requested_payment_is_charged_and_announced() {
    let (_app, bus) = spawn_saga().await;
    let req = payment_request("tok_visa");
    let cause = send_as_orders(&bus, req.clone()).await;
    let ok = answer::<PaymentSucceeded>(&bus).await;
    assert_eq!(
        (ok.payload.order_id, ok.payload.amount.amount),
        (req.order_id, 4200)
    );
    assert_eq!(ok.causation_id, Some(cause.id));
}

#[tokio::test]
async fn a_declined_card_is_announced_as_failed() {
    let (_app, bus) = spawn_saga().await;
    send_as_orders(&bus, payment_request("tok_chargeDeclined")).await;
    let failed = answer::<PaymentFailed>(&bus).await;
    assert_eq!(failed.payload.reason, "card_declined");
}

#[tokio::test]
async fn the_same_request_delivered_twice_charges_once() {
    let (app, bus) = spawn_saga().await;
    let req = payment_request("tok_visa");
    let cause = send_as_orders(&bus, req.clone()).await;
    bus.publish_raw(&cause).await;
    answer::<PaymentSucceeded>(&bus).await;
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
    let (_app, bus) = spawn_saga().await;
    let req = payment_request("tok_visa");
    send_as_orders(&bus, req.clone()).await;
    answer::<PaymentSucceeded>(&bus).await;
    cancel_order(&bus, req.order_id, "customer asked", true).await;
    let refunded = answer::<PaymentRefunded>(&bus).await;
    assert_eq!(refunded.payload.amount.amount, 4200);

    let late = payment_request("tok_visa");
    cancel_order(&bus, late.order_id, "too slow", false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_as_orders(&bus, late).await;
    let failed = answer::<PaymentFailed>(&bus).await;
    assert_eq!(failed.payload.reason, "order_cancelled");
}

#[tokio::test]
async fn cancelling_an_order_whose_payment_was_refunded_in_full_still_announces_the_refund() {
    let (app, bus) = spawn_saga().await;
    let req = payment_request("tok_visa");
    send_as_orders(&bus, req.clone()).await;
    let paid = answer::<PaymentSucceeded>(&bus).await;
    // An administrator refunds everything...
    let res = app
        .as_admin(
            "mutation($id: ID!) { refundPayment(paymentId: $id, reason: \"goodwill\") { status } }",
            serde_json::json!({"id": paid.payload.payment_id}),
        )
        .await;
    assert_eq!(res["data"]["refundPayment"]["status"], "REFUNDED", "{res}");
    let first = answer::<PaymentRefunded>(&bus).await;
    assert_eq!(first.payload.amount.amount, 4200);
    // ... then the customer cancels: nothing is left to refund, but orders
    // (waiting in REFUND_PENDING) hears that the payment is refunded.
    cancel_order(&bus, req.order_id, "customer asked", true).await;
    let again = answer::<PaymentRefunded>(&bus).await;
    assert_eq!(
        (again.payload.order_id, again.payload.amount.amount),
        (req.order_id, 4200)
    );
}

#[tokio::test]
async fn a_free_order_is_paid_without_a_charge_and_its_cancellation_settles() {
    let (app, bus) = spawn_saga().await;
    let mut req = payment_request("tok_visa");
    req.amount = Money::new(0, Currency::EUR);
    send_as_orders(&bus, req.clone()).await;
    let ok = answer::<PaymentSucceeded>(&bus).await;
    assert_eq!(ok.payload.amount.amount, 0);
    assert_eq!(app.provider.calls.load(Ordering::SeqCst), 0);
    cancel_order(&bus, req.order_id, "changed my mind", true).await;
    let refunded = answer::<PaymentRefunded>(&bus).await;
    assert_eq!(refunded.payload.amount.amount, 0);
}
