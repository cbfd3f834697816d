//! Charging orders through the simulated provider.

use std::sync::atomic::Ordering;

use payments::domain::PaymentStatus;
use platform::auth::Role;
use uuid::Uuid;

use crate::helpers::{charge_request, spawn_app, user, TestApp};

#[tokio::test]
async fn a_good_card_is_charged_and_remembered() {
    let app = spawn_app().await;
    let payment = app.charged(4999, "tok_visa").await;
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    let card = payment.card.expect("card");
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("VISA", "4242"));
    assert_eq!(payment.amount.amount, 4999);
}

#[tokio::test]
async fn each_decline_reason_fails_the_payment_with_that_reason() {
    let app = spawn_app().await;
    for (token, reason) in [
        ("tok_chargeDeclined", "card_declined"),
        ("tok_insufficientFunds", "insufficient_funds"),
        ("tok_expiredCard", "expired_card"),
        ("tok_incorrectCvc", "incorrect_cvc"),
        ("tok_madeUp", "invalid_token"),
    ] {
        let p = app.charged(1000, token).await;
        assert_eq!(p.status, PaymentStatus::Failed, "{token}");
        assert_eq!(p.failure_reason.as_deref(), Some(reason), "{token}");
        assert!(p.card.is_none());
    }
}

#[tokio::test]
async fn charging_the_same_order_twice_charges_once() {
    let app = spawn_app().await;
    let request = charge_request(Uuid::now_v7(), 1500, "tok_mastercard");
    let first = app.payments.charge(&request, None).await.unwrap();
    let second = app.payments.charge(&request, None).await.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(
        app.provider.calls.load(Ordering::SeqCst),
        1,
        "the provider was called once"
    );
}

#[tokio::test]
async fn a_provider_that_fails_or_hangs_leaves_the_payment_pending_for_a_retry() {
    let app = spawn_app().await;
    for token in ["tok_processingError", "tok_timeout"] {
        let err = app
            .payments
            .charge(&charge_request(Uuid::now_v7(), 1000, token), None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "SERVICE_UNAVAILABLE", "{token}");
    }
    // A flaky provider: the first attempt fails, the retry succeeds, once.
    app.provider.failures_left.store(1, Ordering::SeqCst);
    let request = charge_request(Uuid::now_v7(), 1000, "tok_visa");
    assert!(app.payments.charge(&request, None).await.is_err());
    let pending = app
        .payments
        .store()
        .payments_by_order_ids(&[request.order_id])
        .await
        .unwrap();
    assert_eq!(pending[0].status, PaymentStatus::Pending);
    let retried = app.payments.charge(&request, None).await.unwrap();
    assert_eq!(
        (retried.id, retried.status),
        (pending[0].id, PaymentStatus::Succeeded)
    );
}

#[tokio::test]
async fn a_free_order_succeeds_without_the_provider_and_a_negative_charge_is_refused() {
    let app = spawn_app().await;
    let free = app.charged(0, "tok_visa").await;
    assert_eq!(free.status, PaymentStatus::Succeeded);
    assert!(free.card.is_none());
    assert_eq!(
        app.provider.calls.load(Ordering::SeqCst),
        0,
        "nothing charged"
    );
    let announced: Vec<String> = sqlx::query_scalar("SELECT routing_key FROM outbox ORDER BY seq")
        .fetch_all(app.payments.store().pool())
        .await
        .unwrap();
    assert_eq!(announced, vec!["payment.succeeded"]);
    let err = app
        .payments
        .charge(&charge_request(Uuid::now_v7(), -1, "tok_visa"), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "BAD_USER_INPUT");
    let _ = user(Role::Customer);
}

#[tokio::test]
async fn a_charge_that_timed_out_is_looked_up_on_the_next_attempt_not_charged_twice() {
    let app = spawn_app().await;
    let request = charge_request(Uuid::now_v7(), 1000, "tok_timeoutAfterCharge");
    let err = app.payments.charge(&request, None).await.unwrap_err();
    assert_eq!(err.code(), "SERVICE_UNAVAILABLE");
    // The provider took the money although it never said so: the retry asks
    // before it charges, and settles on the provider's record.
    let retried = app.payments.charge(&request, None).await.unwrap();
    assert_eq!(retried.status, PaymentStatus::Succeeded);
    assert_eq!(app.provider.calls.load(Ordering::SeqCst), 1, "charged once");
    assert_eq!(app.provider.lookups.load(Ordering::SeqCst), 1);
    // A first attempt does not need a lookup.
    app.charged(1000, "tok_visa").await;
    assert_eq!(app.provider.lookups.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_charge_in_doubt_for_a_cancelled_order_settles_on_what_the_provider_did() {
    let app = spawn_app().await;
    let request = charge_request(Uuid::now_v7(), 1000, "tok_timeoutAfterCharge");
    assert!(app.payments.charge(&request, None).await.is_err());
    record_cancelled(&app, request.order_id).await;
    // Not "failed, order cancelled": the card was charged, so the payment
    // succeeded (and orders will ask for the refund of a cancelled order).
    let settled = app.payments.charge(&request, None).await.unwrap();
    assert_eq!(settled.status, PaymentStatus::Succeeded);
    // A cancelled order whose charge never reached the provider fails.
    app.provider.failures_left.store(1, Ordering::SeqCst);
    let flaky = charge_request(Uuid::now_v7(), 1000, "tok_visa");
    assert!(app.payments.charge(&flaky, None).await.is_err());
    record_cancelled(&app, flaky.order_id).await;
    let failed = app.payments.charge(&flaky, None).await.unwrap();
    assert_eq!(failed.failure_reason.as_deref(), Some("order_cancelled"));
}

#[tokio::test]
async fn the_sweeper_settles_charges_in_doubt_and_announces_them() {
    let app = spawn_app().await;
    let request = charge_request(Uuid::now_v7(), 1000, "tok_timeoutAfterCharge");
    assert!(app.payments.charge(&request, None).await.is_err());
    let settled = app
        .payments
        .reconcile_in_doubt(std::time::Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(settled, 1);
    let payment = app
        .payments
        .store()
        .payments_by_order_ids(&[request.order_id])
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    let announced: Vec<String> = sqlx::query_scalar("SELECT routing_key FROM outbox ORDER BY seq")
        .fetch_all(app.payments.store().pool())
        .await
        .unwrap();
    assert_eq!(announced, vec!["payment.succeeded"]);
    assert_eq!(app.provider.calls.load(Ordering::SeqCst), 1);
    // A plain timeout charged nothing: the sweeper leaves it to the retry.
    let hung = charge_request(Uuid::now_v7(), 1000, "tok_timeout");
    assert!(app.payments.charge(&hung, None).await.is_err());
    let settled = app
        .payments
        .reconcile_in_doubt(std::time::Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(settled, 0);
}

/// Records `order_id` as cancelled, as the saga does when orders cancels it.
async fn record_cancelled(app: &TestApp, order_id: Uuid) {
    sqlx::query("INSERT INTO cancelled_orders (order_id) VALUES ($1)")
        .bind(order_id)
        .execute(app.payments.store().pool())
        .await
        .unwrap();
}
