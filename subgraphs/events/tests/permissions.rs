//! Least privilege on the real broker: each service's own user (from
//! `events::permissions`) publishes only its own routing keys, reads only its
//! own queue and declares nothing, and still starts (the topology it uses is
//! checked, not declared).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use testkit::bus::TestBus;

/// Publishes an empty message as `url`'s user and waits for the broker's verdict.
async fn publish(url: &str, exchange: &str, key: &str) -> Result<(), lapin::Error> {
    testkit::bus::publish_as(url, exchange, key).await
}

async fn consume(url: &str, queue: String) -> Result<(), lapin::Error> {
    let conn = events::amqp::connect(url, "t-permissions").await?;
    let channel = conn.create_channel().await?;
    let outcome = channel
        .basic_consume(
            queue.into(),
            "t-permissions".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map(|_| ());
    let _ = conn.close(200, "done".into()).await;
    outcome
}

fn refused(outcome: Result<(), lapin::Error>) -> bool {
    outcome
        .as_ref()
        .is_err_and(events::topology::is_access_refused)
}

#[tokio::test]
async fn only_payments_may_announce_a_payment_and_each_service_reads_only_its_own_queues() {
    let bus = TestBus::new().await;
    let users = bus.provision_users().await;
    let topology = &bus.topology;
    let exchange = topology.exchange();

    publish(&users.url("payments"), &exchange, "payment.succeeded")
        .await
        .expect("payments announces a payment");
    for service in ["orders", "products", "users"] {
        let outcome = publish(&users.url(service), &exchange, "payment.succeeded").await;
        assert!(refused(outcome), "{service} announced a payment");
    }
    publish(&users.url("orders"), &exchange, "order.placed")
        .await
        .expect("orders announces an order");
    // The retry exchange: only a service's own retry key.
    publish(
        &users.url("orders"),
        &topology.retry_exchange(),
        "orders.retry",
    )
    .await
    .expect("orders schedules its own redelivery");
    let outcome = publish(
        &users.url("orders"),
        &topology.retry_exchange(),
        "payments.retry",
    )
    .await;
    assert!(refused(outcome), "orders redelivered into payments' queue");
    // The default exchange (straight into any queue) is closed to everyone.
    let outcome = publish(&users.url("orders"), "", &topology.queue("payments")).await;
    assert!(
        refused(outcome),
        "orders published through the default exchange"
    );

    consume(&users.url("orders"), topology.queue("orders"))
        .await
        .expect("orders reads its own queue");
    let outcome = consume(&users.url("orders"), topology.queue("payments")).await;
    assert!(refused(outcome), "orders read the payments queue");
    // Its own dead letters, for the saga inspector (list, replay), and no others.
    consume(
        &users.url("payments"),
        topology.dead_letter_queue("payments"),
    )
    .await
    .expect("payments reads its own dead-letter queue");
    let outcome = consume(&users.url("orders"), topology.dead_letter_queue("payments")).await;
    assert!(refused(outcome), "orders read the dead letters of payments");

    // No user may change the topology, yet each can start: it checks what it uses.
    let conn = events::amqp::connect(&users.url("orders"), "t-permissions")
        .await
        .unwrap();
    let declared = topology
        .declare(&conn.create_channel().await.unwrap())
        .await;
    assert!(refused(declared), "orders declared the topology");
    topology
        .ensure(&conn, Some("orders"))
        .await
        .expect("orders finds its exchanges and queue");
    let _ = conn.close(200, "done".into()).await;

    users.remove().await;
    bus.delete().await;
}
