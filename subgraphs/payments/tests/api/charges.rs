//! Charging orders through the simulated provider.

use std::sync::atomic::Ordering;

use payments::domain::PaymentStatus;
use platform::auth::Role;
use uuid::Uuid;

use crate::helpers::{charge_request, spawn_app, user};

#[tokio::test]
async fn a_good_card_is_charged_and_remembered() {
    let app = spawn_app().await;
    let payment = app
        .payments
        .charge(&charge_request(Uuid::now_v7(), 4999, "tok_visa"), None)
        .await
        .unwrap();
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
        let p = app
            .payments
            .charge(&charge_request(Uuid::now_v7(), 1000, token), None)
            .await
            .unwrap();
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
async fn a_zero_or_negative_charge_is_refused() {
    let app = spawn_app().await;
    let err = app
        .payments
        .charge(&charge_request(Uuid::now_v7(), 0, "tok_visa"), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "BAD_USER_INPUT");
    let _ = user(Role::Customer);
}
