//! The order's life: cancelling, shipping, delivering, and who may do what.

use orders::app::ChangeContext;
use orders::domain::{OrderStatus, Trigger};
use platform::auth::Role;
use serde_json::json;
use testkit::first_error_code;
use uuid::Uuid;

use crate::helpers::{order_id, place, spawn_app, user, TestApp};

const CANCEL: &str = "mutation($id: ID!) { cancelOrder(id: $id, reason: \"changed my mind\") { status statusHistory { status reason } } }";
const SHIP: &str = "mutation($id: ID!) { shipOrder(id: $id) { status } }";
const DELIVER: &str = "mutation($id: ID!) { deliverOrder(id: $id) { status } }";

async fn placed(app: &TestApp) -> Uuid {
    let lamp = app.catalog.add("lamp", 2500, 10);
    order_id(&place(app, &app.ada, &[(lamp, 1)], &Uuid::now_v7().to_string()).await)
}

async fn drive(app: &TestApp, id: Uuid, triggers: &[Trigger]) {
    for t in triggers {
        let ctx = ChangeContext {
            reason: Some(format!("{t:?}")),
            payment_id: Some(Uuid::now_v7()),
            ..ChangeContext::default()
        };
        app.orders.apply(id, *t, ctx, None).await.unwrap();
    }
}

async fn outbox_types(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT routing_key FROM outbox ORDER BY seq")
        .fetch_all(app.orders.store().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pending_order_is_cancelled_and_the_cancellation_announced() {
    let app = spawn_app().await;
    let id = placed(&app).await;
    let res = app
        .gql
        .query(CANCEL, json!({"id": id}), Some(&app.ada.token))
        .await;
    assert_eq!(res["data"]["cancelOrder"]["status"], "CANCELLED", "{res}");
    assert_eq!(
        res["data"]["cancelOrder"]["statusHistory"][1]["reason"],
        "changed my mind"
    );
    assert_eq!(
        outbox_types(&app).await,
        vec!["order.placed", "order.cancelled"]
    );
    let again = app
        .gql
        .query(CANCEL, json!({"id": id}), Some(&app.ada.token))
        .await;
    assert_eq!(
        first_error_code(&again).as_deref(),
        Some("CONFLICT"),
        "{again}"
    );
}

#[tokio::test]
async fn a_paid_order_is_shipped_and_delivered_by_an_admin_only() {
    let app = spawn_app().await;
    let id = placed(&app).await;
    let early = app
        .gql
        .query(SHIP, json!({"id": id}), Some(&app.admin.token))
        .await;
    assert_eq!(
        first_error_code(&early).as_deref(),
        Some("CONFLICT"),
        "cannot ship unpaid: {early}"
    );
    drive(
        &app,
        id,
        &[Trigger::StockReserved, Trigger::PaymentSucceeded],
    )
    .await;
    let res = app
        .gql
        .query(SHIP, json!({"id": id}), Some(&app.ada.token))
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("FORBIDDEN"),
        "{res}"
    );
    let res = app
        .gql
        .query(SHIP, json!({"id": id}), Some(&app.admin.token))
        .await;
    assert_eq!(res["data"]["shipOrder"]["status"], "SHIPPED", "{res}");
    let res = app
        .gql
        .query(CANCEL, json!({"id": id}), Some(&app.ada.token))
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("CONFLICT"),
        "shipped orders are not cancelled: {res}"
    );
    let res = app
        .gql
        .query(DELIVER, json!({"id": id}), Some(&app.admin.token))
        .await;
    assert_eq!(res["data"]["deliverOrder"]["status"], "DELIVERED", "{res}");
    assert_eq!(
        outbox_types(&app).await,
        vec![
            "order.placed",
            "payment.requested",
            "order.paid",
            "order.shipped",
            "order.delivered"
        ]
    );
}

#[tokio::test]
async fn cancelling_a_paid_order_asks_for_a_refund_and_restock() {
    let app = spawn_app().await;
    let id = placed(&app).await;
    drive(
        &app,
        id,
        &[Trigger::StockReserved, Trigger::PaymentSucceeded],
    )
    .await;
    let res = app
        .gql
        .query(CANCEL, json!({"id": id}), Some(&app.ada.token))
        .await;
    assert_eq!(
        res["data"]["cancelOrder"]["status"], "REFUND_PENDING",
        "{res}"
    );
    let envelope: serde_json::Value =
        sqlx::query_scalar("SELECT envelope FROM outbox WHERE routing_key = 'order.cancelled'")
            .fetch_one(app.orders.store().pool())
            .await
            .unwrap();
    assert_eq!(envelope["payload"]["refund"], true);
    assert_eq!(envelope["payload"]["restock"], true);
    assert_eq!(envelope["payload"]["items"][0]["quantity"], 1);
    drive(&app, id, &[Trigger::Refunded]).await;
    let order = app
        .orders
        .store()
        .orders_by_ids(&[id])
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(order.status, OrderStatus::Refunded);
}

#[tokio::test]
async fn another_customer_can_neither_see_nor_cancel_your_order() {
    let app = spawn_app().await;
    let id = placed(&app).await;
    let eve = user(Role::Customer);
    // Answered exactly as an unknown id is, so eve cannot tell the order exists.
    let res = app
        .gql
        .query(
            "query($id: ID!) { order(id: $id) { status } }",
            json!({"id": id}),
            Some(&eve.token),
        )
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("NOT_FOUND"),
        "{res}"
    );
    let res = app
        .gql
        .query(CANCEL, json!({"id": id}), Some(&eve.token))
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("NOT_FOUND"),
        "{res}"
    );
    let res = app
        .gql
        .query(
            "query($id: ID!) { order(id: $id) { status } }",
            json!({"id": id}),
            Some(&app.admin.token),
        )
        .await;
    assert_eq!(res["data"]["order"]["status"], "PENDING", "{res}");
    let res = app
        .gql
        .query(
            "query($id: ID!) { order(id: $id) { status } }",
            json!({"id": Uuid::now_v7()}),
            Some(&app.ada.token),
        )
        .await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("NOT_FOUND"),
        "{res}"
    );
}

#[tokio::test]
async fn admins_list_orders_by_status() {
    let app = spawn_app().await;
    let a = placed(&app).await;
    let _b = placed(&app).await;
    drive(&app, a, &[Trigger::StockReserved]).await;
    let q =
        "query($s: OrderStatus) { orders(status: $s, first: 10) { edges { node { id status } } } }";
    let res = app
        .gql
        .query(q, json!({"s": "AWAITING_PAYMENT"}), Some(&app.admin.token))
        .await;
    let edges = res["data"]["orders"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{res}"));
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["id"], a.to_string());
    let res = app.gql.query(q, json!({}), Some(&app.ada.token)).await;
    assert_eq!(
        first_error_code(&res).as_deref(),
        Some("FORBIDDEN"),
        "{res}"
    );
}
