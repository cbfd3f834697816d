//! One trace per order: with OTLP configured (here a receiver in the test), the
//! router and every service export their spans, and an order placed through
//! the router is one trace from the router's span through orders (and its
//! price quote from products), users (the customer's e-mail), and on through
//! the saga's events: products reserving, payments charging, orders marking
//! it paid.

use std::time::Duration;

use e2e::processes::ProcessStack;
use e2e::token;
use platform::auth::Role;
use serde_json::json;
use testkit::otlp::Collector;
use uuid::Uuid;

#[tokio::test]
async fn an_order_placed_through_the_router_is_one_trace_across_every_service() {
    let collector = Collector::start().await;
    let otel = [
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            collector.endpoint().to_string(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_string()),
    ];
    let router_env = [
        ("TELEMETRY_TRACING_SAMPLING_RATE", "1.0".to_string()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            collector.endpoint().to_string(),
        ),
    ];
    let stack = ProcessStack::start(&otel, &router_env).await;
    let admin = token(Uuid::now_v7(), Role::Admin);
    let product = e2e::create_product(&stack.gql, &admin, "TRACE-1", "Traced lamp", 1500, 10).await;
    let email = format!("trace-{}@shop.test", Uuid::now_v7().simple());
    let customer = e2e::register_customer(&stack.gql, &email).await;

    // The client starts the trace, as Kong or a browser would.
    let trace_id = format!("{:032x}", Uuid::now_v7().as_u128());
    let res = reqwest::Client::new()
        .post(&stack.gql.url)
        .bearer_auth(&customer)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({
            "query": "mutation($p: ID!) { placeOrder(input: {
                shippingAddress: {name: \"Tracy\", line1: \"1 Span St\", city: \"Oslo\", postalCode: \"0150\", country: \"NO\"},
                paymentToken: \"tok_visa\", items: [{productId: $p, quantity: 1}]
              }, idempotencyKey: \"trace-1\") { id status customer { email } } }",
            "variables": {"p": product},
        }))
        .send()
        .await
        .expect("placeOrder")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    let order = res["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("placeOrder: {res}"))
        .to_string();
    assert_eq!(
        res["data"]["placeOrder"]["customer"]["email"],
        email.as_str()
    );
    e2e::wait_for_status(&stack.gql, &customer, &order, "PAID").await;

    let everyone = ["router", "users", "products", "orders", "payments"];
    let found = collector
        .trace_spanning(&everyone, Duration::from_secs(30))
        .await;
    assert_eq!(
        found, trace_id,
        "the client's trace is the one that spans everything"
    );
    // The saga's consumers are in it, not only the request's fan-out.
    let spans = collector.spans();
    let events: Vec<_> = spans
        .iter()
        .filter(|s| s.trace_id == trace_id && s.name == "event")
        .map(|s| s.service.as_str())
        .collect();
    for consumer in ["products", "payments", "orders"] {
        assert!(
            events.contains(&consumer),
            "{consumer} handled an event of the order in the trace: {events:?}"
        );
    }
}
