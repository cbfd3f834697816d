//! Refunds: full, partial, never more than was charged, administrators only.

use std::sync::atomic::Ordering;

use platform::auth::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{assert_error, charge_request, spawn_app, user};

const REFUND: &str = "mutation($id: ID!, $amount: Int, $reason: String!) {
  refundPayment(paymentId: $id, amount: $amount, reason: $reason) {
    status refundedAmount { amount } refunds { amount { amount currency } reason }
  }
}";

#[tokio::test]
async fn an_admin_refunds_part_then_the_rest() {
    let app = spawn_app().await;
    let p = app.charged(1000, "tok_visa").await;
    let vars = |amount: Option<i64>| json!({"id": p.id, "amount": amount, "reason": "damaged"});
    let res = app.as_admin(REFUND, vars(Some(300))).await;
    assert_eq!(
        res["data"]["refundPayment"]["status"], "PARTIALLY_REFUNDED",
        "{res}"
    );
    assert_eq!(
        res["data"]["refundPayment"]["refundedAmount"]["amount"],
        300
    );
    let res = app.as_admin(REFUND, vars(None)).await;
    assert_eq!(res["data"]["refundPayment"]["status"], "REFUNDED", "{res}");
    assert_eq!(
        res["data"]["refundPayment"]["refunds"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let res = app.as_admin(REFUND, vars(Some(1))).await;
    assert_error(&res, "CONFLICT");
}

#[tokio::test]
async fn more_than_was_charged_cannot_be_refunded() {
    let app = spawn_app().await;
    let p = app.charged(1000, "tok_visa").await;
    let res = app
        .as_admin(REFUND, json!({"id": p.id, "amount": 1001, "reason": "x"}))
        .await;
    assert_error(&res, "CONFLICT");
    let res = app
        .as_admin(REFUND, json!({"id": p.id, "amount": -5, "reason": "x"}))
        .await;
    assert_error(&res, "BAD_USER_INPUT");
    let res = app
        .as_admin(REFUND, json!({"id": p.id, "reason": ""}))
        .await;
    assert_error(&res, "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_failed_payment_cannot_be_refunded() {
    let app = spawn_app().await;
    let p = app.charged(1000, "tok_chargeDeclined").await;
    let res = app
        .as_admin(REFUND, json!({"id": p.id, "reason": "x"}))
        .await;
    assert_error(&res, "CONFLICT");
}

#[tokio::test]
async fn only_administrators_refund() {
    let app = spawn_app().await;
    let customer = user(Role::Customer);
    let p = app
        .payments
        .charge(&charge_request(customer.id, 1000, "tok_visa"), None)
        .await
        .unwrap();
    let vars = json!({"id": p.id, "reason": "I want my money"});
    let res = app
        .gql
        .query(REFUND, vars.clone(), Some(&customer.token))
        .await;
    assert_error(&res, "FORBIDDEN");
    let res = app.gql.query(REFUND, vars, None).await;
    assert_error(&res, "UNAUTHENTICATED");
    let res = app
        .as_admin(REFUND, json!({"id": Uuid::now_v7(), "reason": "x"}))
        .await;
    assert_error(&res, "NOT_FOUND");
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_amount() {
    let app = spawn_app().await;
    let p = app.charged(1000, "tok_visa").await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let payments = app.payments.clone();
        let admin = platform::auth::Viewer {
            user_id: app.admin.id,
            role: Role::Admin,
        };
        let id = p.id.to_string();
        tasks.push(tokio::spawn(async move {
            payments.refund(&admin, &id, Some(300), "split").await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(
        ok, 3,
        "three refunds of 300 fit in 1000, the fourth does not"
    );
    let after = app
        .payments
        .store()
        .payments_by_ids(&[p.id])
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(after.refunded, 900);
}

#[tokio::test]
async fn refunds_go_through_the_card_provider() {
    let app = spawn_app().await;
    let p = app.charged(1000, "tok_visa").await;
    let res = app
        .as_admin(
            REFUND,
            json!({"id": p.id, "amount": 400, "reason": "damaged"}),
        )
        .await;
    assert_eq!(
        res["data"]["refundPayment"]["status"], "PARTIALLY_REFUNDED",
        "{res}"
    );
    assert_eq!(app.provider.refunds.load(Ordering::SeqCst), 1);
    let references: Vec<Option<String>> =
        sqlx::query_scalar("SELECT provider_reference FROM refunds WHERE payment_id = $1")
            .bind(p.id)
            .fetch_all(app.payments.store().pool())
            .await
            .unwrap();
    assert_eq!(references.len(), 1);
    assert!(
        references[0]
            .as_deref()
            .is_some_and(|r| r.starts_with("sim_re_")),
        "{references:?}"
    );
}
