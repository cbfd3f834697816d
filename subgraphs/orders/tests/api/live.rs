//! Live order status on the subgraph itself: `orderStatusChanged` over
//! Server-Sent Events sends the current status at once, then each change
//! (committed through another connection: the trigger's notification), and
//! ends once the order is settled; only the owner or an admin may watch, and
//! each user holds a bounded number of live subscriptions.

use std::time::{Duration, Instant};

use orders::app::ChangeContext;
use orders::domain::Trigger;
use serde_json::json;
use testkit::{first_error_code, SseSubscription};
use uuid::Uuid;

use crate::helpers::{order_id, place, spawn_app, user};

const WATCH: &str = "subscription($id: ID!) { orderStatusChanged(id: $id) { id status } }";
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_current_status_comes_at_once_then_each_change_then_the_end() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let id = order_id(&place(&app, &app.ada, &[(lamp, 1)], &Uuid::now_v7().to_string()).await);
    let url = format!("{}/graphql", app.base_url);
    let started = Instant::now();
    let mut sse =
        SseSubscription::start(&url, Some(&app.ada.token), WATCH, json!({"id": id})).await;
    let first = sse.next(WAIT).await.expect("the current status");
    assert_eq!(
        first["data"]["orderStatusChanged"]["status"], "PENDING",
        "{first}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the current status is sent at once, not at the first change"
    );
    for (trigger, expected) in [
        (Trigger::StockReserved, "AWAITING_PAYMENT"),
        (Trigger::PaymentSucceeded, "PAID"),
        (Trigger::CancelRequested, "REFUND_PENDING"),
        (Trigger::Refunded, "REFUNDED"),
    ] {
        let ctx = ChangeContext {
            payment_id: Some(Uuid::now_v7()),
            ..ChangeContext::default()
        };
        app.orders
            .apply(id, trigger, ctx, None)
            .await
            .expect("applied");
        let event = sse.next(WAIT).await.expect("the change");
        assert_eq!(
            event["data"]["orderStatusChanged"]["status"], expected,
            "{event}"
        );
    }
    assert!(sse.next(WAIT).await.is_none(), "nothing after REFUNDED");
    assert!(sse.completed, "the stream completes");
}

#[tokio::test]
async fn only_the_owner_or_an_admin_may_watch_and_each_user_holds_few_subscriptions() {
    let app = spawn_app().await;
    let lamp = app.catalog.add("lamp", 2500, 10);
    let id = order_id(&place(&app, &app.ada, &[(lamp, 1)], &Uuid::now_v7().to_string()).await);
    let url = format!("{}/graphql", app.base_url);
    let eve = user(platform::auth::Role::Customer);
    for (token, code) in [
        // Like an unknown order: eve cannot tell it exists.
        (Some(eve.token.as_str()), "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ] {
        let mut sse = SseSubscription::start(&url, token, WATCH, json!({"id": id})).await;
        let event = sse.next(WAIT).await.expect("an answer");
        assert_eq!(first_error_code(&event).as_deref(), Some(code), "{event}");
    }
    let mut admin =
        SseSubscription::start(&url, Some(&app.admin.token), WATCH, json!({"id": id})).await;
    let event = admin.next(WAIT).await.expect("an answer");
    assert_eq!(
        event["data"]["orderStatusChanged"]["status"], "PENDING",
        "{event}"
    );

    let mut held = Vec::new();
    for _ in 0..orders::live::MAX_PER_VIEWER {
        let mut sse =
            SseSubscription::start(&url, Some(&app.ada.token), WATCH, json!({"id": id})).await;
        let event = sse.next(WAIT).await.expect("an answer");
        assert!(event["errors"].is_null(), "{event}");
        held.push(sse);
    }
    let mut one_more =
        SseSubscription::start(&url, Some(&app.ada.token), WATCH, json!({"id": id})).await;
    let event = one_more.next(WAIT).await.expect("an answer");
    assert_eq!(
        first_error_code(&event).as_deref(),
        Some("RATE_LIMITED"),
        "{event}"
    );
    drop(held);
    // The server notices the closed streams at their next write (a keep-alive
    // or a change): a status change frees the places at once.
    let ctx = ChangeContext::default();
    app.orders
        .apply(id, Trigger::StockReserved, ctx, None)
        .await
        .expect("applied");
    let mut freed = None;
    for _ in 0..50 {
        let mut sse =
            SseSubscription::start(&url, Some(&app.ada.token), WATCH, json!({"id": id})).await;
        let event = sse.next(WAIT).await.expect("an answer");
        if event["errors"].is_null() {
            freed = Some(event);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        freed.is_some(),
        "closed subscriptions give their places back"
    );
}
